//! The policy's settings.

use portcullis_sdk::serde::Deserialize;

/// `{"internal-domains": ["example.com"]}`: mail to these domains (and
/// their subdomains) and URLs on them stay inside the organisation, so a
/// secret sent there is escalated rather than denied.
#[derive(Debug, Default, Deserialize)]
#[serde(
    crate = "portcullis_sdk::serde",
    default,
    deny_unknown_fields,
    rename_all = "kebab-case"
)]
pub(crate) struct SecretsSettings {
    internal_domains: Vec<String>,
}

impl SecretsSettings {
    /// Whether `host` is one of the internal domains or below one.
    pub(crate) fn is_internal(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.internal_domains.iter().any(|domain| {
            let domain = domain.trim_start_matches("*.").to_ascii_lowercase();
            host == domain || host.ends_with(&format!(".{domain}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains_are_internal() {
        let settings: SecretsSettings =
            portcullis_sdk::serde_json::from_str(r#"{"internal-domains": ["corp.example"]}"#)
                .unwrap();
        assert!(settings.is_internal("corp.example"));
        assert!(settings.is_internal("Mail.Corp.Example."));
        assert!(!settings.is_internal("corp.example.evil"));
        assert!(!settings.is_internal("notcorp.example"));
    }
}
