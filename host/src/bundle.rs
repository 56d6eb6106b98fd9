//! The default policies, built from `policies/` and embedded at compile time.

include!(concat!(env!("OUT_DIR"), "/bundle.rs"));
