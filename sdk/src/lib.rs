//! Write [Portcullis] policies in Rust.
//!
//! A policy is a WebAssembly component that the Portcullis host calls for
//! every tool a server advertises, every tool call an agent makes and every
//! result a tool returns. With this crate a policy is one short file: a type
//! that implements [`Policy`], and one [`export_policy!`] line.
//!
//! ```no_run
//! use portcullis_sdk::{export_policy, EventKind, Finding, Metadata, Outcome, Pattern, Policy, Context, ToolCall, Verdict};
//!
//! struct NoRmRf;
//!
//! impl Policy for NoRmRf {
//!     fn metadata() -> Metadata {
//!         Metadata::new("no-rm-rf", env!("CARGO_PKG_VERSION"))
//!             .on(EventKind::ToolCall)
//!             .pattern(Pattern::regex("rm-rf", r"\brm\s+-rf\s+/"))
//!     }
//!
//!     fn check_call(_ctx: &Context, _call: &ToolCall, findings: &[Finding]) -> Outcome {
//!         let mut outcome = Outcome::allow();
//!         for (index, _) in portcullis_sdk::matches(findings, "rm-rf") {
//!             outcome.add(Verdict::Deny, "rm-rf", "the arguments delete the root directory", [index]);
//!         }
//!         outcome
//!     }
//! }
//!
//! export_policy!(NoRmRf);
//! ```
//!
//! The host runs a prefilter over the event's text before it calls the
//! policy: the [`Pattern`]s a policy lists in its [`Metadata`] come back as
//! [`Finding`]s, so a policy seldom needs to scan text itself.
//!
//! Helpers for judging findings:
//!
//! * [`Finding::key`] and [`ToolCall::field_text`] say which argument a
//!   finding sits in and what its original text is;
//! * [`ArgumentKind`] tells a shell command, code, SQL, free text and a
//!   plain value apart, since the same text is routine in one and an attack
//!   in another;
//! * [`ArgumentRule`] and [`judge_arguments`] turn a table of patterns with
//!   per-kind verdicts into an [`Outcome`] with one reason per rule and
//!   argument;
//! * [`phrases`] holds the regular expressions of prompt injection (overrides,
//!   concealment, hidden markup, role play) that several policies share.
//!
//! Build the crate for `wasm32-unknown-unknown` as a `cdylib` and turn the
//! module into a component with the `portcullis-componentize` crate (the
//! host's build does this for the policies in this repository), or with
//! `portcullis policy build`.
//!
//! A policy can take operator [`settings`], and read and add session
//! [`labels`] that every policy of the set shares.
//!
//! On targets other than `wasm32` the [`state`], [`labels`], [`settings`]
//! and [`log`] functions use an in-memory stand-in for the host, so a policy's logic can be unit-tested
//! natively with `cargo test`; with the `testing` feature, the `testing`
//! module also stands in for the host's prefilter, turning an event and a
//! policy's patterns into the findings the host would pass.
//!
//! [Portcullis]: https://example.invalid/portcullis

#![deny(unsafe_code)]
#![warn(missing_docs)]

#[doc(hidden)]
pub mod bindings_mod {
    #![allow(missing_docs, unsafe_code, clippy::too_many_arguments)]
    wit_bindgen::generate!({
        path: "wit",
        world: "policy",
        pub_export_macro: true,
        export_macro_name: "__export_policy_world",
        default_bindings_module: "portcullis_sdk::bindings",
    });
}

mod argument;
mod encoding;
mod field;
mod json;
pub mod labels;
pub mod log;
mod outcome;
mod pattern;
pub mod phrases;
mod rule;
pub mod settings;
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;

pub use argument::ArgumentKind;
#[doc(hidden)]
pub use bindings_mod as bindings;
pub use bindings_mod::portcullis::policy::types::{
    BuiltinDetector, Client, Context, EventKind, Finding, Matcher, Metadata, Outcome, Pattern,
    Principal, Reason, SettingError, Tool, ToolCall, ToolResult, Verdict,
};
pub use encoding::{base64_decode, percent_decode};
pub use field::{
    ArgumentText, KEY_SUFFIX, argument_texts, escape_pointer_segment, json_texts,
    schema_property_description, words,
};
pub use outcome::matches;
pub use rule::{ArgumentRule, EXCERPT_CHARS, KindVerdicts, excerpt, judge_arguments};
pub use serde;
pub use serde_json;

/// A Portcullis policy.
///
/// Only [`Policy::metadata`] is required; the checks allow by default, and the
/// host calls only those for the events listed in the metadata.
pub trait Policy {
    /// Names the policy and lists the events and prefilter patterns it wants.
    fn metadata() -> Metadata;

    /// Checks the operator's `settings` (JSON text) when the policy is
    /// loaded. By default a policy takes no settings and accepts only `{}`;
    /// a policy with settings returns [`settings::validate`] of its own
    /// settings type, and reads them with [`settings::get`].
    ///
    /// # Errors
    /// Where and why the settings are invalid; the host refuses to load
    /// the policy set and shows the error to the operator.
    fn configure(settings: &str) -> Result<(), SettingError> {
        settings::validate::<settings::NoSettings>(settings)
    }

    /// Checks a tool definition a server advertises.
    fn check_tool(ctx: &Context, tool: &Tool, findings: &[Finding]) -> Outcome {
        let _ = (ctx, tool, findings);
        Outcome::allow()
    }

    /// Checks a tool call before it reaches the server.
    fn check_call(ctx: &Context, call: &ToolCall, findings: &[Finding]) -> Outcome {
        let _ = (ctx, call, findings);
        Outcome::allow()
    }

    /// Checks a tool's result before it reaches the agent.
    fn check_result(ctx: &Context, result: &ToolResult, findings: &[Finding]) -> Outcome {
        let _ = (ctx, result, findings);
        Outcome::allow()
    }
}

/// Exports a type implementing [`Policy`] as the component's `policy` world.
///
/// Use it once per crate, at the top level. The exports exist only when the
/// crate is compiled for `wasm32`: a native build (unit tests, or a tool that
/// links several policies as libraries) gets the policy type alone, with no
/// exported symbols to clash.
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        struct __PortcullisGuest;

        #[cfg(target_arch = "wasm32")]
        impl $crate::bindings::Guest for __PortcullisGuest {
            fn metadata() -> $crate::Metadata {
                <$policy as $crate::Policy>::metadata()
            }

            fn configure(
                settings: ::std::string::String,
            ) -> ::std::result::Result<(), $crate::SettingError> {
                <$policy as $crate::Policy>::configure(&settings)
            }

            fn check_tool(
                ctx: $crate::Context,
                tool: $crate::Tool,
                findings: ::std::vec::Vec<$crate::Finding>,
            ) -> $crate::Outcome {
                <$policy as $crate::Policy>::check_tool(&ctx, &tool, &findings)
            }

            fn check_call(
                ctx: $crate::Context,
                call: $crate::ToolCall,
                findings: ::std::vec::Vec<$crate::Finding>,
            ) -> $crate::Outcome {
                <$policy as $crate::Policy>::check_call(&ctx, &call, &findings)
            }

            fn check_result(
                ctx: $crate::Context,
                result: $crate::ToolResult,
                findings: ::std::vec::Vec<$crate::Finding>,
            ) -> $crate::Outcome {
                <$policy as $crate::Policy>::check_result(&ctx, &result, &findings)
            }
        }

        #[cfg(target_arch = "wasm32")]
        $crate::bindings::__export_policy_world!(__PortcullisGuest with_types_in $crate::bindings);
    };
}
