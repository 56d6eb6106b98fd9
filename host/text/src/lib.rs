//! The text pipeline of the [Portcullis] policy engine, without the engine.
//!
//! # Should I be using this crate?
//!
//! Most likely not directly: the `portcullis` crate runs it for every event
//! before it calls a policy, and `portcullis-sdk`'s `testing` feature runs it
//! in a policy's unit tests. It is a crate of its own so that both run *the
//! same code*: a policy test that passes means the engine finds the same
//! things in the same text. Use it directly to scan text the way Portcullis
//! does without loading any WebAssembly.
//!
//! # What it does
//!
//! - [`fields`] turns an event into its text fields, each named by a JSON
//!   pointer (`/arguments/command`, `/inputSchema/properties/path/description`);
//! - [`normalize`] folds each field into one comparable form (tag characters
//!   decoded, invisible and bidirectional controls removed, NFKC, lower case)
//!   and reports what it hid;
//! - [`prefilter`] finds every policy's literals and regular expressions in
//!   one pass per field;
//! - [`digest`] fingerprints values (canonical JSON, SHA-256).
//!
//! ```
//! use portcullis_text::fields::call_fields;
//! use portcullis_text::prefilter::{Matcher, PatternSpec, Prefilter};
//! use serde_json::json;
//!
//! let prefilter = Prefilter::new(&[PatternSpec {
//!     id: "rm-root".into(),
//!     matcher: Matcher::Regex(r"rm\s+-rf\s+/".into()),
//! }])?;
//! let arguments = json!({ "command": "ls; RM -rf /" });
//! let matches = prefilter.scan(&call_fields(&arguments)).matches;
//! assert_eq!(matches[0].field, "/arguments/command");
//! assert_eq!(matches[0].matched, "rm -rf /");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [Portcullis]: https://example.invalid/portcullis

#![forbid(unsafe_code)]

pub mod digest;
pub mod fields;
pub mod normalize;
pub mod prefilter;
