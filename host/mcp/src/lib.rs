//! MCP enforcement for [Portcullis]: every message between an MCP client and
//! server passes through a [`Session`](session::Session), which asks a
//! [`Decider`](portcullis::Decider) about each tool, call and result and
//! enforces the answer.
//!
//! The crate is split the way rustls is: the [`session`] is sans-I/O (frames
//! in, frames out), [`framing`] reads and writes newline-delimited JSON-RPC,
//! and each [`transport`] only moves bytes between peers and the session.
//!
//! [Portcullis]: https://example.invalid/portcullis

pub mod framing;
pub mod session;
pub mod transport;
