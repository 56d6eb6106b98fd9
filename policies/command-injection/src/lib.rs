//! Denies tool calls whose arguments carry shell command injection.

use portcullis_sdk::{
    Context, EventKind, Finding, Metadata, Outcome, Pattern, Policy, ToolCall, Verdict,
    export_policy, matches,
};

/// The policy.
pub struct CommandInjection;

impl Policy for CommandInjection {
    fn metadata() -> Metadata {
        Metadata::new("command-injection", env!("CARGO_PKG_VERSION"))
            .on(EventKind::ToolCall)
            .pattern(Pattern::regex(
                "chained-command",
                r"[;&|`]\s*(rm|nc|curl|wget|bash|sh)\b",
            ))
    }

    fn check_call(_ctx: &Context, _call: &ToolCall, findings: &[Finding]) -> Outcome {
        let mut outcome = Outcome::allow();
        for (index, finding) in matches(findings, "chained-command") {
            outcome.add(
                Verdict::Deny,
                "chained-command",
                format!(
                    "argument {} chains a command: {}",
                    finding.field, finding.matched
                ),
                [index],
            );
        }
        outcome
    }
}

export_policy!(CommandInjection);
