//! Stock changes publish what they cross: StockLow when availability falls to the
//! threshold, StockAvailabilityChanged when a product sells out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mandi_inventory::domain::{Location, NewBatch, NewWarehouse, ReservationLine, ReserveRequest};
use mandi_inventory::events::InventoryEvents;
use mandi_inventory::stock_watch::StockWatch;
use mandi_inventory::store::InventoryStore;
use mandi_inventory::store::memory::MemoryStore;
use mandi_runtime::events::InProcessPublisher;
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use uuid::Uuid;

fn now() -> DateTime<Utc> {
    Utc::now()
}

#[tokio::test]
async fn selling_down_to_the_threshold_and_out_publishes_stock_low_then_sold_out() {
    let store = Arc::new(MemoryStore::default());
    let warehouse = NewWarehouse {
        code: "BLR1".into(),
        name: "Bengaluru".into(),
        location: Location {
            line1: "1 Market Road".into(),
            city: "Bengaluru".into(),
            country_code: "IN".into(),
            ..Location::default()
        },
        cold_storage: false,
    }
    .into_warehouse(now())
    .unwrap();
    store.create_warehouse(&warehouse).await.unwrap();
    let product = Uuid::now_v7();
    let batch = NewBatch {
        product_id: product,
        warehouse_id: warehouse.id,
        quantity: 15,
        received_at: None,
        expires_at: now() + Duration::days(5),
        supplier_ref: "FARM-1".into(),
        cold_chain: false,
        unit_cost_minor: None,
    }
    .into_batch(now())
    .unwrap();
    store.receive_batch(&batch).await.unwrap();

    let publisher = InProcessPublisher::default();
    let mut events = publisher.subscribe();
    let watch = StockWatch::new(store.clone(), InventoryEvents::new(publisher), 10);

    let reserve = |quantity| {
        ReserveRequest::new(
            Uuid::now_v7(),
            vec![ReservationLine {
                product_id: product,
                quantity,
            }],
            true,
            Some(Duration::minutes(15)),
        )
        .unwrap()
    };
    // 15 → 9: crosses the threshold of 10.
    let before = watch.before(&[product]).await;
    store.reserve(&reserve(6), now()).await.unwrap();
    watch.after(before).await;
    // 9 → 0: sold out.
    let before = watch.before(&[product]).await;
    store.reserve(&reserve(9), now()).await.unwrap();
    watch.after(before).await;

    let first = events.try_recv().unwrap();
    assert_eq!(first.key, product.to_string());
    match first.envelope.payload {
        Some(Payload::StockLow(low)) => {
            assert_eq!((low.available_quantity, low.low_stock_threshold), (9, 10));
        }
        other => panic!("expected StockLow, got {other:?}"),
    }
    let second = events.try_recv().unwrap();
    match second.envelope.payload {
        Some(Payload::StockAvailabilityChanged(changed)) => {
            assert_eq!(changed.available_quantity, 0);
            assert!(!changed.in_stock);
        }
        other => panic!("expected StockAvailabilityChanged, got {other:?}"),
    }
    assert!(events.try_recv().is_err(), "nothing else was crossed");
}
