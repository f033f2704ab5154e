//! mandi-sdk: the generated contracts of every mandi service, plus a client builder that
//! adds a bearer token, a default deadline and retries for calls that are safe to repeat.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use mandi_sdk::proto::mandi::identity::v1::{GetCurrentUserRequest, LoginRequest};
//! use mandi_sdk::{Mandi, RetryPolicy};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mandi = Mandi::builder()
//!     .endpoint("http://127.0.0.1:50051")
//!     // Optional: one service elsewhere, TLS for https endpoints, call policy.
//!     .service_endpoint("identity", "http://127.0.0.1:50052")
//!     .default_deadline(Duration::from_secs(5))
//!     .retry(RetryPolicy { max_attempts: 4, ..RetryPolicy::default() })
//!     .connect_lazy()?;
//!
//! let login = mandi
//!     .identity()
//!     .login(LoginRequest { email: "asha@example.com".into(), password: "correct horse".into() })
//!     .await?
//!     .into_inner();
//! // Every client of `mandi` (and of its clones) sends this token from now on.
//! mandi.set_token(Some(login.access_token))?;
//!
//! let me = mandi.identity().get_current_user(GetCurrentUserRequest {}).await?.into_inner();
//! println!("signed in as {:?}", me.user.map(|user| user.email));
//! # Ok(())
//! # }
//! ```
//!
//! Per call, [`MandiChannel`] adds `authorization: Bearer <token>` (unless the request has
//! its own), a `grpc-timeout` from the default deadline (unless the request set one with
//! `tonic::Request::set_timeout`; server streams get none), the W3C trace context of the
//! span the call is made in (`traceparent`, unless the request has its own), and retries
//! UNAVAILABLE with
//! exponential backoff and jitter for calls that are safe to repeat ([`is_retry_safe`]).
#![forbid(unsafe_code)]

mod call;
mod channel;
mod client;
mod deadline;
mod error;
mod methods;
pub mod proto;
mod retry;
mod service_login;
mod token;
mod trace;

pub use channel::{CallPolicy, MandiChannel};
pub use client::{Mandi, MandiBuilder, SERVICES};
pub use error::SdkError;
pub use methods::is_retry_safe;
pub use retry::RetryPolicy;
pub use service_login::ServiceLogin;
pub use token::TokenHandle;
