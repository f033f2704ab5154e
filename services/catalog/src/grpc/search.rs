//! SearchProducts requests: checking and converting filters, sort and facets, and the
//! fingerprint their page tokens carry.

use mandi_runtime::errors;
use mandi_runtime::paging;
use mandi_sdk::proto::mandi::catalog::v1 as pb;
use tonic::{Code, Status};
use uuid::Uuid;

use super::status::{paging_status, to_status};
use super::{CatalogGrpc, DOMAIN};
use crate::cache::CatalogCache;
use crate::domain::Violations;
use crate::search::{FacetField, SearchCursor, SearchFilter, SearchRequest, SortOrder};
use crate::store::CatalogStore;

impl<S: CatalogStore, C: CatalogCache> CatalogGrpc<S, C> {
    /// The domain search request and the fingerprint its page tokens carry.
    pub(super) fn search_request(
        &self,
        req: &pb::SearchProductsRequest,
    ) -> Result<(SearchRequest, String), Status> {
        let mut v = Violations::default();
        v.check(
            req.query.chars().count() > 200,
            "query",
            "must be at most 200 characters",
        );
        let filter = req.filter.clone().unwrap_or_default();
        if filter.in_stock.is_some() {
            return Err(errors::status(
                Code::FailedPrecondition,
                "the in_stock filter needs the inventory service, which is not deployed yet",
                DOMAIN,
                "IN_STOCK_UNAVAILABLE",
            ));
        }
        let category = match filter.category_id.as_str() {
            "" => None,
            id => Uuid::parse_str(id)
                .map_err(|_| v.add("filter.category_id", "must be a UUID"))
                .ok(),
        };
        let min_price = filter.min_price.as_ref().map(|m| {
            self.currency
                .minor("filter.min_price.currency_code", m, &mut v)
        });
        let max_price = filter.max_price.as_ref().map(|m| {
            self.currency
                .minor("filter.max_price.currency_code", m, &mut v)
        });
        let sort = match pb::ProductSortOrder::try_from(req.sort_order) {
            Ok(pb::ProductSortOrder::Unspecified) if req.query.trim().is_empty() => {
                SortOrder::Newest
            }
            Ok(pb::ProductSortOrder::Unspecified | pb::ProductSortOrder::Relevance) => {
                SortOrder::Relevance
            }
            Ok(pb::ProductSortOrder::PriceAscending) => SortOrder::PriceAscending,
            Ok(pb::ProductSortOrder::PriceDescending) => SortOrder::PriceDescending,
            Ok(pb::ProductSortOrder::Newest) => SortOrder::Newest,
            Ok(pb::ProductSortOrder::Rating) => SortOrder::Rating,
            Err(_) => {
                v.add("sort_order", "is not a known sort order");
                SortOrder::Newest
            }
        };
        let mut facets = Vec::new();
        for raw in &req.facets {
            match pb::FacetField::try_from(*raw) {
                Ok(pb::FacetField::Category) => facets.push(FacetField::Category),
                Ok(pb::FacetField::OriginCountry) => facets.push(FacetField::OriginCountry),
                Ok(pb::FacetField::Organic) => facets.push(FacetField::Organic),
                Ok(pb::FacetField::Local) => facets.push(FacetField::Local),
                Ok(pb::FacetField::Vendor) => facets.push(FacetField::Vendor),
                _ => v.add("facets", "holds an unknown facet field"),
            }
        }
        if facets.is_empty() {
            facets = vec![
                FacetField::Category,
                FacetField::OriginCountry,
                FacetField::Organic,
            ];
        }
        let limit = match paging::page_size(req.page_size, 24, 100) {
            Ok(limit) => limit,
            Err(error) => {
                v.add(error.field, error.description);
                0
            }
        };
        v.into_result(()).map_err(to_status)?;
        // The cursor is only valid for the same query, filters and sort.
        let fingerprint = paging::fingerprint(&(
            req.query.trim().to_lowercase(),
            format!("{filter:?}"),
            req.sort_order,
        ));
        let after: Option<SearchCursor> =
            paging::decode_token(&req.page_token, &fingerprint).map_err(paging_status)?;
        let request = SearchRequest {
            query: req.query.clone(),
            filter: SearchFilter {
                category,
                min_price,
                max_price,
                organic: filter.organic,
                local: filter.local,
                in_season: filter.in_season,
                origin_countries: filter.origin_country_codes.clone(),
                vendor_id: (!filter.vendor_id.is_empty()).then(|| filter.vendor_id.clone()),
                tags: filter.tags.iter().map(|t| t.to_lowercase()).collect(),
            },
            sort,
            facets,
            limit,
            after,
        };
        Ok((request, fingerprint))
    }
}

pub(super) fn facet_to_proto(field: FacetField) -> pb::FacetField {
    match field {
        FacetField::Category => pb::FacetField::Category,
        FacetField::OriginCountry => pb::FacetField::OriginCountry,
        FacetField::Organic => pb::FacetField::Organic,
        FacetField::Local => pb::FacetField::Local,
        FacetField::Vendor => pb::FacetField::Vendor,
    }
}
