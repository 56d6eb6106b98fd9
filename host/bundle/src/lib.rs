//! The default Portcullis policies: the Rust policy crates in the workspace's
//! `policies/`, compiled for `wasm32-unknown-unknown` and made components by
//! this crate's build script, then embedded here.
//!
//! The nested wasm build runs only for crates that depend on this one: the
//! engine does so behind its `default-policies` feature.

include!(concat!(env!("OUT_DIR"), "/bundle.rs"));
