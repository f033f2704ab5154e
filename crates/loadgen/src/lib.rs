//! mandi-loadgen: shoppers on the Rust SDK, like Online Boutique's loadgenerator. They
//! browse, search, add to guest and signed-in carts, check out with sandbox cards (some
//! declined on purpose) and track their deliveries, in a weighted mix, at a rate (open
//! model) or a concurrency (closed model), for a fixed time. The report gives throughput,
//! p50/p90/p99 and errors by gRPC code per operation, as a table, JSON and an SVG plot.
#![forbid(unsafe_code)]

pub mod mix;
pub mod report;
pub mod run;
pub mod shop;
pub mod stats;

pub use mix::{Mix, Operation, parse_duration};
pub use report::Report;
pub use run::{Config, Load, run};
pub use shop::CheckoutMode;
