//! mandi-runtime: the server plumbing every mandi service shares — configuration, the gRPC
//! server with its layers, token verification and authorization, error details, logs,
//! traces and metrics.
#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod errors;
pub mod events;
pub mod faults;
pub mod metrics;
pub mod observe;
pub mod outbox;
pub mod paging;
pub mod server;
pub mod shed;
pub mod telemetry;
pub mod tls;
