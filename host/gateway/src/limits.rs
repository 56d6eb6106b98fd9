//! Rate limits: token buckets per principal (and per tool), in front of
//! the policies. A [`RateLimited`] decider decides a call as the policies
//! do, then takes a token from each bucket the call falls in; a call that
//! finds a bucket empty gets the rule's verdict (deny, or escalate to a
//! human) with a reason that names the limit. Buckets are kept per tenant
//! and principal across all of its sessions: opening another session does
//! not refill them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use portcullis::{Context, Decider, Decision, Event, Reason, SessionState, Verdict};
use serde::Deserialize;

/// The policy name of the gateway's own decisions.
const GATEWAY_POLICY: &str = "portcullis-gateway";

/// One `[[rate_limits]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RateLimit {
    /// The tenant the limit applies to (default: every tenant).
    #[serde(default)]
    pub tenant: Option<String>,
    /// The tool it applies to (default: every call, whatever the tool).
    #[serde(default)]
    pub tool: Option<String>,
    /// Calls per minute, each principal on its own: the rate the bucket
    /// refills at.
    pub per_minute: f64,
    /// How many calls may come at once: the bucket's size (default: one
    /// minute's worth).
    #[serde(default)]
    pub burst: Option<f64>,
    /// What a call over the limit gets: `deny` (the default) or `escalate`.
    #[serde(default = "default_over")]
    pub over: Verdict,
}

fn default_over() -> Verdict {
    Verdict::Deny
}

impl RateLimit {
    fn capacity(&self) -> f64 {
        self.burst.unwrap_or(self.per_minute).max(1.0)
    }

    fn applies(&self, context: &Context, tool: &str) -> bool {
        self.tenant
            .as_ref()
            .is_none_or(|tenant| context.tenant.as_ref() == Some(tenant))
            && self.tool.as_ref().is_none_or(|name| name == tool)
    }
}

/// A bucket: its tokens, as of when.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A decider that applies rate limits to the calls `inner` decides.
pub struct RateLimited {
    inner: Arc<dyn Decider>,
    limits: Vec<RateLimit>,
    /// By (limit, tenant, principal).
    buckets: Mutex<HashMap<(usize, String, String), Bucket>>,
}

impl std::fmt::Debug for RateLimited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimited")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl RateLimited {
    /// `inner`, with `limits` on its calls.
    pub fn new(inner: Arc<dyn Decider>, limits: Vec<RateLimit>) -> RateLimited {
        RateLimited {
            inner,
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token from every bucket `call` falls in, at `now`; the
    /// limits it found empty.
    fn take(&self, context: &Context, tool: &str, now: Instant) -> Vec<&RateLimit> {
        let tenant = context.tenant.clone().unwrap_or_default();
        let principal = context
            .principal
            .as_ref()
            .map(|principal| principal.subject.clone())
            .unwrap_or_default();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut exceeded = Vec::new();
        for (index, limit) in self.limits.iter().enumerate() {
            if !limit.applies(context, tool) {
                continue;
            }
            let bucket = buckets
                .entry((index, tenant.clone(), principal.clone()))
                .or_insert(Bucket {
                    tokens: limit.capacity(),
                    at: now,
                });
            let refill =
                now.saturating_duration_since(bucket.at).as_secs_f64() * limit.per_minute / 60.0;
            bucket.tokens = (bucket.tokens + refill).min(limit.capacity());
            bucket.at = now;
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
            } else {
                exceeded.push(limit);
            }
        }
        exceeded
    }
}

impl Decider for RateLimited {
    fn decide(&self, context: &Context, event: &Event, session: &SessionState) -> Decision {
        let mut decision = self.inner.decide(context, event, session);
        let Event::Call(call) = event else {
            return decision;
        };
        // A call the policies refuse does not run, and costs no token.
        if decision.verdict == Verdict::Deny {
            return decision;
        }
        for limit in self.take(context, &call.name, Instant::now()) {
            let scope = match &limit.tool {
                Some(tool) => format!("calls to `{tool}`"),
                None => "calls".to_owned(),
            };
            decision.verdict = decision.verdict.max(limit.over);
            decision.reasons.push(Reason::new(
                GATEWAY_POLICY,
                "rate-limit",
                format!(
                    "over the limit of {} {scope} per minute (bursts of {}) for this principal",
                    limit.per_minute,
                    limit.capacity()
                ),
            ));
        }
        decision
    }

    fn generation(&self) -> u64 {
        self.inner.generation()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use portcullis::{Principal, ToolCall};
    use serde_json::json;

    use super::*;

    /// Allows everything.
    struct AllowAll;

    impl Decider for AllowAll {
        fn decide(&self, _: &Context, _: &Event, _: &SessionState) -> Decision {
            Decision::new(Verdict::Allow, Reason::new("test", "allow", "allowed"), 1)
        }
        fn generation(&self) -> u64 {
            1
        }
    }

    fn limit(toml: &str) -> RateLimit {
        toml::from_str(toml).unwrap()
    }

    fn context(tenant: &str, subject: &str) -> Context {
        Context::new("s", "server")
            .with_tenant(tenant)
            .with_principal(Principal::new(subject, json!({})))
    }

    fn call(limited: &RateLimited, context: &Context, tool: &str) -> Decision {
        let event = Event::Call(ToolCall {
            name: tool.to_owned(),
            arguments: json!({}),
            tool: None,
        });
        limited.decide(context, &event, &SessionState::new(Default::default()))
    }

    #[test]
    fn a_principal_past_its_burst_is_refused_with_a_reason_and_others_are_not() {
        let limited =
            RateLimited::new(Arc::new(AllowAll), vec![limit("per_minute = 1\nburst = 2")]);
        let alice = context("acme", "alice");
        assert_eq!(call(&limited, &alice, "send").verdict, Verdict::Allow);
        assert_eq!(call(&limited, &alice, "read").verdict, Verdict::Allow);
        let refused = call(&limited, &alice, "send");
        assert_eq!(refused.verdict, Verdict::Deny);
        let reason = refused.reasons.last().unwrap();
        assert_eq!(
            (reason.policy.as_str(), reason.rule.as_str()),
            (GATEWAY_POLICY, "rate-limit")
        );
        assert_eq!(
            call(&limited, &context("acme", "bob"), "send").verdict,
            Verdict::Allow
        );
        assert_eq!(
            call(&limited, &context("globex", "alice"), "send").verdict,
            Verdict::Allow,
            "the same subject in another tenant is another principal"
        );
    }

    #[test]
    fn a_limit_may_name_a_tool_and_a_tenant_and_escalate() {
        let limited = RateLimited::new(
            Arc::new(AllowAll),
            vec![limit(
                "tenant = \"acme\"\ntool = \"send\"\nper_minute = 1\nburst = 1\nover = \"escalate\"",
            )],
        );
        let alice = context("acme", "alice");
        assert_eq!(call(&limited, &alice, "send").verdict, Verdict::Allow);
        assert_eq!(call(&limited, &alice, "send").verdict, Verdict::Escalate);
        assert_eq!(call(&limited, &alice, "read").verdict, Verdict::Allow);
        let globex = context("globex", "alice");
        for _ in 0..3 {
            assert_eq!(call(&limited, &globex, "send").verdict, Verdict::Allow);
        }
    }

    #[test]
    fn a_bucket_refills_at_its_rate() {
        let limited = RateLimited::new(
            Arc::new(AllowAll),
            vec![limit("per_minute = 60\nburst = 1")],
        );
        let alice = context("acme", "alice");
        let start = Instant::now();
        assert!(limited.take(&alice, "t", start).is_empty());
        assert_eq!(
            limited
                .take(&alice, "t", start + Duration::from_millis(500))
                .len(),
            1
        );
        assert!(
            limited
                .take(&alice, "t", start + Duration::from_millis(1600))
                .is_empty()
        );
    }
}
