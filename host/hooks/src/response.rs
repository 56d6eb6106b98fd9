//! The words of an answer: what a runtime shows the model and the user.

use portcullis::{Decision, Verdict};

use crate::HookRequest;

/// How many reasons an answer spells out; the audit log keeps them all.
const REASONS_SHOWN: usize = 3;

/// One line that says what Portcullis decided about the request and why:
/// `Portcullis denied Bash: secrets/sensitive-file: …; ssrf/…`.
pub(crate) fn summary(request: &HookRequest, decision: &Decision) -> String {
    let verb = match decision.verdict {
        Verdict::Allow => "allowed",
        Verdict::Escalate => "asks a human about",
        Verdict::Deny => "denied",
    };
    let what = match request.point {
        crate::HookPoint::BeforeCall => "",
        crate::HookPoint::AfterCall => "the result of ",
    };
    let mut line = format!("Portcullis {verb} {what}{}", request.tool);
    let reasons: Vec<String> = decision
        .reasons
        .iter()
        .take(REASONS_SHOWN)
        .map(|reason| format!("{}/{}: {}", reason.policy, reason.rule, reason.message))
        .collect();
    if !reasons.is_empty() {
        line.push_str(": ");
        line.push_str(&reasons.join("; "));
    }
    if decision.reasons.len() > REASONS_SHOWN {
        line.push_str(&format!(
            " (and {} more)",
            decision.reasons.len() - REASONS_SHOWN
        ));
    }
    line
}

/// [`summary`], for a runtime that cannot ask a human: an escalation is
/// refused, and the answer says that a person must approve it.
pub(crate) fn refusal_without_asking(request: &HookRequest, decision: &Decision) -> String {
    let line = summary(request, decision);
    match decision.verdict {
        Verdict::Escalate => format!(
            "{line}. {} cannot ask for approval from a hook, so it is refused: a person must run it or change the policy",
            runtime_title(request)
        ),
        _ => line,
    }
}

/// What the result's replacement says, where a runtime lets a hook replace
/// the result the model sees.
pub(crate) fn withheld(request: &HookRequest, decision: &Decision) -> String {
    format!(
        "[The result was withheld. {}]",
        refusal_without_asking(request, decision)
    )
}

fn runtime_title(request: &HookRequest) -> &'static str {
    match request.runtime {
        crate::Runtime::ClaudeCode => "Claude Code",
        crate::Runtime::Cursor => "Cursor",
        crate::Runtime::Codex => "Codex",
        crate::Runtime::Gemini => "Gemini CLI",
    }
}
