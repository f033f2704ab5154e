//! mandi-checkout: (being built).
#![forbid(unsafe_code)]
