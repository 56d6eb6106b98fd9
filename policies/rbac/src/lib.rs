//! Role-based access to tools: which tools a caller may see and call,
//! from the roles and scopes its access token carries.
//!
//! The settings (per tenant, where tenants differ) name what each role and
//! each scope grants, as tool names or prefixes ending in `*`:
//!
//! ```json
//! {
//!   "roles-claim": "roles",
//!   "roles": {"support": ["search_*", "get_ticket"], "admin": ["*"]},
//!   "scopes": {"tickets:write": ["update_ticket"]}
//! }
//! ```
//!
//! The roles are the claim `roles-claim` names (default `roles`: an array
//! of strings, or one space-separated string); the scopes are the `scope`
//! claim (space-separated, as OAuth writes it) or `scp` (an array). A tool
//! is granted when any of the caller's roles or scopes grants it.
//!
//! - A **tool description** no grant covers is denied (rule
//!   `tool-not-granted`): the host withholds it from the caller's listing,
//!   so the model never learns of it.
//! - A **tool call** no grant covers is denied too (the same rule): a
//!   client that calls a tool it was never shown gets no further.
//! - With no principal (a local, unauthenticated session) the policy
//!   denies everything (rule `no-principal`), since the operator asked for
//!   access control; `"unauthenticated": "allow"` lets such sessions be.
//! - With no `roles` and no `scopes` the policy grants everything: it is
//!   part of the default bundle and inert until configured.

use std::collections::BTreeMap;

use portcullis_sdk::serde::Deserialize;
use portcullis_sdk::serde_json::Value;
use portcullis_sdk::{
    Context, EventKind, Finding, Metadata, Outcome, Policy, SettingError, Tool, ToolCall, Verdict,
    export_policy,
};

/// The policy.
pub struct Rbac;

/// The settings.
#[derive(Debug, Default, Deserialize)]
#[serde(
    crate = "portcullis_sdk::serde",
    deny_unknown_fields,
    rename_all = "kebab-case"
)]
struct Grants {
    /// The claim holding the caller's roles.
    #[serde(default)]
    roles_claim: Option<String>,
    /// What each role grants.
    #[serde(default)]
    roles: BTreeMap<String, Vec<String>>,
    /// What each OAuth scope grants.
    #[serde(default)]
    scopes: BTreeMap<String, Vec<String>>,
    /// `allow` lets sessions without a principal through.
    #[serde(default)]
    unauthenticated: Option<Unauthenticated>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(crate = "portcullis_sdk::serde", rename_all = "lowercase")]
enum Unauthenticated {
    Allow,
    Deny,
}

/// The claim that holds roles when the settings name none.
const DEFAULT_ROLES_CLAIM: &str = "roles";

impl Grants {
    fn configured(&self) -> bool {
        !self.roles.is_empty() || !self.scopes.is_empty()
    }

    /// The patterns `claims` grant, and the roles and scopes they came from.
    fn granted<'a>(&'a self, claims: &Value) -> (Vec<&'a str>, Vec<String>) {
        let roles_claim = self.roles_claim.as_deref().unwrap_or(DEFAULT_ROLES_CLAIM);
        let roles = strings(&claims[roles_claim]);
        let scopes = match claims.get("scope") {
            Some(scope) => strings(scope),
            None => strings(&claims["scp"]),
        };
        let mut patterns = Vec::new();
        let mut held = Vec::new();
        for (name, map) in [(&roles, &self.roles), (&scopes, &self.scopes)] {
            for key in name {
                if let Some(granted) = map.get(key) {
                    patterns.extend(granted.iter().map(String::as_str));
                    held.push(key.clone());
                }
            }
        }
        (patterns, held)
    }

    /// The outcome for the tool `name` in `ctx`.
    fn judge(&self, ctx: &Context, name: &str) -> Outcome {
        if !self.configured() {
            return Outcome::allow();
        }
        let Some(principal) = &ctx.principal else {
            return match self.unauthenticated {
                Some(Unauthenticated::Allow) => Outcome::allow(),
                _ => Outcome::with(
                    Verdict::Deny,
                    "no-principal",
                    format!(
                        "tool `{name}`: access is granted by role, and this session has no authenticated caller"
                    ),
                ),
            };
        };
        let claims: Value =
            portcullis_sdk::serde_json::from_str(&principal.claims).unwrap_or(Value::Null);
        let (patterns, held) = self.granted(&claims);
        if patterns.iter().any(|pattern| covers(pattern, name)) {
            return Outcome::allow();
        }
        let held = if held.is_empty() {
            "no role or scope this policy grants anything to".to_owned()
        } else {
            format!("roles and scopes {}", held.join(", "))
        };
        Outcome::with(
            Verdict::Deny,
            "tool-not-granted",
            format!(
                "tool `{name}` is not granted to `{}` ({held})",
                principal.subject
            ),
        )
    }
}

/// Whether `pattern` (a name, or a prefix ending in `*`) covers `name`.
fn covers(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// The strings of a claim: an array of strings, or one space-separated string.
fn strings(claim: &Value) -> Vec<String> {
    match claim {
        Value::String(text) => text.split_whitespace().map(str::to_owned).collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

impl Policy for Rbac {
    fn metadata() -> Metadata {
        Metadata::new("rbac", env!("CARGO_PKG_VERSION"))
            .on(EventKind::ToolDescription)
            .on(EventKind::ToolCall)
    }

    fn configure(settings: &str) -> Result<(), SettingError> {
        portcullis_sdk::settings::validate::<Grants>(settings)
    }

    fn check_tool(ctx: &Context, tool: &Tool, _findings: &[Finding]) -> Outcome {
        portcullis_sdk::settings::get::<Grants>().judge(ctx, &tool.name)
    }

    fn check_call(ctx: &Context, call: &ToolCall, _findings: &[Finding]) -> Outcome {
        portcullis_sdk::settings::get::<Grants>().judge(ctx, &call.name)
    }
}

export_policy!(Rbac);

#[cfg(test)]
mod tests {
    use portcullis_sdk::Principal;
    use portcullis_sdk::serde_json::json;
    use portcullis_sdk::testing::{self, rules};

    use super::*;

    #[test]
    fn cases() {
        portcullis_sdk::testing::check_cases::<Rbac>(include_str!("../cases.jsonl"));
    }

    const GRANTS: &str = r#"{
        "roles": {"support": ["search_*", "get_ticket"], "admin": ["*"]},
        "scopes": {"tickets:write": ["update_ticket"]}
    }"#;

    fn as_caller(claims: Value) -> Context {
        let mut context = testing::context();
        context.principal = Some(Principal {
            subject: "agent-7".into(),
            claims: claims.to_string(),
        });
        context
    }

    fn call(ctx: &Context, tool: &str) -> Outcome {
        Rbac::check_call(ctx, &testing::call(tool, json!({})), &[])
    }

    #[test]
    fn a_role_grants_its_tools_and_nothing_else() {
        portcullis_sdk::settings::set(GRANTS);
        let support = as_caller(json!({"roles": ["support"]}));
        assert_eq!(call(&support, "search_tickets").verdict, Verdict::Allow);
        assert_eq!(call(&support, "get_ticket").verdict, Verdict::Allow);
        let refused = call(&support, "delete_ticket");
        assert_eq!(rules(&refused), ["tool-not-granted"]);
        assert!(
            refused.reasons[0].message.contains("`agent-7`"),
            "{:?}",
            refused.reasons
        );
        assert_eq!(
            call(&support, "get_ticket_history").verdict,
            Verdict::Deny,
            "a name is exact"
        );
        let listed = testing::tool("delete_ticket", "Deletes a ticket.", json!({}), json!({}));
        assert_eq!(
            Rbac::check_tool(&support, &listed, &[]).verdict,
            Verdict::Deny
        );
        assert_eq!(
            call(&as_caller(json!({"roles": "admin"})), "delete_ticket").verdict,
            Verdict::Allow
        );
    }

    #[test]
    fn scopes_grant_as_oauth_writes_them() {
        portcullis_sdk::settings::set(GRANTS);
        for claims in [
            json!({"scope": "openid tickets:write"}),
            json!({"scp": ["tickets:write"]}),
        ] {
            assert_eq!(
                call(&as_caller(claims.clone()), "update_ticket").verdict,
                Verdict::Allow,
                "{claims}"
            );
            assert_eq!(
                call(&as_caller(claims), "search_tickets").verdict,
                Verdict::Deny
            );
        }
    }

    #[test]
    fn a_configured_policy_refuses_sessions_without_a_caller_unless_told() {
        portcullis_sdk::settings::set(GRANTS);
        assert_eq!(
            rules(&call(&testing::context(), "search_tickets")),
            ["no-principal"]
        );
        portcullis_sdk::settings::set(
            r#"{"roles": {"support": ["*"]}, "unauthenticated": "allow"}"#,
        );
        assert_eq!(
            call(&testing::context(), "search_tickets").verdict,
            Verdict::Allow
        );
        assert_eq!(
            call(&as_caller(json!({})), "search_tickets").verdict,
            Verdict::Deny
        );
    }

    #[test]
    fn unconfigured_it_grants_everything_and_bad_settings_are_refused() {
        portcullis_sdk::settings::set("{}");
        assert_eq!(
            call(&testing::context(), "anything").verdict,
            Verdict::Allow
        );
        assert!(Rbac::configure(r#"{"roles": {"support": "search_*"}}"#).is_err());
        assert!(Rbac::configure(r#"{"unauthenticated": "maybe"}"#).is_err());
        assert!(Rbac::configure(GRANTS).is_ok());
    }
}
