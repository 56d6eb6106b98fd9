//! Building an [`Outcome`] and reading [`Finding`]s.

use crate::{Finding, Outcome, Reason, Verdict};

impl Verdict {
    /// The stricter of two verdicts: deny over escalate over allow.
    pub fn stricter(self, other: Verdict) -> Verdict {
        fn rank(verdict: Verdict) -> u8 {
            match verdict {
                Verdict::Allow => 0,
                Verdict::Escalate => 1,
                Verdict::Deny => 2,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl Outcome {
    /// Allow, with no reasons.
    pub fn allow() -> Self {
        Outcome {
            verdict: Verdict::Allow,
            reasons: Vec::new(),
        }
    }

    /// An outcome with one reason.
    pub fn with(verdict: Verdict, rule: &str, message: impl Into<String>) -> Self {
        let mut outcome = Outcome::allow();
        outcome.add(verdict, rule, message, []);
        outcome
    }

    /// Adds a reason, raising the verdict to `verdict` if that is stricter.
    ///
    /// `findings` are indices into the findings the policy was given.
    pub fn add(
        &mut self,
        verdict: Verdict,
        rule: &str,
        message: impl Into<String>,
        findings: impl IntoIterator<Item = u32>,
    ) -> &mut Self {
        self.verdict = self.verdict.stricter(verdict);
        self.reasons.push(Reason {
            rule: rule.to_owned(),
            message: message.into(),
            findings: findings.into_iter().collect(),
        });
        self
    }
}

/// The findings of one pattern, each with the index to cite in a [`Reason`].
pub fn matches<'a>(
    findings: &'a [Finding],
    pattern: &'a str,
) -> impl Iterator<Item = (u32, &'a Finding)> + 'a {
    findings
        .iter()
        .enumerate()
        .filter(move |(_, finding)| finding.pattern == pattern)
        .map(|(index, finding)| (index as u32, finding))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_keeps_the_strictest_verdict() {
        let mut outcome = Outcome::allow();
        outcome.add(Verdict::Deny, "a", "first", [0]);
        outcome.add(Verdict::Escalate, "b", "second", []);
        assert_eq!(outcome.verdict, Verdict::Deny);
        assert_eq!(outcome.reasons.len(), 2);
        assert_eq!(outcome.reasons[0].findings, vec![0]);
    }

    #[test]
    fn matches_yields_indices_of_one_pattern() {
        let finding = |pattern: &str| Finding {
            pattern: pattern.into(),
            field: "description".into(),
            start: 0,
            end: 1,
            matched: "x".into(),
        };
        let findings = [finding("a"), finding("b"), finding("a")];
        let indices: Vec<u32> = matches(&findings, "a").map(|(i, _)| i).collect();
        assert_eq!(indices, vec![0, 2]);
    }
}
