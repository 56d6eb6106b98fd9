//! Stand-in for the engine's `decision` module (agreed API in the shared
//! brief); replaced by the engine branch at merge.

use serde::Serialize;

/// A verdict; `max` is the strictest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Allow.
    Allow,
    /// Ask a human.
    Escalate,
    /// Refuse.
    Deny,
}

/// A finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Pattern id.
    pub pattern: String,
    /// Field.
    pub field: String,
    /// Start.
    pub start: u32,
    /// End.
    pub end: u32,
    /// Matched text.
    pub matched: String,
}

/// A reason.
#[derive(Debug, Clone, Serialize)]
pub struct Reason {
    /// Policy.
    pub policy: String,
    /// Rule.
    pub rule: String,
    /// Message.
    pub message: String,
    /// Findings.
    pub findings: Vec<Finding>,
}

/// One policy's part in a decision.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyReport {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Digest.
    pub digest: String,
    /// Verdict.
    pub verdict: Verdict,
    /// Time spent.
    pub micros: u64,
    /// Failure.
    pub error: Option<String>,
}

/// A decision.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// Verdict.
    pub verdict: Verdict,
    /// Reasons.
    pub reasons: Vec<Reason>,
    /// Per policy.
    pub policies: Vec<PolicyReport>,
    /// Generation.
    pub generation: u64,
}
