//! The operator's settings for the policies of a set: one JSON value per
//! policy, and per tenant where tenants need something else.
//!
//! A policy sees its settings through the host interface's `settings`
//! function, and checked them once, through its `configure` export, when
//! the set was loaded: a bad setting is a load error, never a surprise at
//! decision time.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Settings for the policies of a set, by policy name.
///
/// Read from JSON as
///
/// ```json
/// {
///   "policies": { "tool-allowlist": { "deny": ["exec", "shell"] } },
///   "tenants": { "acme": { "tool-allowlist": { "deny": ["exec"] } } }
/// }
/// ```
///
/// A tenant's entry for a policy replaces the policy's default settings for
/// that tenant's sessions (it is not merged with them). A policy without an
/// entry gets `{}`. Settings that name a policy the set does not load are a
/// load error, so that a misspelt name is not silently ignored.
///
/// ```
/// use portcullis::Settings;
/// use serde_json::json;
///
/// let settings = Settings::new()
///     .policy("tool-allowlist", json!({ "deny": ["exec"] }))
///     .tenant("acme", "tool-allowlist", json!({ "deny": [] }));
/// assert_eq!(settings, Settings::from_json(r#"{
///     "policies": { "tool-allowlist": { "deny": ["exec"] } },
///     "tenants": { "acme": { "tool-allowlist": { "deny": [] } } }
/// }"#)?);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    policies: BTreeMap<String, Value>,
    #[serde(default)]
    tenants: BTreeMap<String, BTreeMap<String, Value>>,
}

impl Settings {
    /// No settings: every policy gets `{}`.
    pub fn new() -> Settings {
        Settings::default()
    }

    /// Reads settings from their JSON form (see [`Settings`]).
    ///
    /// # Errors
    /// When `text` is not JSON of that shape; the error says where.
    pub fn from_json(text: &str) -> Result<Settings, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Sets the default settings of the policy named `policy`.
    #[must_use]
    pub fn policy(mut self, policy: impl Into<String>, settings: Value) -> Settings {
        self.policies.insert(policy.into(), settings);
        self
    }

    /// Sets the settings of the policy named `policy` for the sessions of `tenant`.
    #[must_use]
    pub fn tenant(
        mut self,
        tenant: impl Into<String>,
        policy: impl Into<String>,
        settings: Value,
    ) -> Settings {
        self.tenants
            .entry(tenant.into())
            .or_default()
            .insert(policy.into(), settings);
        self
    }

    /// Every policy name the settings mention, with where: `None` for the
    /// defaults, the tenant otherwise.
    pub(crate) fn named_policies(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        let defaults = self.policies.keys().map(|name| (name.as_str(), None));
        let tenants = self.tenants.iter().flat_map(|(tenant, policies)| {
            policies
                .keys()
                .map(move |name| (name.as_str(), Some(tenant.as_str())))
        });
        defaults.chain(tenants)
    }

    /// The settings of the policy named `policy`, resolved for every tenant.
    pub(crate) fn resolve(&self, policy: &str) -> PolicySettings {
        let text = |value: &Value| Arc::<str>::from(value.to_string());
        PolicySettings {
            default: self
                .policies
                .get(policy)
                .map_or_else(|| Arc::from("{}"), text),
            tenants: self
                .tenants
                .iter()
                .filter_map(|(tenant, policies)| {
                    policies
                        .get(policy)
                        .map(|value| (tenant.clone(), text(value)))
                })
                .collect(),
        }
    }
}

/// One policy's settings, as the JSON texts the policy is given.
#[derive(Debug, Clone)]
pub(crate) struct PolicySettings {
    default: Arc<str>,
    tenants: HashMap<String, Arc<str>>,
}

impl PolicySettings {
    /// The settings for a session of `tenant`.
    pub(crate) fn for_tenant(&self, tenant: Option<&str>) -> &Arc<str> {
        tenant
            .and_then(|tenant| self.tenants.get(tenant))
            .unwrap_or(&self.default)
    }

    /// Every distinct settings text, with the tenant it was given for
    /// (`None` for the default): what `configure` must accept.
    pub(crate) fn each(&self) -> impl Iterator<Item = (Option<&str>, &Arc<str>)> {
        std::iter::once((None, &self.default)).chain(
            self.tenants
                .iter()
                .map(|(tenant, text)| (Some(tenant.as_str()), text)),
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_tenant_entry_replaces_the_default_for_that_tenant_only() {
        let settings = Settings::new()
            .policy("p", json!({"limit": 1}))
            .tenant("acme", "p", json!({"limit": 2}))
            .tenant("acme", "q", json!({}));
        let p = settings.resolve("p");
        assert_eq!(&**p.for_tenant(None), r#"{"limit":1}"#);
        assert_eq!(&**p.for_tenant(Some("acme")), r#"{"limit":2}"#);
        assert_eq!(&**p.for_tenant(Some("other")), r#"{"limit":1}"#);
        assert_eq!(p.each().count(), 2);
        let unnamed = settings.resolve("r");
        assert_eq!(&**unnamed.for_tenant(Some("acme")), "{}");
        let mut named: Vec<_> = settings.named_policies().collect();
        named.sort_unstable();
        assert_eq!(
            named,
            [("p", None), ("p", Some("acme")), ("q", Some("acme"))]
        );
    }

    #[test]
    fn unknown_top_level_keys_are_refused() {
        let error = Settings::from_json(r#"{"policy": {}}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `policy`"),
            "{error}"
        );
    }
}
