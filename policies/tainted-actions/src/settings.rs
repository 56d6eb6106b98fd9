//! The policy's settings.

use portcullis_sdk::Verdict;
use portcullis_sdk::serde::Deserialize;

/// What to do with each finding.
///
/// ```json
/// { "trifecta": "deny", "after-untrusted": "escalate" }
/// ```
///
/// The defaults: the lethal trifecta is denied (untrusted content, private
/// data and an outbound action in one session is the shape of every
/// known exfiltration through an agent), and a high-impact action after
/// untrusted content is escalated (the user may well have asked for it).
#[derive(Debug, Deserialize)]
#[serde(
    crate = "portcullis_sdk::serde",
    default,
    deny_unknown_fields,
    rename_all = "kebab-case"
)]
pub(crate) struct TaintSettings {
    pub(crate) trifecta: Response,
    pub(crate) after_untrusted: Response,
}

impl Default for TaintSettings {
    fn default() -> Self {
        TaintSettings {
            trifecta: Response::Deny,
            after_untrusted: Response::Escalate,
        }
    }
}

/// A configured verdict.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(crate = "portcullis_sdk::serde", rename_all = "kebab-case")]
pub(crate) enum Response {
    Deny,
    Escalate,
    Allow,
}

impl Response {
    pub(crate) fn verdict(self) -> Verdict {
        match self {
            Response::Deny => Verdict::Deny,
            Response::Escalate => Verdict::Escalate,
            Response::Allow => Verdict::Allow,
        }
    }
}
