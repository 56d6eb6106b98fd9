//! A policy set: one immutable generation of loaded policies, and how it
//! decides on an event.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::bindings::portcullis::policy::types as wit;
use crate::bindings::{self, WitEvent};
use crate::compiled::{CheckInput, Checked, CompiledPolicy, ConfigureError, PolicyInfo};
use crate::decision::PolicyFailure;
use crate::decision::{
    Decision, FINDINGS_OVERFLOW_RULE, Finding, POLICY_FAILURE_RULE, PolicyReport, Reason,
    SESSION_MISMATCH_RULE, Verdict,
};
use crate::error::LoadError;
use crate::event::{Context, Event};
use crate::instance::WarmInstances;
use crate::runtime::Runtime;
use crate::settings::{PolicySettings, Settings};
use crate::state::SessionState;
use portcullis_text::fields::{call_fields, result_fields, tool_fields};
use portcullis_text::prefilter::{MAX_MATCHES_PER_PATTERN_PER_FIELD, Match, Prefilter, Scan};

/// The last generation number handed out, process-wide.
static GENERATIONS: AtomicU64 = AtomicU64::new(0);

/// One generation of loaded policies. It never changes: to change policies,
/// load a new set and swap it in. Cloning is cheap (the set is shared).
#[derive(Clone)]
pub struct PolicySet {
    generation: Arc<Generation>,
}

struct Generation {
    runtime: Arc<Runtime>,
    number: u64,
    policies: Vec<LoadedPolicy>,
    prefilter: Prefilter,
    /// The pattern ids of every policy, in the order the prefilter knows them.
    pattern_ids: Vec<String>,
}

struct LoadedPolicy {
    policy: Arc<CompiledPolicy>,
    /// The indices of the policy's patterns in the prefilter.
    patterns: Range<usize>,
    /// The policy's idle instances, when the engine reuses them.
    warm: Option<WarmInstances>,
    /// The operator's settings for the policy, which it accepted.
    settings: PolicySettings,
}

impl PolicySet {
    /// Assembles loaded policies, given with their sources, into a new
    /// generation, once each has accepted its `settings`.
    pub(crate) fn new(
        runtime: Arc<Runtime>,
        policies: Vec<(String, Arc<CompiledPolicy>)>,
        settings: &Settings,
    ) -> Result<PolicySet, LoadError> {
        let mut sources: HashMap<&str, &str> = HashMap::new();
        for (source, policy) in &policies {
            if let Some(first) = sources.insert(&policy.info().name, source) {
                return Err(LoadError::DuplicatePolicy {
                    name: policy.info().name.clone(),
                    first: first.to_owned(),
                    second: source.clone(),
                });
            }
        }
        if let Some((policy, tenant)) = settings
            .named_policies()
            .find(|(name, _)| !sources.contains_key(name))
        {
            let mut loaded: Vec<&str> = sources.keys().copied().collect();
            loaded.sort_unstable();
            return Err(LoadError::SettingsForUnknownPolicy {
                policy: policy.to_owned(),
                tenant: tenant.map(str::to_owned),
                loaded: loaded.join(", "),
            });
        }
        let mut patterns = Vec::new();
        let policies: Vec<LoadedPolicy> = policies
            .into_iter()
            .map(|(_, policy)| {
                let settings = settings.resolve(&policy.info().name);
                configure(&runtime, &policy, &settings)?;
                let start = patterns.len();
                patterns.extend_from_slice(policy.patterns());
                let warm = runtime
                    .config
                    .instance_reuse
                    .as_ref()
                    .filter(|reuse| reuse.applies_to(&policy.info().name))
                    .map(|reuse| {
                        WarmInstances::new(reuse.clone(), Arc::clone(&runtime.idle_budget))
                    });
                Ok(LoadedPolicy {
                    patterns: start..patterns.len(),
                    policy,
                    warm,
                    settings,
                })
            })
            .collect::<Result<_, LoadError>>()?;
        let prefilter =
            Prefilter::new(&patterns).map_err(|error| LoadError::Prefilter { source: error })?;
        Ok(PolicySet {
            generation: Arc::new(Generation {
                runtime,
                number: GENERATIONS.fetch_add(1, Ordering::Relaxed) + 1,
                policies,
                prefilter,
                pattern_ids: patterns.into_iter().map(|pattern| pattern.id).collect(),
            }),
        })
    }

    /// The policies of the set, in load order.
    pub fn policies(&self) -> impl Iterator<Item = &PolicyInfo> {
        self.loaded().map(|policy| policy.info())
    }

    /// The set's generation number: unique in the process, larger for sets
    /// loaded later.
    pub fn generation(&self) -> u64 {
        self.generation.number
    }

    /// The loaded policies.
    pub(crate) fn loaded(&self) -> impl Iterator<Item = &Arc<CompiledPolicy>> {
        self.generation.policies.iter().map(|loaded| &loaded.policy)
    }

    /// Decides on `event`.
    ///
    /// Every policy subscribed to the event's kind runs, in a fresh
    /// instance (or a warm one, under
    /// [`instance_reuse`](crate::EngineConfig::instance_reuse)), with the
    /// prefilter findings of its own patterns and the state it keeps in
    /// `session`. The verdict is the strictest of theirs
    /// (allow when no policy is subscribed). A policy that fails gets the
    /// configured fail verdict and a reason with the rule
    /// [`POLICY_FAILURE_RULE`] that names the cause.
    ///
    /// `session` must be the state of `ctx`'s session: one used before for
    /// another tenant or session gets the fail verdict, with the rule
    /// [`SESSION_MISMATCH_RULE`], and no policy runs.
    pub fn evaluate(&self, ctx: &Context, event: &Event, session: &SessionState) -> Decision {
        let generation = &*self.generation;
        let kind = event.kind();
        let mut decision = Decision {
            verdict: Verdict::Allow,
            reasons: Vec::new(),
            policies: Vec::new(),
            generation: generation.number,
        };
        let sequence = match session.enter(ctx.tenant.as_deref(), &ctx.session) {
            Ok(sequence) => sequence,
            Err(message) => {
                decision.verdict = generation.runtime.config.fail_verdict;
                decision
                    .reasons
                    .push(Reason::new("portcullis", SESSION_MISMATCH_RULE, message));
                return decision;
            }
        };
        let subscribed: Vec<&LoadedPolicy> = generation
            .policies
            .iter()
            .filter(|loaded| loaded.policy.wants(kind))
            .collect();
        if subscribed.is_empty() {
            return decision;
        }
        let scan = if subscribed.iter().any(|loaded| !loaded.patterns.is_empty()) {
            let fields = match event {
                Event::Tool(tool) => tool_fields(&tool.text()),
                Event::Call(call) => call_fields(&call.arguments),
                Event::Result(result) => result_fields(&result.response),
            };
            generation.prefilter.scan(&fields)
        } else {
            Scan::default()
        };
        let runtime = &generation.runtime;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        let wit_ctx = bindings::context(ctx, sequence, now_ms);
        let wit_event = WitEvent::from(event);
        for loaded in subscribed {
            let policy = &loaded.policy;
            let info = policy.info();
            let findings = generation.findings_of(loaded, &scan.matches);
            let wit_findings: Vec<wit::Finding> = findings.iter().map(Into::into).collect();
            let input = CheckInput {
                ctx: &wit_ctx,
                event: &wit_event,
                findings: &wit_findings,
                settings: loaded.settings.for_tenant(ctx.tenant.as_deref()),
            };
            let started = Instant::now();
            let result = policy.check(runtime, loaded.warm.as_ref(), session, &input, |outcome| {
                reasons_of(&info.name, outcome, &findings)
            });
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            let (mut verdict, mut reasons, error, labels) = match result {
                Ok(Checked {
                    outcome: (verdict, reasons),
                    labels,
                }) => (verdict, reasons, None, labels),
                Err(failure) => {
                    let verdict = runtime.config.fail_verdict;
                    let reason = Reason {
                        policy: info.name.clone(),
                        rule: POLICY_FAILURE_RULE.to_owned(),
                        message: format!(
                            "policy `{}` failed and counts as {verdict}: {failure}",
                            info.name
                        ),
                        findings: Vec::new(),
                    };
                    (verdict, vec![reason], Some(failure), Vec::new())
                }
            };
            // A policy that was not shown every match of its patterns was
            // blinded, whatever it answered: it counts as failing.
            if let Some(overflow) = scan
                .overflowed
                .iter()
                .find(|overflow| loaded.patterns.contains(&overflow.pattern))
            {
                let fail = runtime.config.fail_verdict;
                verdict = verdict.max(fail);
                reasons.push(Reason {
                    policy: info.name.clone(),
                    rule: FINDINGS_OVERFLOW_RULE.to_owned(),
                    message: format!(
                        "pattern `{}` of policy `{}` matched {} more than {MAX_MATCHES_PER_PATTERN_PER_FIELD} times, more than it is shown, so the policy may not have seen what matters and counts as {fail}",
                        generation.pattern_ids[overflow.pattern], info.name, overflow.field
                    ),
                    findings: Vec::new(),
                });
            }
            decision.verdict = decision.verdict.max(verdict);
            decision.reasons.extend(reasons);
            decision.policies.push(PolicyReport {
                name: info.name.clone(),
                version: info.version.clone(),
                digest: info.digest.clone(),
                verdict,
                micros,
                failure: error,
                labels,
            });
        }
        decision
    }
}

/// Asks `policy` whether it accepts each of its `settings`.
fn configure(
    runtime: &Runtime,
    policy: &CompiledPolicy,
    settings: &PolicySettings,
) -> Result<(), LoadError> {
    let name = &policy.info().name;
    for (tenant, text) in settings.each() {
        match policy.configure(runtime, text) {
            Ok(()) => {}
            Err(ConfigureError::Invalid(invalid)) => {
                return Err(LoadError::InvalidSettings {
                    policy: name.clone(),
                    tenant: tenant.map(str::to_owned),
                    field: invalid.field,
                    message: invalid.message,
                });
            }
            Err(ConfigureError::Failed(cause)) => {
                return Err(LoadError::ConfigureFailed {
                    policy: name.clone(),
                    cause,
                });
            }
        }
    }
    Ok(())
}

impl Generation {
    /// The findings of `loaded`'s own patterns among `matches`.
    fn findings_of(&self, loaded: &LoadedPolicy, matches: &[Match]) -> Vec<Finding> {
        matches
            .iter()
            .filter(|found| loaded.patterns.contains(&found.pattern))
            .map(|found| Finding {
                pattern: self.pattern_ids[found.pattern].clone(),
                field: found.field.clone(),
                start: found.start,
                end: found.end,
                matched: found.matched.clone(),
            })
            .collect()
    }
}

/// The verdict and reasons of `outcome`, with each cited finding index
/// resolved against the `findings` the policy was given.
fn reasons_of(
    policy: &str,
    outcome: wit::Outcome,
    findings: &[Finding],
) -> Result<(Verdict, Vec<Reason>), PolicyFailure> {
    let reasons = outcome
        .reasons
        .into_iter()
        .map(|reason| {
            let cited = reason
                .findings
                .iter()
                .map(|&index| {
                    usize::try_from(index)
                        .ok()
                        .and_then(|index| findings.get(index))
                        .cloned()
                        .ok_or_else(|| {
                            PolicyFailure::InvalidOutcome(format!(
                                "reason `{}` cites finding {index}, but the policy was given {} findings",
                                reason.rule,
                                findings.len()
                            ))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Reason {
                policy: policy.to_owned(),
                rule: reason.rule,
                message: reason.message,
                findings: cited,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((outcome.verdict.into(), reasons))
}

impl fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicySet")
            .field("generation", &self.generation.number)
            .field("policies", &self.policies().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(pattern: &str) -> Finding {
        Finding {
            pattern: pattern.into(),
            field: "/arguments/command".into(),
            start: 0,
            end: 1,
            matched: ";".into(),
        }
    }

    fn outcome(verdict: wit::Verdict, cited: Vec<u32>) -> wit::Outcome {
        wit::Outcome {
            verdict,
            reasons: vec![wit::Reason {
                rule: "rule".into(),
                message: "message".into(),
                findings: cited,
            }],
        }
    }

    #[test]
    fn reasons_cite_the_findings_by_index() {
        let findings = [finding("a"), finding("b")];
        let (verdict, reasons) =
            reasons_of("p", outcome(wit::Verdict::Escalate, vec![1]), &findings).unwrap();
        assert_eq!(verdict, Verdict::Escalate);
        assert_eq!(reasons[0].policy, "p");
        assert_eq!(reasons[0].findings, vec![finding("b")]);
    }

    #[test]
    fn a_finding_index_out_of_range_is_a_policy_failure() {
        let findings = [finding("a")];
        let failure =
            reasons_of("p", outcome(wit::Verdict::Allow, vec![0, 1]), &findings).unwrap_err();
        assert!(matches!(failure, PolicyFailure::InvalidOutcome(_)));
        assert!(failure.to_string().contains("cites finding 1"), "{failure}");
    }
}
