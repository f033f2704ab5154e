//! Demo stock for the embedded default (`make run`), so a shopper can check out the demo
//! catalog at once: two Bengaluru warehouses (one with cold storage) and one fresh batch
//! of every active catalog product. Product ids are made by the catalog when it imports
//! its demo file, so they are read from the catalog (over the SDK, like any other call
//! between services) once it answers.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::catalog::v1::{
    ListProductsRequest, Product, ProductStatus, StorageCondition,
};
use mandi_sdk::proto::mandi::common::v1::UnitOfSale;
use uuid::Uuid;

use crate::domain::{Batch, GeoPoint, Location, Warehouse};
use crate::store::InventoryStore;

/// How long to wait for the catalog in this process to answer.
const CATALOG_WAIT: Duration = Duration::from_secs(60);

/// Stocks the demo in the background; logs what it did.
pub fn spawn<S: InventoryStore>(store: Arc<S>, catalog: Mandi) {
    tokio::spawn(async move {
        match seed(store.as_ref(), &catalog).await {
            Ok(batches) => tracing::info!(batches, "inventory stocked with demo batches"),
            Err(error) => tracing::warn!(%error, "no demo stock"),
        }
    });
}

/// Creates the demo warehouses and a batch per active product; the number of batches.
pub async fn seed<S: InventoryStore>(store: &S, catalog: &Mandi) -> Result<usize, String> {
    let products = active_products(catalog).await?;
    let now = Utc::now();
    let ambient = warehouse("BLR-DEMO", "Bengaluru Yeshwanthpur Market", false, now);
    let cold = warehouse("BLR-COLD", "Bengaluru Cold Store", true, now);
    for w in [&ambient, &cold] {
        store
            .create_warehouse(w)
            .await
            .map_err(|e| format!("cannot create demo warehouse {}: {e}", w.code))?;
    }
    let mut stocked = 0;
    for product in &products {
        let Ok(product_id) = Uuid::parse_str(&product.id) else {
            continue;
        };
        let cold_chain = matches!(
            product.storage_condition(),
            StorageCondition::Chilled | StorageCondition::Frozen
        );
        let batch = Batch {
            id: Uuid::now_v7(),
            product_id,
            warehouse_id: if cold_chain { cold.id } else { ambient.id },
            received_quantity: demo_quantity(product),
            on_hand_quantity: demo_quantity(product),
            reserved_quantity: 0,
            received_at: now,
            // Fresh from the farm: the product's whole shelf life ahead (at least 2 days,
            // so a demo started today still sells tomorrow).
            expires_at: now + chrono::Duration::days(i64::from(product.shelf_life_days.max(2))),
            supplier_ref: "DEMO-FARM-1".into(),
            cold_chain,
            unit_cost_minor: None,
            written_off: false,
        };
        store
            .receive_batch(&batch)
            .await
            .map_err(|e| format!("cannot stock {}: {e}", product.slug))?;
        stocked += 1;
    }
    Ok(stocked)
}

/// 50 kg of weight-priced produce (quantities are grams), else 60 units.
fn demo_quantity(product: &Product) -> i64 {
    match product.unit_of_sale() {
        UnitOfSale::Kilogram | UnitOfSale::HundredGrams => 50_000,
        _ => 60,
    }
}

fn warehouse(code: &str, name: &str, cold_storage: bool, now: chrono::DateTime<Utc>) -> Warehouse {
    Warehouse {
        id: Uuid::now_v7(),
        code: code.into(),
        name: name.into(),
        location: Location {
            line1: "APMC Yard, Tumkur Road".into(),
            line2: String::new(),
            city: "Bengaluru".into(),
            region: "Karnataka".into(),
            postal_code: "560022".into(),
            country_code: "IN".into(),
            geo: Some(GeoPoint {
                latitude_e6: 13_028_000,
                longitude_e6: 77_540_000,
            }),
        },
        cold_storage,
        active: true,
        created_at: now,
    }
}

/// Every active product, once the catalog answers (it starts in the same process).
async fn active_products(catalog: &Mandi) -> Result<Vec<Product>, String> {
    let started = std::time::Instant::now();
    let mut products = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = ListProductsRequest {
            status: ProductStatus::Active as i32,
            page_size: 100,
            page_token: page_token.clone(),
            ..Default::default()
        };
        match catalog.catalog().list_products(request).await {
            Ok(response) => {
                let page = response.into_inner();
                products.extend(page.products);
                if page.next_page_token.is_empty() {
                    return Ok(products);
                }
                page_token = page.next_page_token;
            }
            Err(status) if started.elapsed() < CATALOG_WAIT => {
                tracing::debug!(%status, "catalog not answering yet");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(status) => return Err(format!("catalog did not list products: {status}")),
        }
    }
}
