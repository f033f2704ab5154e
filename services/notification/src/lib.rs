//! mandi-notification: (being built).
#![forbid(unsafe_code)]
