//! What a policy set decides about an event, and why.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

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

/// The rule of the reason the engine gives when one of a policy's patterns
/// matched a field more often than the prefilter shows a policy
/// ([`portcullis_text::prefilter::MAX_MATCHES_PER_PATTERN_PER_FIELD`]): the
/// policy may not have seen the match that matters (decoys first, the attack
/// last), so it counts as the fail verdict.
pub const FINDINGS_OVERFLOW_RULE: &str = "findings-overflow";

/// The rule of the reason the engine gives, under the policy name
/// `portcullis`, when an event is evaluated with the
/// [`SessionState`](crate::SessionState) of another tenant or session: the
/// event gets the fail verdict and no policy sees the wrong session's state.
pub const SESSION_MISMATCH_RULE: &str = "session-mismatch";

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
    /// The labels the policy added to the session while deciding, such as
    /// `untrusted-content`; left out of JSON when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
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

/// Why a policy gave no usable answer, so that an embedder can tell (and
/// count) a policy that timed out from one that trapped or ran out of
/// memory. A failing policy's verdict is the configured fail verdict; its
/// [`PolicyReport`](crate::PolicyReport) carries the failure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyFailure {
    /// It ran past its deadline, which was this long.
    TimedOut(Duration),
    /// It tried to grow a memory past the limit (bytes).
    MemoryExceeded(usize),
    /// It tried to grow a table past the limit (elements).
    TableExceeded(usize),
    /// It trapped; the trap's description, such as `wasm \`unreachable\`
    /// instruction executed`.
    Trap(String),
    /// It could not be instantiated.
    Instantiation(String),
    /// The runtime reported another error.
    Runtime(String),
    /// It returned data that does not make sense.
    InvalidOutcome(String),
}

impl fmt::Display for PolicyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyFailure::TimedOut(timeout) => {
                write!(f, "timed out after {} ms", timeout.as_millis())
            }
            PolicyFailure::MemoryExceeded(limit) => {
                write!(f, "exceeded memory limit of {}", Bytes(*limit))
            }
            PolicyFailure::TableExceeded(limit) => {
                write!(f, "exceeded table limit of {limit} elements")
            }
            PolicyFailure::Trap(trap) => write!(f, "trap: {trap}"),
            PolicyFailure::Instantiation(message) => {
                write!(f, "could not be instantiated: {message}")
            }
            PolicyFailure::Runtime(message) => write!(f, "runtime error: {message}"),
            PolicyFailure::InvalidOutcome(message) => {
                write!(f, "returned an invalid outcome: {message}")
            }
        }
    }
}

/// A byte count, in MiB or KiB when it is a whole number of them.
struct Bytes(usize);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: usize = 1024;
        const MIB: usize = 1024 * KIB;
        match self.0 {
            bytes if bytes >= MIB && bytes % MIB == 0 => write!(f, "{} MiB", bytes / MIB),
            bytes if bytes >= KIB && bytes % KIB == 0 => write!(f, "{} KiB", bytes / KIB),
            bytes => write!(f, "{bytes} bytes"),
        }
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
