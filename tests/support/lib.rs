//! The end-to-end test harness: real compiled components, the `portcullis`
//! binary, and the real MCP peers installed in `tests/peers/`.
//!
//! Every end-to-end test in `tests/` uses this library; the tests that run
//! the binary are declared by `portcullis-cli` (so that cargo builds the
//! binary first), the engine's by this package.

pub mod binary;
pub mod gateway;
pub mod http;
pub mod mcp;
pub mod serve;
pub mod wat_policy;
