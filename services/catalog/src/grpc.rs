//! The tonic service: per-method policies, request parsing, paging and the mapping of
//! catalog errors to gRPC statuses.

mod convert;
#[cfg(test)]
mod fuzz;
mod search;
mod status;

use std::sync::Arc;

use chrono::Utc;
use mandi_runtime::auth::{Caller, Policy, roles};
use mandi_runtime::errors;
use mandi_runtime::paging;
use mandi_sdk::proto::mandi::catalog::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

pub use convert::Currency;
use convert::{
    category_to_proto, new_category, parse_id, product_input, product_to_proto, review_to_proto,
    status_from_proto,
};
pub(crate) use convert::{nutrition_to_proto, origin_to_proto};
use search::facet_to_proto;
use status::{paging_status, to_status};

use crate::cache::CatalogCache;
use crate::domain::{CatalogError, NewReview, ProductChanges};
use crate::search::FacetField;
use crate::service::{Catalog, Viewer};
use crate::store::{CatalogStore, Cursor, ProductQuery};

const DOMAIN: &str = "mandi.catalog";

/// Who may call each method.
pub const POLICIES: &[(&str, Policy)] = &[
    ("GetProduct", Policy::Public),
    ("BatchGetProducts", Policy::Public),
    ("ListProducts", Policy::Public),
    ("SearchProducts", Policy::Public),
    ("SuggestProducts", Policy::Public),
    ("GetCategory", Policy::Public),
    ("ListCategories", Policy::Public),
    ("ListReviews", Policy::Public),
    (
        "CreateProduct",
        Policy::AnyRole(&[roles::VENDOR, roles::ADMIN]),
    ),
    (
        "UpdateProduct",
        Policy::AnyRole(&[roles::VENDOR, roles::ADMIN]),
    ),
    (
        "DeleteProduct",
        Policy::AnyRole(&[roles::VENDOR, roles::ADMIN]),
    ),
    ("CreateCategory", Policy::AnyRole(&[roles::ADMIN])),
    ("UpdateCategory", Policy::AnyRole(&[roles::ADMIN])),
    ("DeleteCategory", Policy::AnyRole(&[roles::ADMIN])),
    ("CreateReview", Policy::SignedIn),
];

/// Serves `mandi.catalog.v1.CatalogService`.
pub struct CatalogGrpc<S, C> {
    catalog: Arc<Catalog<S, C>>,
    currency: Currency,
}

impl<S, C> CatalogGrpc<S, C> {
    /// Serves `catalog`, pricing in `currency`.
    pub fn new(catalog: Arc<Catalog<S, C>>, currency: Currency) -> Self {
        Self { catalog, currency }
    }
}

fn viewer<T>(request: &Request<T>) -> Viewer {
    match request.extensions().get::<Caller>() {
        Some(caller) => Viewer {
            user_id: Some(caller.subject.clone()),
            admin: caller.has_role(roles::ADMIN),
            vendor: caller.has_role(roles::VENDOR),
        },
        None => Viewer::default(),
    }
}

fn request_id(value: &str) -> Result<Option<&str>, Status> {
    match value.len() {
        0 => Ok(None),
        1..=128 => Ok(Some(value)),
        _ => Err(errors::invalid_argument(
            DOMAIN,
            [("request_id", "must be at most 128 characters")],
        )),
    }
}

#[tonic::async_trait]
impl<S: CatalogStore, C: CatalogCache> pb::catalog_service_server::CatalogService
    for CatalogGrpc<S, C>
{
    async fn get_product(
        &self,
        request: Request<pb::GetProductRequest>,
    ) -> Result<Response<pb::GetProductResponse>, Status> {
        let viewer = viewer(&request);
        let id = parse_id("product_id", &request.get_ref().product_id).map_err(to_status)?;
        let product = self.catalog.product(&viewer, id).await.map_err(to_status)?;
        Ok(Response::new(pb::GetProductResponse {
            product: Some(product_to_proto(product, &self.currency, Utc::now())),
        }))
    }

    async fn batch_get_products(
        &self,
        request: Request<pb::BatchGetProductsRequest>,
    ) -> Result<Response<pb::BatchGetProductsResponse>, Status> {
        let viewer = viewer(&request);
        let req = request.into_inner();
        if req.product_ids.is_empty() || req.product_ids.len() > 100 {
            return Err(errors::invalid_argument(
                DOMAIN,
                [("product_ids", "must hold 1 to 100 ids")],
            ));
        }
        let ids = req
            .product_ids
            .iter()
            .map(|raw| parse_id("product_ids", raw))
            .collect::<Result<Vec<_>, _>>()
            .map_err(to_status)?;
        let (products, missing) = self
            .catalog
            .products(&viewer, &ids)
            .await
            .map_err(to_status)?;
        let now = Utc::now();
        Ok(Response::new(pb::BatchGetProductsResponse {
            products: products
                .into_iter()
                .map(|p| product_to_proto(p, &self.currency, now))
                .collect(),
            missing_ids: missing.iter().map(Uuid::to_string).collect(),
        }))
    }

    async fn list_products(
        &self,
        request: Request<pb::ListProductsRequest>,
    ) -> Result<Response<pb::ListProductsResponse>, Status> {
        let viewer = viewer(&request);
        let req = request.into_inner();
        let limit = paging::page_size(req.page_size, 50, 200).map_err(paging_status)?;
        let category_id = match req.category_id.as_str() {
            "" => None,
            id => Some(parse_id("category_id", id).map_err(to_status)?),
        };
        let status = status_from_proto(req.status).map_err(|()| {
            errors::invalid_argument(DOMAIN, [("status", "is not a known status")])
        })?;
        let query = ProductQuery {
            category_id,
            vendor_id: (!req.vendor_id.is_empty()).then(|| req.vendor_id.clone()),
            statuses: status.into_iter().collect(),
        };
        let fingerprint = paging::fingerprint(&(
            &req.category_id,
            &req.vendor_id,
            req.status,
            &viewer.user_id,
        ));
        let after: Option<Cursor> =
            paging::decode_token(&req.page_token, &fingerprint).map_err(paging_status)?;
        let mut products = self
            .catalog
            .list_products(&viewer, query, after, limit + 1)
            .await
            .map_err(to_status)?;
        let next_page_token =
            next_token(&mut products, limit, &fingerprint, |p| (p.created_at, p.id));
        let now = Utc::now();
        Ok(Response::new(pb::ListProductsResponse {
            products: products
                .into_iter()
                .map(|p| product_to_proto(p, &self.currency, now))
                .collect(),
            next_page_token,
        }))
    }

    async fn create_product(
        &self,
        request: Request<pb::CreateProductRequest>,
    ) -> Result<Response<pb::CreateProductResponse>, Status> {
        let viewer = viewer(&request);
        let req = request.into_inner();
        let request_id = request_id(&req.request_id)?;
        let product = req.product.unwrap_or_default();
        let input = product_input(&product, &self.currency, |_| true).map_err(to_status)?;
        let created = self
            .catalog
            .create_product(&viewer, input, request_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CreateProductResponse {
            product: Some(product_to_proto(created, &self.currency, Utc::now())),
        }))
    }

    async fn update_product(
        &self,
        request: Request<pb::UpdateProductRequest>,
    ) -> Result<Response<pb::UpdateProductResponse>, Status> {
        let viewer = viewer(&request);
        let req = request.into_inner();
        let request_id = request_id(&req.request_id)?;
        let product = req.product.clone().unwrap_or_default();
        let id = parse_id("product.id", &product.id).map_err(to_status)?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let changes = ProductChanges::parse(&paths).map_err(to_status)?;
        let input = product_input(&product, &self.currency, |path| changes.names(path))
            .map_err(to_status)?;
        let updated = self
            .catalog
            .update_product(
                &viewer,
                id,
                input,
                &changes,
                req.expected_version,
                request_id,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::UpdateProductResponse {
            product: Some(product_to_proto(updated, &self.currency, Utc::now())),
        }))
    }

    async fn delete_product(
        &self,
        request: Request<pb::DeleteProductRequest>,
    ) -> Result<Response<pb::DeleteProductResponse>, Status> {
        let viewer = viewer(&request);
        let req = request.into_inner();
        let request_id = request_id(&req.request_id)?;
        let id = parse_id("product_id", &req.product_id).map_err(to_status)?;
        let expected = (req.expected_version > 0).then_some(req.expected_version);
        self.catalog
            .delete_product(&viewer, id, expected, request_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::DeleteProductResponse {}))
    }

    async fn search_products(
        &self,
        request: Request<pb::SearchProductsRequest>,
    ) -> Result<Response<pb::SearchProductsResponse>, Status> {
        let req = request.into_inner();
        let (search, fingerprint) = self.search_request(&req)?;
        let results = self.catalog.search(&search).await.map_err(to_status)?;
        let tree = self.catalog.tree().await.map_err(to_status)?;
        let now = Utc::now();
        let facets = results
            .results
            .facets
            .iter()
            .map(|(field, counts)| pb::Facet {
                field: facet_to_proto(*field) as i32,
                buckets: counts
                    .iter()
                    .map(|count| pb::FacetBucket {
                        display_name: match field {
                            FacetField::Category => Uuid::parse_str(&count.value)
                                .ok()
                                .and_then(|id| tree.get(id))
                                .map(|c| c.fields.display_name.clone())
                                .unwrap_or_else(|| count.value.clone()),
                            _ => count.value.clone(),
                        },
                        value: count.value.clone(),
                        count: count.count as i64,
                    })
                    .collect(),
            })
            .collect();
        Ok(Response::new(pb::SearchProductsResponse {
            products: results
                .products
                .into_iter()
                .map(|p| product_to_proto(p, &self.currency, now))
                .collect(),
            facets,
            total_size: results.results.total as i64,
            next_page_token: results
                .results
                .next
                .map(|cursor| paging::encode_token(&cursor, &fingerprint))
                .unwrap_or_default(),
        }))
    }

    async fn suggest_products(
        &self,
        request: Request<pb::SuggestProductsRequest>,
    ) -> Result<Response<pb::SuggestProductsResponse>, Status> {
        let req = request.into_inner();
        let prefix = req.prefix.trim();
        if prefix.is_empty() || prefix.chars().count() > 100 {
            return Err(errors::invalid_argument(
                DOMAIN,
                [("prefix", "must be 1 to 100 characters")],
            ));
        }
        let limit = match req.max_suggestions {
            n if n < 0 => {
                return Err(errors::invalid_argument(
                    DOMAIN,
                    [("max_suggestions", "must not be negative")],
                ));
            }
            0 => 8,
            n => (n as usize).min(20),
        };
        let suggestions = self.catalog.suggest(prefix, limit).map_err(to_status)?;
        Ok(Response::new(pb::SuggestProductsResponse {
            suggestions: suggestions
                .into_iter()
                .map(|s| pb::Suggestion {
                    text: s.text,
                    product_id: s.product_id.map(|id| id.to_string()).unwrap_or_default(),
                    category_id: s.category_id.map(|id| id.to_string()).unwrap_or_default(),
                })
                .collect(),
        }))
    }

    async fn get_category(
        &self,
        request: Request<pb::GetCategoryRequest>,
    ) -> Result<Response<pb::GetCategoryResponse>, Status> {
        let id = parse_id("category_id", &request.get_ref().category_id).map_err(to_status)?;
        let tree = self.catalog.tree().await.map_err(to_status)?;
        let category = tree.get(id).ok_or_else(|| {
            to_status(CatalogError::NotFound {
                kind: "category",
                id: id.to_string(),
            })
        })?;
        Ok(Response::new(pb::GetCategoryResponse {
            category: Some(category_to_proto(category, tree.ancestors(id))),
        }))
    }

    async fn list_categories(
        &self,
        request: Request<pb::ListCategoriesRequest>,
    ) -> Result<Response<pb::ListCategoriesResponse>, Status> {
        let req = request.into_inner();
        let limit = paging::page_size(req.page_size, 50, 200).map_err(paging_status)?;
        let parent = match req.parent_id.as_deref() {
            None => None,
            Some("") => Some(None),
            Some(id) => Some(Some(parse_id("parent_id", id).map_err(to_status)?)),
        };
        let fingerprint = paging::fingerprint(&req.parent_id);
        let offset: usize = paging::decode_token(&req.page_token, &fingerprint)
            .map_err(paging_status)?
            .unwrap_or(0);
        let tree = self.catalog.tree().await.map_err(to_status)?;
        let matching: Vec<_> = tree
            .sorted()
            .into_iter()
            .filter(|c| parent.is_none_or(|p| c.fields.parent_id == p))
            .collect();
        let page: Vec<_> = matching.iter().skip(offset).take(limit).collect();
        let next = offset + page.len();
        Ok(Response::new(pb::ListCategoriesResponse {
            categories: page
                .iter()
                .map(|c| category_to_proto(c, tree.ancestors(c.id)))
                .collect(),
            // Categories are few and ordered by (sort_order, name): an offset is stable
            // enough between pages of an admin-curated tree.
            next_page_token: if next < matching.len() {
                paging::encode_token(&next, &fingerprint)
            } else {
                String::new()
            },
        }))
    }

    async fn create_category(
        &self,
        request: Request<pb::CreateCategoryRequest>,
    ) -> Result<Response<pb::CreateCategoryResponse>, Status> {
        let viewer = viewer(&request);
        let req = request.into_inner();
        let request_id = request_id(&req.request_id)?;
        let fields = new_category(&req.category.unwrap_or_default()).map_err(to_status)?;
        let created = self
            .catalog
            .create_category(&viewer, fields, request_id)
            .await
            .map_err(to_status)?;
        let ancestors = self
            .catalog
            .tree()
            .await
            .map_err(to_status)?
            .ancestors(created.id);
        Ok(Response::new(pb::CreateCategoryResponse {
            category: Some(category_to_proto(&created, ancestors)),
        }))
    }

    async fn update_category(
        &self,
        request: Request<pb::UpdateCategoryRequest>,
    ) -> Result<Response<pb::UpdateCategoryResponse>, Status> {
        let viewer = viewer(&request);
        let req = request.into_inner();
        request_id(&req.request_id)?;
        let proto = req.category.unwrap_or_default();
        let id = parse_id("category.id", &proto.id).map_err(to_status)?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let current = self.catalog.category(id).await.map_err(to_status)?;
        let new = new_category(&proto).map_err(to_status)?;
        let merged = current.fields.merge(new, &paths).map_err(to_status)?;
        let updated = self
            .catalog
            .update_category(&viewer, id, merged)
            .await
            .map_err(to_status)?;
        let ancestors = self.catalog.tree().await.map_err(to_status)?.ancestors(id);
        Ok(Response::new(pb::UpdateCategoryResponse {
            category: Some(category_to_proto(&updated, ancestors)),
        }))
    }

    async fn delete_category(
        &self,
        request: Request<pb::DeleteCategoryRequest>,
    ) -> Result<Response<pb::DeleteCategoryResponse>, Status> {
        let viewer = viewer(&request);
        let req = request.into_inner();
        request_id(&req.request_id)?;
        let id = parse_id("category_id", &req.category_id).map_err(to_status)?;
        self.catalog
            .delete_category(&viewer, id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::DeleteCategoryResponse {}))
    }

    async fn create_review(
        &self,
        request: Request<pb::CreateReviewRequest>,
    ) -> Result<Response<pb::CreateReviewResponse>, Status> {
        let viewer = viewer(&request);
        let req = request.into_inner();
        let request_id = request_id(&req.request_id)?;
        let review = req.review.unwrap_or_default();
        let new = NewReview {
            product_id: parse_id("review.product_id", &review.product_id).map_err(to_status)?,
            rating: review.rating,
            title: review.title,
            text: review.text,
        };
        let created = self
            .catalog
            .create_review(&viewer, new, request_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CreateReviewResponse {
            review: Some(review_to_proto(&created)),
        }))
    }

    async fn list_reviews(
        &self,
        request: Request<pb::ListReviewsRequest>,
    ) -> Result<Response<pb::ListReviewsResponse>, Status> {
        let req = request.into_inner();
        let product = parse_id("product_id", &req.product_id).map_err(to_status)?;
        let limit = paging::page_size(req.page_size, 20, 100).map_err(paging_status)?;
        let fingerprint = paging::fingerprint(&req.product_id);
        let after: Option<Cursor> =
            paging::decode_token(&req.page_token, &fingerprint).map_err(paging_status)?;
        let mut reviews = self
            .catalog
            .reviews(product, after, limit + 1)
            .await
            .map_err(to_status)?;
        let next_page_token =
            next_token(&mut reviews, limit, &fingerprint, |r| (r.created_at, r.id));
        Ok(Response::new(pb::ListReviewsResponse {
            reviews: reviews.iter().map(review_to_proto).collect(),
            next_page_token,
        }))
    }
}

/// Trims a `limit + 1` fetch to `limit` and makes the token for the next page.
fn next_token<T>(
    items: &mut Vec<T>,
    limit: usize,
    fingerprint: &str,
    key: impl Fn(&T) -> Cursor,
) -> String {
    if items.len() <= limit {
        return String::new();
    }
    items.truncate(limit);
    items
        .last()
        .map(|last| paging::encode_token(&key(last), fingerprint))
        .unwrap_or_default()
}

/// The importer's entry to the edge conversion: a file row is checked like a create.
pub(crate) fn product_input_for_import(
    product: &pb::Product,
    currency: &Currency,
) -> Result<crate::domain::ProductInput, CatalogError> {
    product_input(product, currency, |_| true)
}
