//! Inventory over the SDK: availability of many products in one public
//! BatchGetAvailability call.

use std::collections::HashMap;
use std::time::Duration;

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::inventory::v1::BatchGetAvailabilityRequest;
use uuid::Uuid;

use super::{Inventory, PeerUnavailable};

/// Most ids one BatchGetAvailability takes (inventory's contract).
const BATCH: usize = 200;

/// Asks inventory through the SDK, each call bounded by `timeout`.
pub struct SdkInventory {
    mandi: Mandi,
    timeout: Duration,
}

impl SdkInventory {
    /// Asks through `mandi` (whose inventory endpoint is set), giving up after `timeout`.
    pub fn new(mandi: Mandi, timeout: Duration) -> Self {
        Self { mandi, timeout }
    }
}

impl Inventory for SdkInventory {
    async fn available(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, i64>, PeerUnavailable> {
        let mut levels = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH) {
            let mut client = self.mandi.inventory();
            let call = client.batch_get_availability(BatchGetAvailabilityRequest {
                product_ids: chunk.iter().map(Uuid::to_string).collect(),
            });
            let reply = super::ask("inventory", self.timeout, call).await?;
            for a in reply.availabilities {
                if let Ok(id) = Uuid::parse_str(&a.product_id) {
                    levels.insert(id, a.available_quantity);
                }
            }
        }
        Ok(levels)
    }
}
