//! End-to-end tests of mandi live in this package's test targets: each starts the real
//! `mandi-server` binary and talks to it as a client would (SDK, grpcurl, plain HTTP).
#![forbid(unsafe_code)]
