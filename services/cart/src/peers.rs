//! The services the cart asks: the catalog for products (price, unit, category, limits)
//! and inventory for availability. Both over the SDK in production (`catalog`,
//! `inventory`), with fixed in-memory twins for tests and benchmarks (`fixed`).

pub mod catalog;
pub mod fixed;
pub mod inventory;

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use uuid::Uuid;

use crate::domain::Product;

/// A peer did not answer (down, too slow, or it refused the call).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{service} did not answer: {reason}")]
pub struct PeerUnavailable {
    /// `catalog` or `inventory`.
    pub service: &'static str,
    /// What happened.
    pub reason: String,
}

/// Products as the catalog describes them now.
pub trait Catalog: Send + Sync + 'static {
    /// The products among `ids` the catalog knows (drafts and deleted ones are absent).
    fn products(
        &self,
        ids: &[Uuid],
    ) -> impl Future<Output = Result<HashMap<Uuid, Product>, PeerUnavailable>> + Send;
}

/// Stock as inventory reports it now.
pub trait Inventory: Send + Sync + 'static {
    /// The quantity available now of each of `ids` (0 for products never stocked).
    fn available(
        &self,
        ids: &[Uuid],
    ) -> impl Future<Output = Result<HashMap<Uuid, i64>, PeerUnavailable>> + Send;
}

/// Awaits one call to `service`, giving up after `timeout`; any refusal counts as the
/// peer not answering, since the cart can only report what it could not check.
async fn ask<T>(
    service: &'static str,
    timeout: Duration,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, PeerUnavailable> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => Err(PeerUnavailable {
            service,
            reason: format!("{:?}: {}", status.code(), status.message()),
        }),
        Err(_) => Err(PeerUnavailable {
            service,
            reason: format!("no answer within {timeout:?}"),
        }),
    }
}
