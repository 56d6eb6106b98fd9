//! What a policy set decides about an event, and why.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::sandbox::PolicyFailure;

/// What a policy, or a policy set as a whole, decides.
///
/// Verdicts are ordered from the most lenient to the strictest, so the
/// verdict of several policies is their maximum: deny over escalate over
/// allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Let the tool be advertised, or the call or result go through.
    Allow,
    /// Ask a human before going on.
    Escalate,
    /// Refuse.
    Deny,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Allow => "allow",
            Verdict::Escalate => "escalate",
            Verdict::Deny => "deny",
        })
    }
}

/// The decision of a policy set on one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Decision {
    /// The strictest verdict of the policies that saw the event; allow when none did.
    pub verdict: Verdict,
    /// Why, policy by policy.
    pub reasons: Vec<Reason>,
    /// What each policy that saw the event decided, and how long it took.
    pub policies: Vec<PolicyReport>,
    /// The generation of the policy set that decided.
    pub generation: u64,
}

impl Decision {
    /// A decision that an enforcement point makes itself (a rug pull, a
    /// human's answer), with one reason and no policy reports.
    pub fn new(verdict: Verdict, reason: Reason, generation: u64) -> Decision {
        Decision {
            verdict,
            reasons: vec![reason],
            policies: Vec::new(),
            generation,
        }
    }

    /// The reports of the policies that failed on this event (trapped, timed
    /// out, ran out of memory, answered nonsense) and so count as the fail
    /// verdict.
    pub fn failed_policies(&self) -> impl Iterator<Item = &PolicyReport> {
        self.policies
            .iter()
            .filter(|report| report.failure.is_some())
    }
}

/// The rule of the reason the engine gives when a policy fails (traps,
/// times out, runs out of memory or returns invalid data).
pub const POLICY_FAILURE_RULE: &str = "policy-failure";

/// One reason behind a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Reason {
    /// The policy that gave it.
    pub policy: String,
    /// The rule that fired, such as `chained-command`, or
    /// [`POLICY_FAILURE_RULE`] when the policy failed.
    pub rule: String,
    /// A sentence for the human who reads the decision.
    pub message: String,
    /// The prefilter findings the reason cites.
    pub findings: Vec<Finding>,
}

impl Reason {
    /// A reason that cites no finding.
    pub fn new(
        policy: impl Into<String>,
        rule: impl Into<String>,
        message: impl Into<String>,
    ) -> Reason {
        Reason {
            policy: policy.into(),
            rule: rule.into(),
            message: message.into(),
            findings: Vec::new(),
        }
    }
}

/// One match of one of a policy's prefilter patterns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Finding {
    /// The `id` the policy gave the pattern.
    pub pattern: String,
    /// Where it matched: `name`, `description`, or a JSON pointer such as `/arguments/command`.
    pub field: String,
    /// Byte offset of the start of the match in the normalised text of the field.
    pub start: u32,
    /// Byte offset one past the end of the match in the normalised text of the field.
    pub end: u32,
    /// The normalised text that matched.
    pub matched: String,
}

/// What one policy decided on one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PolicyReport {
    /// The policy's name.
    pub name: String,
    /// The policy's version.
    pub version: String,
    /// The SHA-256 of the policy's component, lowercase hex.
    pub digest: String,
    /// The policy's verdict (the configured fail verdict when it failed).
    pub verdict: Verdict,
    /// How long the policy took, instantiation included, in microseconds.
    pub micros: u64,
    /// Why the policy failed, when it did; written as the failure's message
    /// (`"error"`) in JSON.
    #[serde(rename = "error", serialize_with = "failure_message")]
    pub failure: Option<PolicyFailure>,
}

fn failure_message<S: serde::Serializer>(
    failure: &Option<PolicyFailure>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match failure {
        Some(failure) => serializer.collect_str(failure),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strictest_verdict_is_the_maximum() {
        use Verdict::*;
        assert_eq!([Allow, Deny, Escalate].into_iter().max(), Some(Deny));
        assert_eq!([Allow, Escalate, Allow].into_iter().max(), Some(Escalate));
        assert_eq!([Allow, Allow].into_iter().max(), Some(Allow));
    }

    #[test]
    fn verdicts_serialize_in_lowercase() {
        assert_eq!(
            serde_json::to_string(&Verdict::Escalate).unwrap(),
            "\"escalate\""
        );
        assert_eq!(
            serde_json::from_str::<Verdict>("\"deny\"").unwrap(),
            Verdict::Deny
        );
    }
}
