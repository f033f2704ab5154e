//! Who owns a product: the port inventory asks before a vendor may manage its stock, the
//! catalog adapter that answers over the SDK, and an in-memory twin for tests.

use std::collections::HashMap;
use std::future::Future;

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::catalog::v1::{GetProductRequest, ListProductsRequest};
use tonic::Code;
use tonic::metadata::MetadataValue;
use uuid::Uuid;

use crate::domain::InventoryError;

/// Answers which vendor owns a product.
pub trait ProductOwners: Send + Sync + 'static {
    /// Ids of the products `vendor` owns, in any status, at most [`MAX_VENDOR_PRODUCTS`].
    fn products_of(
        &self,
        vendor: &str,
        bearer: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Uuid>, InventoryError>> + Send;

    /// The owning vendor's user id; `None` when the catalog does not know the product.
    /// `bearer` is the caller's `authorization` value, forwarded so vendors can see their
    /// own drafts.
    fn owner_of(
        &self,
        product: Uuid,
        bearer: Option<&str>,
    ) -> impl Future<Output = Result<Option<String>, InventoryError>> + Send;
}

/// Asks catalog's public GetProduct through the SDK.
/// Most products a vendor's own listings (ListLowStock) look at.
pub const MAX_VENDOR_PRODUCTS: usize = 1000;

#[derive(Clone, Debug)]
pub struct CatalogOwners {
    mandi: Mandi,
}

impl CatalogOwners {
    /// Wraps a client whose catalog endpoint is set; it sends no token of its own.
    pub fn new(mandi: Mandi) -> Self {
        Self { mandi }
    }
}

impl ProductOwners for CatalogOwners {
    async fn products_of(
        &self,
        vendor: &str,
        bearer: Option<&str>,
    ) -> Result<Vec<Uuid>, InventoryError> {
        let mut ids = Vec::new();
        let mut page_token = String::new();
        loop {
            let mut request = tonic::Request::new(ListProductsRequest {
                vendor_id: vendor.to_owned(),
                page_size: 200,
                page_token: page_token.clone(),
                ..Default::default()
            });
            if let Some(value) = bearer.and_then(|b| MetadataValue::try_from(b).ok()) {
                // With the vendor's own token the catalog lists their drafts too.
                request.metadata_mut().insert("authorization", value);
            }
            let page = self
                .mandi
                .catalog()
                .list_products(request)
                .await
                .map_err(|status| {
                    InventoryError::CatalogUnavailable(format!(
                        "{:?}: {}",
                        status.code(),
                        status.message()
                    ))
                })?
                .into_inner();
            ids.extend(
                page.products
                    .iter()
                    .filter_map(|p| Uuid::parse_str(&p.id).ok()),
            );
            if page.next_page_token.is_empty() || ids.len() >= MAX_VENDOR_PRODUCTS {
                ids.truncate(MAX_VENDOR_PRODUCTS);
                return Ok(ids);
            }
            page_token = page.next_page_token;
        }
    }

    async fn owner_of(
        &self,
        product: Uuid,
        bearer: Option<&str>,
    ) -> Result<Option<String>, InventoryError> {
        let mut request = tonic::Request::new(GetProductRequest {
            product_id: product.to_string(),
        });
        if let Some(value) = bearer.and_then(|b| MetadataValue::try_from(b).ok()) {
            // The SDK keeps an authorization the caller set: the vendor's own token.
            request.metadata_mut().insert("authorization", value);
        }
        match self.mandi.catalog().get_product(request).await {
            Ok(response) => Ok(response
                .into_inner()
                .product
                .map(|p| p.vendor_id)
                .filter(|v| !v.is_empty())),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(InventoryError::CatalogUnavailable(format!(
                "{:?}: {}",
                status.code(),
                status.message()
            ))),
        }
    }
}

/// Fixed owners, for tests.
#[derive(Clone, Debug, Default)]
pub struct StaticOwners(pub HashMap<Uuid, String>);

impl ProductOwners for StaticOwners {
    async fn products_of(
        &self,
        vendor: &str,
        _bearer: Option<&str>,
    ) -> Result<Vec<Uuid>, InventoryError> {
        let mut ids: Vec<Uuid> = self
            .0
            .iter()
            .filter(|(_, owner)| owner.as_str() == vendor)
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        Ok(ids)
    }

    async fn owner_of(
        &self,
        product: Uuid,
        _bearer: Option<&str>,
    ) -> Result<Option<String>, InventoryError> {
        Ok(self.0.get(&product).cloned())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn static_owners_know_only_their_products() {
        let product = Uuid::now_v7();
        let owners = StaticOwners(HashMap::from([(product, "vendor-1".to_owned())]));
        assert_eq!(
            owners.owner_of(product, None).await.unwrap().as_deref(),
            Some("vendor-1")
        );
        assert_eq!(owners.owner_of(Uuid::now_v7(), None).await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_unreachable_catalog_is_unavailable() {
        let mandi = Mandi::builder()
            .endpoint("http://127.0.0.1:1")
            .connect_lazy()
            .unwrap();
        let err = CatalogOwners::new(mandi)
            .owner_of(Uuid::now_v7(), None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, InventoryError::CatalogUnavailable(_)),
            "{err}"
        );
    }
}
