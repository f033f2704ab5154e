//! Stock policies: per-product low-stock threshold and expiry warning lead time, with the
//! configured defaults for products that never had one stored.

use std::collections::HashMap;

use chrono::Utc;
use mandi_sdk::proto::mandi::inventory::v1 as pb;
use tonic::Status;
use uuid::Uuid;

use super::InventoryGrpc;
use super::convert::{parse_id, policy_to_proto};
use super::idempotency::Idempotency;
use super::status::to_status;
use crate::domain::{InventoryError, StockPolicy};
use crate::store::InventoryStore;

/// Fields UpdateStockPolicy may change.
const LOW_STOCK_THRESHOLD: &str = "low_stock_threshold";
const EXPIRY_WARNING_DAYS: &str = "expiry_warning_days";

// === impl InventoryGrpc ===

impl<S: InventoryStore, P, O> InventoryGrpc<S, P, O> {
    fn default_policy(&self, product_id: Uuid) -> StockPolicy {
        StockPolicy::defaults(
            product_id,
            self.settings.low_stock_threshold,
            self.settings.expiry_warning_days,
        )
    }

    /// The product's stored policy, or the configured defaults.
    pub(super) async fn policy_of(&self, product_id: Uuid) -> Result<StockPolicy, Status> {
        Ok(self
            .store
            .stock_policy(product_id)
            .await
            .map_err(to_status)?
            .unwrap_or_else(|| self.default_policy(product_id)))
    }

    /// The low-stock threshold of each product: its own policy's, else the default.
    pub(super) async fn thresholds(&self, product_ids: &[Uuid]) -> Result<Thresholds, Status> {
        let own = self
            .store
            .stock_policies(product_ids)
            .await
            .map_err(to_status)?
            .into_iter()
            .map(|p| (p.product_id, p.low_stock_threshold))
            .collect();
        Ok(Thresholds {
            own,
            default: self.settings.low_stock_threshold,
        })
    }

    pub(super) async fn get_policy(
        &self,
        request: pb::GetStockPolicyRequest,
    ) -> Result<pb::GetStockPolicyResponse, Status> {
        let product_id = parse_id("product_id", &request.product_id).map_err(to_status)?;
        let policy = self.policy_of(product_id).await?;
        Ok(pb::GetStockPolicyResponse {
            policy: Some(policy_to_proto(policy)),
        })
    }

    pub(super) async fn update_policy(
        &self,
        subject: &str,
        request: pb::UpdateStockPolicyRequest,
    ) -> Result<pb::UpdateStockPolicyResponse, Status> {
        let idempotency = Idempotency::of(
            "UpdateStockPolicy",
            subject,
            &request.request_id,
            &request,
            |r| r.request_id.clear(),
        )?;
        let changes = request.policy.unwrap_or_default();
        let product_id = parse_id("policy.product_id", &changes.product_id).map_err(to_status)?;
        if let Some(product) = self.already_done(&idempotency).await? {
            let policy = self.policy_of(product).await?;
            return Ok(pb::UpdateStockPolicyResponse {
                policy: Some(policy_to_proto(policy)),
            });
        }
        let paths = request.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths.is_empty() {
            return Err(to_status(InventoryError::invalid(
                "update_mask",
                format!("must name at least one of {LOW_STOCK_THRESHOLD}, {EXPIRY_WARNING_DAYS}"),
            )));
        }
        let mut policy = self.policy_of(product_id).await?;
        for path in &paths {
            match path.as_str() {
                LOW_STOCK_THRESHOLD => policy.low_stock_threshold = changes.low_stock_threshold,
                EXPIRY_WARNING_DAYS => policy.expiry_warning_days = changes.expiry_warning_days,
                other => {
                    return Err(to_status(InventoryError::invalid(
                        "update_mask",
                        format!(
                            "cannot update {other:?}: only {LOW_STOCK_THRESHOLD} and \
                             {EXPIRY_WARNING_DAYS} may change"
                        ),
                    )));
                }
            }
        }
        policy
            .validate()
            .map_err(|v| to_status(InventoryError::Invalid(v)))?;
        // Whole microseconds: what PostgreSQL keeps, so the answer matches a later read.
        let now = Utc::now();
        policy.updated_at = chrono::DateTime::from_timestamp_micros(now.timestamp_micros());
        self.store
            .put_stock_policy(&policy)
            .await
            .map_err(to_status)?;
        self.remember(idempotency, product_id).await?;
        Ok(pb::UpdateStockPolicyResponse {
            policy: Some(policy_to_proto(policy)),
        })
    }
}

/// Low-stock thresholds of the products asked about.
pub(super) struct Thresholds {
    own: HashMap<Uuid, i64>,
    default: i64,
}

impl Thresholds {
    /// The threshold that applies to `product_id`.
    pub(super) fn of(&self, product_id: Uuid) -> i64 {
        self.own.get(&product_id).copied().unwrap_or(self.default)
    }
}
