//! The indexes `prepare` creates: every lookup by a unique value, and each listing filter
//! followed by the newest-first keyset order (`created_at`, `id` descending) that the
//! cursor walks. The seeds ask for category, price, created_at and vendor indexes and a
//! unique slug; id, request id, status and the review indexes serve this adapter's
//! queries.

use mongodb::IndexModel;
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;

use super::MongoStore;
use super::errors::{
    AUTHOR_INDEX, ID_INDEX, REQUEST_ID_INDEX, REQUEST_KEY_INDEX, SLUG_INDEX, backend,
};
use crate::store::StoreError;

/// Creates the indexes; creating an existing index with the same options is a no-op.
pub(super) async fn create(store: &MongoStore) -> Result<(), StoreError> {
    store
        .products
        .create_indexes([
            unique_index(ID_INDEX, doc! { "id": 1 }),
            unique_index(SLUG_INDEX, doc! { "slug": 1 }),
            sparse_unique_index(REQUEST_ID_INDEX, doc! { "request_id": 1 }),
            // Each listing filter, newest first: the keyset cursor walks these.
            index("created", doc! { "created_at": -1, "id": -1 }),
            index(
                "category_created",
                doc! { "category_id": 1, "created_at": -1, "id": -1 },
            ),
            index(
                "vendor_created",
                doc! { "vendor_id": 1, "created_at": -1, "id": -1 },
            ),
            index(
                "status_created",
                doc! { "status": 1, "created_at": -1, "id": -1 },
            ),
            index("price", doc! { "price": 1 }),
        ])
        .await
        .map_err(backend)?;
    store
        .categories
        .create_indexes([
            unique_index(ID_INDEX, doc! { "id": 1 }),
            unique_index(SLUG_INDEX, doc! { "slug": 1 }),
            sparse_unique_index(REQUEST_ID_INDEX, doc! { "request_id": 1 }),
        ])
        .await
        .map_err(backend)?;
    store
        .requests
        .create_indexes([unique_index(REQUEST_KEY_INDEX, doc! { "key": 1 })])
        .await
        .map_err(backend)?;
    store
        .reviews
        .create_indexes([
            unique_index(ID_INDEX, doc! { "id": 1 }),
            unique_index(AUTHOR_INDEX, doc! { "product_id": 1, "author_id": 1 }),
            sparse_unique_index(REQUEST_ID_INDEX, doc! { "request_id": 1 }),
            index(
                "product_created",
                doc! { "product_id": 1, "created_at": -1, "id": -1 },
            ),
        ])
        .await
        .map_err(backend)?;
    Ok(())
}

fn index(name: &str, keys: Document) -> IndexModel {
    IndexModel::builder()
        .keys(keys)
        .options(IndexOptions::builder().name(name.to_owned()).build())
        .build()
}

fn unique_index(name: &str, keys: Document) -> IndexModel {
    IndexModel::builder()
        .keys(keys)
        .options(
            IndexOptions::builder()
                .name(name.to_owned())
                .unique(true)
                .build(),
        )
        .build()
}

/// Unique among documents that have the field: request ids are optional.
fn sparse_unique_index(name: &str, keys: Document) -> IndexModel {
    IndexModel::builder()
        .keys(keys)
        .options(
            IndexOptions::builder()
                .name(name.to_owned())
                .unique(true)
                .sparse(true)
                .build(),
        )
        .build()
}
