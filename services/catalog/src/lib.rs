//! mandi-catalog: products, the category tree and reviews, with full-text search over an
//! embedded index and a read-through cache. `module` builds the service for the server.
#![forbid(unsafe_code)]

pub mod domain;
pub mod store;
