#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use mongodb::bson::{self, doc};
use mongodb::error::{CommandError, Error, ErrorKind, WriteError, WriteFailure};

use super::documents::{Int64, ProductDoc};
use super::errors::{REVIEW_UNIQUE, SLUG_AND_REQUEST_ID, backend, write_error};
use crate::store::StoreError;

fn duplicate_on(index: &str) -> Error {
    let message = format!(
        "E11000 duplicate key error collection: mandi.products index: {index} dup key: {{ x: \"a\" }}"
    );
    let write: WriteError = bson::from_document(doc! { "code": 11000, "errmsg": message }).unwrap();
    ErrorKind::Write(WriteFailure::WriteError(write)).into()
}

#[test]
fn integers_read_back_from_int32_int64_and_integral_doubles() {
    #[derive(serde::Deserialize)]
    struct Holder {
        n: Int64,
    }
    let read = |value: bson::Bson| bson::from_document::<Holder>(doc! { "n": value }).map(|h| h.n);
    assert_eq!(read(bson::Bson::Int32(7)).unwrap(), Int64(7));
    assert_eq!(read(bson::Bson::Int64(1 << 40)).unwrap(), Int64(1 << 40));
    // What CongoDB returns for an Int64 beyond 32 bits.
    assert_eq!(read(bson::Bson::Double(5e9)).unwrap(), Int64(5_000_000_000));
    assert!(read(bson::Bson::Double(1.5)).is_err());
    assert!(read(bson::Bson::Double(f64::NAN)).is_err());
    assert!(read(bson::Bson::String("7".into())).is_err());
}

#[test]
fn integers_are_written_as_int64() {
    assert_eq!(bson::to_bson(&Int64(3)).unwrap(), bson::Bson::Int64(3));
}

#[test]
fn a_stored_document_with_narrowed_numbers_is_still_a_product() {
    let at = chrono::DateTime::from_timestamp_millis(1_750_000_000_123).unwrap();
    let product = crate::domain::Product {
        id: uuid::Uuid::now_v7(),
        input: crate::domain::ProductInput {
            display_name: "Walnuts".into(),
            slug: "walnuts".into(),
            description: String::new(),
            category_id: uuid::Uuid::now_v7(),
            vendor_id: "vendor-1".into(),
            unit_of_sale: crate::domain::UnitOfSale::HundredGrams,
            price: crate::domain::Minor(3_000_000_000),
            compare_at_price: None,
            min_quantity: 0,
            max_quantity: 0,
            quantity_step: 0,
            unit_weight_grams: 0,
            image_urls: vec![],
            origin: crate::domain::Origin::default(),
            organic: true,
            season_months: vec![10, 11],
            shelf_life_days: 180,
            storage_condition: crate::domain::StorageCondition::RoomTemperature,
            nutrition: None,
            tags: vec![],
            status: crate::domain::ProductStatus::Active,
        },
        rating: crate::domain::RatingSummary { count: 2, sum: 9 },
        created_at: at,
        updated_at: at,
        version: 3,
    };
    let mut stored = bson::to_document(&ProductDoc::new(&product, Some("req"))).unwrap();
    // Absent optionals are written as null so a `$set` clears them.
    assert_eq!(stored.get("compare_at_price"), Some(&bson::Bson::Null));
    stored.insert("price", 3e9);
    stored.insert("version", 3_i32);
    let back: ProductDoc = bson::from_document(stored).unwrap();
    assert_eq!(back.into_product().unwrap(), product);
}

#[test]
fn duplicate_keys_are_the_conflict_of_their_index() {
    let conflict = |error, unique| match write_error(error, unique) {
        StoreError::Conflict(what) => what,
        other => panic!("expected a conflict, got {other:?}"),
    };
    assert_eq!(
        conflict(duplicate_on("slug_unique"), SLUG_AND_REQUEST_ID),
        "slug"
    );
    assert_eq!(
        conflict(duplicate_on("request_id_unique"), SLUG_AND_REQUEST_ID),
        "request_id"
    );
    assert_eq!(
        conflict(duplicate_on("product_author_unique"), REVIEW_UNIQUE),
        "author"
    );
    assert!(matches!(
        write_error(duplicate_on("id_unique"), SLUG_AND_REQUEST_ID),
        StoreError::Failed(_)
    ));
}

#[test]
fn driver_errors_are_classified_by_what_a_retry_could_do() {
    let io: Error = ErrorKind::Io(Arc::new(std::io::ErrorKind::ConnectionRefused.into())).into();
    assert!(matches!(backend(io), StoreError::Unavailable(_)));

    let command = |code: i32| -> Error {
        let error: CommandError =
            bson::from_document(doc! { "code": code, "codeName": "X", "errmsg": "m" }).unwrap();
        ErrorKind::Command(error).into()
    };
    assert!(
        matches!(backend(command(10107)), StoreError::Unavailable(_)),
        "not writable primary"
    );
    assert!(matches!(backend(command(1)), StoreError::Failed(_)));

    let unreadable = bson::from_document::<ProductDoc>(doc! { "id": 1 }).unwrap_err();
    let corrupt: Error = ErrorKind::BsonDeserialization(unreadable).into();
    assert!(matches!(backend(corrupt), StoreError::Corrupt(_)));
}
