//! mandi-sdk: the generated contracts of every mandi service, plus a client builder that
//! adds a bearer token, a default deadline and retries for calls that are safe to repeat.

pub mod proto;
