//! mandi-inventory: perishable stock by warehouse and batch, and reservations for orders
//! that never oversell. `domain` holds the rules (FEFO allocation among them), `store` the
//! storage port with its in-memory and PostgreSQL adapters. The gRPC layer comes later.
#![forbid(unsafe_code)]

pub mod domain;
pub mod store;
