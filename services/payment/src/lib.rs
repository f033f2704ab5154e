//! mandi-payment: (being built).
#![forbid(unsafe_code)]
