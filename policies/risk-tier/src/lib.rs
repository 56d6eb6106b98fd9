//! Sorts tool calls into risk tiers by the tool's MCP annotations.
//!
//! MCP servers describe their tools with hints (`annotations` in
//! `tools/list`). The policy trusts a hint only when it is stated: by the
//! specification an absent `destructiveHint` means "may be destructive",
//! but a policy that escalated every unannotated tool would escalate nearly
//! everything, so absent annotations are the plain tier.
//!
//! Tiers of a **tool call**, judged from the definition the host saw
//! advertised in this session (`call.tool`; a call to a tool the session
//! never saw is allowed here and left to other policies):
//!
//! | tier | annotations | verdict | rule |
//! |------|-------------|---------|------|
//! | read-only | `readOnlyHint: true` | allow | — |
//! | destructive | `destructiveHint: true` | escalate | `destructive-tool` |
//! | open-world write | `openWorldHint: true` | escalate | `open-world-write` |
//! | plain | none of the above, or no annotations | allow | — |
//!
//! A read-only tool is in the read-only tier whatever its other hints say
//! (the specification gives `destructiveHint` meaning only when
//! `readOnlyHint` is false). A tool can be both destructive and open-world;
//! the call then carries both reasons.
//!
//! For a **tool description**, the policy checks that a tool claiming
//! `readOnlyHint: true` is not named for writing or destroying
//! (`delete_file`, `send_email`, `create_issue`): a server that mislabels
//! such a tool gets it past every check that trusts the hint, so the
//! description escalates (rule `mislabelled-read-only`).

use portcullis_sdk::{
    Context, EventKind, Finding, Metadata, Outcome, Policy, Tool, ToolCall, Verdict, export_policy,
    words,
};

/// The policy.
pub struct RiskTier;

/// Tool-name words that mean the tool changes something.
const WRITE_WORDS: &[&str] = &[
    "delete",
    "remove",
    "drop",
    "destroy",
    "truncate",
    "purge",
    "wipe",
    "erase",
    "write",
    "overwrite",
    "update",
    "create",
    "insert",
    "send",
    "post",
    "push",
    "kill",
    "move",
    "rename",
    "merge",
    "upload",
    "publish",
    "deploy",
    "transfer",
    "reset",
    "revoke",
    "grant",
    "approve",
    "pay",
    "charge",
    "refund",
];

impl Policy for RiskTier {
    fn metadata() -> Metadata {
        Metadata::new("risk-tier", env!("CARGO_PKG_VERSION"))
            .on(EventKind::ToolDescription)
            .on(EventKind::ToolCall)
    }

    fn check_tool(_ctx: &Context, tool: &Tool, _findings: &[Finding]) -> Outcome {
        if tool.hint("readOnlyHint") != Some(true) {
            return Outcome::allow();
        }
        let name_words = words(&tool.name);
        match name_words
            .iter()
            .find(|word| WRITE_WORDS.contains(&word.as_str()))
        {
            Some(word) => Outcome::with(
                Verdict::Escalate,
                "mislabelled-read-only",
                format!(
                    "annotations: tool `{}` claims readOnlyHint but its name says it does \"{word}\"",
                    tool.name
                ),
            ),
            None => Outcome::allow(),
        }
    }

    fn check_call(_ctx: &Context, call: &ToolCall, _findings: &[Finding]) -> Outcome {
        let Some(tool) = &call.tool else {
            return Outcome::allow();
        };
        let mut outcome = Outcome::allow();
        if tool.hint("readOnlyHint") == Some(true) {
            return outcome;
        }
        if tool.hint("destructiveHint") == Some(true) {
            outcome.add(
                Verdict::Escalate,
                "destructive-tool",
                format!(
                    "annotations: tool `{}` declares destructiveHint: true, so the call may destroy data",
                    call.name
                ),
                [],
            );
        }
        if tool.hint("openWorldHint") == Some(true) {
            outcome.add(
                Verdict::Escalate,
                "open-world-write",
                format!(
                    "annotations: tool `{}` declares openWorldHint: true and is not read-only, so the call may change things outside this system",
                    call.name
                ),
                [],
            );
        }
        outcome
    }
}

export_policy!(RiskTier);

#[cfg(test)]
mod tests {
    use portcullis_sdk::serde_json::{Value, json};
    use portcullis_sdk::testing;
    use portcullis_sdk::testing::rules;

    /// `cases.jsonl`, the file `portcullis policy test` also runs through the
    /// engine (`tests/cli/policy_cases.rs`).
    #[test]
    fn cases() {
        portcullis_sdk::testing::check_cases::<RiskTier>(include_str!("../cases.jsonl"));
    }

    use super::*;

    fn call_with(annotations: Value) -> Outcome {
        let mut call = testing::call("delete_file", json!({ "path": "/tmp/x" }));
        call.tool = Some(testing::tool(
            "delete_file",
            "Deletes a file.",
            json!({}),
            annotations,
        ));
        RiskTier::check_call(&testing::context(), &call, &[])
    }

    #[test]
    fn destructive_tools_escalate() {
        let outcome = call_with(json!({ "destructiveHint": true }));
        assert_eq!(outcome.verdict, Verdict::Escalate);
        assert_eq!(rules(&outcome), ["destructive-tool"]);
        assert!(outcome.reasons[0].message.contains("`delete_file`"));
    }

    #[test]
    fn open_world_writes_escalate() {
        let outcome = call_with(json!({ "readOnlyHint": false, "openWorldHint": true }));
        assert_eq!(rules(&outcome), ["open-world-write"]);
        let outcome = call_with(json!({ "destructiveHint": true, "openWorldHint": true }));
        assert_eq!(rules(&outcome), ["destructive-tool", "open-world-write"]);
    }

    #[test]
    fn read_only_plain_and_unknown_tools_are_allowed() {
        for annotations in [
            json!({ "readOnlyHint": true, "openWorldHint": true }),
            json!({ "readOnlyHint": true, "destructiveHint": true }),
            json!({ "destructiveHint": false, "openWorldHint": false }),
            json!({}),
        ] {
            let outcome = call_with(annotations.clone());
            assert_eq!(outcome.verdict, Verdict::Allow, "{annotations}");
            assert!(outcome.reasons.is_empty());
        }
        let unknown = testing::call("delete_file", json!({}));
        assert_eq!(
            RiskTier::check_call(&testing::context(), &unknown, &[]).verdict,
            Verdict::Allow
        );
    }

    #[test]
    fn a_read_only_claim_against_the_name_escalates() {
        let tool = testing::tool(
            "delete_file",
            "",
            json!({}),
            json!({ "readOnlyHint": true }),
        );
        let outcome = RiskTier::check_tool(&testing::context(), &tool, &[]);
        assert_eq!(outcome.verdict, Verdict::Escalate);
        assert_eq!(rules(&outcome), ["mislabelled-read-only"]);

        for (name, annotations) in [
            ("get_file_contents", json!({ "readOnlyHint": true })),
            ("delete_file", json!({ "destructiveHint": true })),
            ("delete_file", json!({})),
        ] {
            let tool = testing::tool(name, "", json!({}), annotations);
            let outcome = RiskTier::check_tool(&testing::context(), &tool, &[]);
            assert_eq!(outcome.verdict, Verdict::Allow, "{name}");
        }
    }
}
