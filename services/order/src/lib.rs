//! mandi-order: (being built).
#![forbid(unsafe_code)]
