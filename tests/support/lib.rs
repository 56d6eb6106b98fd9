//! Helpers shared by the end-to-end tests.

pub mod wat_policy;
