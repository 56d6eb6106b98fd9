//! Rules that judge a tool call's findings by the kind of argument they sit in.
//!
//! Most injection checks have the same shape: a prefilter pattern, and a
//! verdict that depends on whether the text is a shell command, code, SQL,
//! free text or a plain value (see [`ArgumentKind`]). An [`ArgumentRule`]
//! states that shape as data, and [`judge_arguments`] applies a table of
//! them to a call.

use std::collections::BTreeMap;

use crate::{ArgumentKind, Finding, Outcome, Pattern, ToolCall, Verdict};

/// The verdict a rule's findings earn in each kind of argument; `None`
/// means the text is routine there and is not reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindVerdicts {
    /// In a shell command.
    pub command: Option<Verdict>,
    /// In program source.
    pub code: Option<Verdict>,
    /// In a SQL statement.
    pub sql: Option<Verdict>,
    /// In free text for people.
    pub prose: Option<Verdict>,
    /// In a plain value: a name, path, host, URL or search term.
    pub value: Option<Verdict>,
}

impl KindVerdicts {
    /// The verdict for an argument of `kind`.
    pub fn get(&self, kind: ArgumentKind) -> Option<Verdict> {
        match kind {
            ArgumentKind::Command => self.command,
            ArgumentKind::Code => self.code,
            ArgumentKind::Sql => self.sql,
            ArgumentKind::Prose => self.prose,
            ArgumentKind::Value => self.value,
        }
    }
}

/// A rule: a prefilter pattern and what its findings mean in each kind of
/// argument.
#[derive(Debug, Clone, Copy)]
pub struct ArgumentRule {
    /// The rule id (stable, kebab-case), also the id of its pattern.
    pub id: &'static str,
    /// What a finding of the rule shows, completing "`/arguments/host` (value) …".
    pub summary: &'static str,
    /// The alternatives of the rule's regular expression, joined with `|`.
    pub alternatives: &'static [&'static str],
    /// The verdict in each kind of argument.
    pub verdicts: KindVerdicts,
}

impl ArgumentRule {
    /// The prefilter pattern that finds the rule's evidence: one regular
    /// expression matching any of the alternatives.
    pub fn pattern(&self) -> Pattern {
        let regex = self
            .alternatives
            .iter()
            .map(|alternative| format!("(?:{alternative})"))
            .collect::<Vec<_>>()
            .join("|");
        Pattern::regex(self.id, regex)
    }
}

/// Applies `rules` to the findings of `call`.
///
/// Each finding of a rule's pattern earns the rule's verdict for the kind of
/// argument it sits in; the outcome has one reason per rule and argument,
/// citing every finding behind it, and naming the argument, its kind and the
/// first matched text. Findings of patterns that are not in `rules` are
/// ignored, so a policy may mix these rules with its own.
pub fn judge_arguments(rules: &[ArgumentRule], call: &ToolCall, findings: &[Finding]) -> Outcome {
    let mut cited: BTreeMap<(usize, &str), (Verdict, ArgumentKind, Vec<u32>)> = BTreeMap::new();
    let mut kinds: BTreeMap<&str, ArgumentKind> = BTreeMap::new();
    for (index, finding) in findings.iter().enumerate() {
        let Some(rule_index) = rules.iter().position(|rule| rule.id == finding.pattern) else {
            continue;
        };
        let kind = *kinds
            .entry(finding.field.as_str())
            .or_insert_with(|| ArgumentKind::of(call, finding));
        let Some(verdict) = rules[rule_index].verdicts.get(kind) else {
            continue;
        };
        cited
            .entry((rule_index, finding.field.as_str()))
            .or_insert_with(|| (verdict, kind, Vec::new()))
            .2
            .push(index as u32);
    }

    let mut outcome = Outcome::allow();
    for ((rule_index, field), (verdict, kind, indices)) in cited {
        let rule = &rules[rule_index];
        let matched = excerpt(&findings[indices[0] as usize].matched);
        outcome.add(
            verdict,
            rule.id,
            format!("{field} ({kind}) {}: \"{matched}\"", rule.summary),
            indices,
        );
    }
    outcome
}

/// The longest excerpt, in characters, that [`excerpt`] keeps.
pub const EXCERPT_CHARS: usize = 80;

/// `text` trimmed and cut to at most [`EXCERPT_CHARS`] characters (with an
/// ellipsis when cut), for quoting matched text in a reason.
pub fn excerpt(text: &str) -> String {
    let trimmed = text.trim();
    match trimmed.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: ArgumentRule = ArgumentRule {
        id: "semicolon",
        summary: "has a semicolon",
        alternatives: &[";", "%3b"],
        verdicts: KindVerdicts {
            command: None,
            code: None,
            sql: None,
            prose: Some(Verdict::Escalate),
            value: Some(Verdict::Deny),
        },
    };

    fn finding(field: &str, matched: &str) -> Finding {
        Finding {
            pattern: "semicolon".into(),
            field: field.into(),
            start: 0,
            end: 1,
            matched: matched.into(),
        }
    }

    #[test]
    fn the_pattern_joins_the_alternatives() {
        let pattern = RULE.pattern();
        assert_eq!(pattern.id, "semicolon");
        assert!(matches!(pattern.matcher, crate::Matcher::Regex(ref r) if r == "(?:;)|(?:%3b)"));
    }

    #[test]
    fn findings_are_judged_by_the_kind_of_their_argument() {
        let call = ToolCall {
            name: "tool".into(),
            arguments: r#"{"command":"a;b","body":"c;d","host":"e;f%3b"}"#.into(),
            tool: None,
        };
        let findings = [
            finding("/arguments/command", ";"),
            finding("/arguments/body", ";"),
            finding("/arguments/host", ";"),
            finding("/arguments/host", "%3b"),
        ];
        let outcome = judge_arguments(&[RULE], &call, &findings);
        assert_eq!(outcome.verdict, Verdict::Deny);
        let reasons: Vec<(&str, &[u32])> = outcome
            .reasons
            .iter()
            .map(|r| (r.message.as_str(), r.findings.as_slice()))
            .collect();
        assert_eq!(
            reasons,
            [
                (
                    "/arguments/body (free text) has a semicolon: \";\"",
                    &[1][..]
                ),
                (
                    "/arguments/host (value) has a semicolon: \";\"",
                    &[2, 3][..]
                ),
            ]
        );
    }

    #[test]
    fn excerpts_are_trimmed_and_cut_on_a_character_boundary() {
        let long = "é".repeat(100);
        assert_eq!(excerpt(&long).chars().count(), EXCERPT_CHARS + 1);
        assert_eq!(excerpt("  short "), "short");
    }
}
