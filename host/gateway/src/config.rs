//! The gateway's configuration: one TOML file.
//!
//! ```toml
//! [listen]
//! address = "127.0.0.1:8808"
//! public_url = "https://mcp.example.com"    # what clients connect to
//! allowed_origins = ["https://app.example.com"]
//! # tls = { cert = "cert.pem", key = "key.pem" }  # required off loopback
//!
//! [auth.oauth]
//! issuer = "https://login.example.com"
//! tenant_claim = "org"                       # the claim naming the tenant
//!
//! [[auth.api_keys]]
//! name = "ci"
//! tenant = "acme"
//! sha256 = "…"                               # of the key, in hex
//!
//! [[servers]]
//! name = "files"
//! command = ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/srv"]
//!
//! [policies]
//! dir = "policies"                           # default: the embedded ones
//! settings = "settings.json"
//!
//! [audit]
//! path = "audit.jsonl"
//!
//! [[rate_limits]]                            # per principal
//! tool = "send_email"                        # default: every call
//! per_minute = 10
//! burst = 3
//! over = "escalate"                          # default: deny
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use portcullis::Verdict;
use serde::Deserialize;

pub use crate::limits::RateLimit;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct GatewayConfig {
    /// Where and how the gateway listens.
    pub listen: ListenConfig,
    /// Who may connect.
    pub auth: AuthConfig,
    /// The MCP servers behind the gateway, each at `/mcp/<name>`.
    #[serde(default)]
    pub servers: Vec<ServerConfig>,
    /// The policies and their settings.
    #[serde(default)]
    pub policies: PoliciesConfig,
    /// The audit log.
    #[serde(default)]
    pub audit: Option<AuditConfig>,
    /// Limits on sessions.
    #[serde(default)]
    pub sessions: SessionLimits,
    /// Rate limits on calls, per principal.
    #[serde(default)]
    pub rate_limits: Vec<RateLimit>,
}

/// `[listen]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ListenConfig {
    /// The socket address to bind.
    pub address: SocketAddr,
    /// The URL clients reach the gateway at, without a path (default:
    /// `http://<address>`). The protected resource metadata names it, and
    /// tokens must be issued for it unless `auth.oauth.audience` says
    /// otherwise.
    #[serde(default)]
    pub public_url: Option<String>,
    /// The `Host` names (without port) a request may carry, besides the
    /// host of `public_url` and, on loopback, `localhost`, `127.0.0.1` and
    /// `[::1]`. Any other is refused: DNS rebinding points a foreign name
    /// at this address.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// The origins (`scheme://host[:port]`) a browser request may come
    /// from, besides the gateway's own.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// TLS: required unless the address is loopback.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

/// `[listen.tls]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TlsConfig {
    /// The certificate chain, PEM.
    pub cert: PathBuf,
    /// The private key, PEM.
    pub key: PathBuf,
}

/// `[auth]`: at least one way to authenticate, or `anonymous` on loopback.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthConfig {
    /// Accept requests without credentials, as the tenant `anonymous`.
    /// Only on a loopback address.
    #[serde(default)]
    pub anonymous: bool,
    /// OAuth 2.1 access tokens (JWTs) from one issuer.
    #[serde(default)]
    pub oauth: Option<OAuthConfig>,
    /// Static API keys, stored as their SHA-256.
    #[serde(default)]
    pub api_keys: Vec<ApiKeyConfig>,
}

/// `[auth.oauth]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OAuthConfig {
    /// The authorization server, as its tokens' `iss` names it.
    pub issuer: String,
    /// Where its signing keys are (default: the `jwks_uri` of its metadata,
    /// `/.well-known/oauth-authorization-server` or
    /// `/.well-known/openid-configuration`).
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// The `aud` tokens must carry (default: `listen.public_url`).
    #[serde(default)]
    pub audience: Option<String>,
    /// The signature algorithms accepted ([`DEFAULT_ALGORITHMS`]): never
    /// `none`, and never a symmetric one, whose key the gateway would have
    /// to share.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// The claim that names the tenant; without it every token is of the
    /// tenant `default`. A token without the claim is refused.
    #[serde(default)]
    pub tenant_claim: Option<String>,
    /// The scopes the protected resource metadata lists.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// How far `exp` and `nbf` may be off, in seconds ([`DEFAULT_LEEWAY_SECS`]).
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
}

/// The default [`OAuthConfig::algorithms`].
pub const DEFAULT_ALGORITHMS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

/// The default [`OAuthConfig::leeway_secs`]: clocks a minute apart still
/// agree, and a stolen token outlives its expiry by no more.
pub const DEFAULT_LEEWAY_SECS: u64 = 60;

fn default_algorithms() -> Vec<String> {
    DEFAULT_ALGORITHMS.map(str::to_owned).to_vec()
}

fn default_leeway() -> u64 {
    DEFAULT_LEEWAY_SECS
}

/// One `[[auth.api_keys]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ApiKeyConfig {
    /// The principal the key stands for, in decisions and audit records.
    pub name: String,
    /// The tenant it belongs to.
    pub tenant: String,
    /// The SHA-256 of the key, in hex: the file never holds the key.
    pub sha256: String,
}

/// One `[[servers]]`: a `command` run over stdio, or the `url` of a remote
/// server speaking Streamable HTTP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Its name: the path `/mcp/<name>`, and the server in decisions.
    pub name: String,
    /// The command that starts it, once per session (stdio).
    #[serde(default)]
    pub command: Vec<String>,
    /// Environment variables for its process: its own credentials, never
    /// the client's.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The endpoint of a remote server (Streamable HTTP): `https://`, or
    /// `http://` on loopback.
    #[serde(default)]
    pub url: Option<String>,
    /// Headers sent with every request to `url`: its own credentials
    /// (`Authorization = "Bearer …"`), never the client's.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// How the gateway reaches a server.
#[derive(Debug, Clone, Copy)]
pub enum Transport<'a> {
    /// A process speaking stdio, started with this command.
    Stdio(&'a [String]),
    /// A remote server at this URL.
    Http(&'a str),
}

impl ServerConfig {
    /// How the gateway reaches the server (the configuration was checked:
    /// it has a command or a URL, not both).
    pub fn transport(&self) -> Transport<'_> {
        match &self.url {
            Some(url) => Transport::Http(url),
            None => Transport::Stdio(&self.command),
        }
    }
}

/// `[policies]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PoliciesConfig {
    /// A directory of policy components (default: the embedded ones).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// The policies' settings, a JSON file (per policy, and per tenant).
    #[serde(default)]
    pub settings: Option<PathBuf>,
}

/// `[audit]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AuditConfig {
    /// The hash-chained log every decision is appended to.
    pub path: PathBuf,
}

/// `[sessions]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SessionLimits {
    /// The most sessions at once ([`DEFAULT_MAX_SESSIONS`]); a new one
    /// beyond is refused with 503.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
    /// The most sessions of one principal ([`DEFAULT_MAX_SESSIONS_PER_PRINCIPAL`]).
    #[serde(default = "default_max_per_principal")]
    pub max_per_principal: usize,
    /// A session nobody used for this long is closed, in seconds
    /// ([`DEFAULT_IDLE_SECS`]).
    #[serde(default = "default_idle_secs")]
    pub idle_secs: u64,
    /// The largest request body, in bytes ([`DEFAULT_MAX_BODY_BYTES`]).
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
}

/// The default [`SessionLimits::max_sessions`]: each is a server process.
pub const DEFAULT_MAX_SESSIONS: usize = 256;
/// The default [`SessionLimits::max_per_principal`]: one principal cannot
/// take every session.
pub const DEFAULT_MAX_SESSIONS_PER_PRINCIPAL: usize = 16;
/// The default [`SessionLimits::idle_secs`].
pub const DEFAULT_IDLE_SECS: u64 = 30 * 60;
/// The default [`SessionLimits::max_body_bytes`], the stdio proxy's frame limit.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

fn default_max_sessions() -> usize {
    DEFAULT_MAX_SESSIONS
}
fn default_max_per_principal() -> usize {
    DEFAULT_MAX_SESSIONS_PER_PRINCIPAL
}
fn default_idle_secs() -> u64 {
    DEFAULT_IDLE_SECS
}
fn default_max_body() -> usize {
    DEFAULT_MAX_BODY_BYTES
}

impl Default for SessionLimits {
    fn default() -> SessionLimits {
        SessionLimits {
            max_sessions: DEFAULT_MAX_SESSIONS,
            max_per_principal: DEFAULT_MAX_SESSIONS_PER_PRINCIPAL,
            idle_secs: DEFAULT_IDLE_SECS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a configuration.
    #[error("{} is not a gateway configuration", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why.
        #[source]
        source: toml::de::Error,
    },
    /// The configuration is well-formed but unsafe or inconsistent.
    #[error("{0}")]
    Invalid(String),
}

impl GatewayConfig {
    /// Reads and checks the configuration in `path`. Relative paths in it
    /// are relative to its directory.
    ///
    /// # Errors
    /// When the file cannot be read or parsed, or [`GatewayConfig::check`] refuses it.
    pub fn load(path: &Path) -> Result<GatewayConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = GatewayConfig::parse(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |file: &mut PathBuf| {
            if file.is_relative() {
                *file = base.join(&*file);
            }
        };
        if let Some(tls) = &mut config.listen.tls {
            resolve(&mut tls.cert);
            resolve(&mut tls.key);
        }
        let files = [
            config.policies.dir.as_mut(),
            config.policies.settings.as_mut(),
        ];
        for file in files.into_iter().flatten() {
            resolve(file);
        }
        if let Some(audit) = &mut config.audit {
            resolve(&mut audit.path);
        }
        config.check()?;
        Ok(config)
    }

    /// Parses a configuration without checking it.
    ///
    /// # Errors
    /// When `text` is not TOML of this shape.
    pub fn parse(text: &str) -> Result<GatewayConfig, toml::de::Error> {
        toml::from_str(text)
    }

    /// The URL clients reach the gateway at, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.listen.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen.address),
        }
    }

    /// Refuses what would make the gateway unsafe: no authentication, an
    /// anonymous or plain-HTTP listener off loopback, a symmetric or `none`
    /// algorithm, a malformed key digest, two servers of one name.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`], saying what to change.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid = |what: String| Err(ConfigError::Invalid(what));
        let loopback = self.listen.address.ip().is_loopback();
        let auth = &self.auth;
        if !auth.anonymous && auth.oauth.is_none() && auth.api_keys.is_empty() {
            return invalid(
                "no authentication configured: add [auth.oauth] or [[auth.api_keys]] (or, on loopback only, auth.anonymous = true)".into(),
            );
        }
        if auth.anonymous && !loopback {
            return invalid(format!(
                "auth.anonymous is for loopback only, and {} is not loopback",
                self.listen.address
            ));
        }
        if !loopback && self.listen.tls.is_none() {
            return invalid(format!(
                "{} is not loopback: configure [listen.tls], tokens must not cross a network in clear",
                self.listen.address
            ));
        }
        if let Some(oauth) = &auth.oauth {
            if oauth.algorithms.is_empty() {
                return invalid("auth.oauth.algorithms is empty".into());
            }
            for algorithm in &oauth.algorithms {
                if !ASYMMETRIC_ALGORITHMS.contains(&algorithm.as_str()) {
                    return invalid(format!(
                        "auth.oauth.algorithms: {algorithm:?} is not an asymmetric JWS algorithm ({})",
                        ASYMMETRIC_ALGORITHMS.join(", ")
                    ));
                }
            }
        }
        for key in &auth.api_keys {
            if key.sha256.len() != 64 || !key.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return invalid(format!(
                    "auth.api_keys {:?}: sha256 must be 64 hex digits (`printf %s KEY | sha256sum`)",
                    key.name
                ));
            }
        }
        let mut names = std::collections::HashSet::new();
        for server in &self.servers {
            let valid = !server.name.is_empty()
                && server
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                return invalid(format!(
                    "servers: {:?} is not a name of letters, digits, '-' and '_'",
                    server.name
                ));
            }
            if !names.insert(&server.name) {
                return invalid(format!("servers: {:?} is named twice", server.name));
            }
            match (&server.url, server.command.is_empty()) {
                (None, true) => {
                    return invalid(format!(
                        "servers {:?}: give a command (stdio) or a url (Streamable HTTP)",
                        server.name
                    ));
                }
                (Some(_), false) => {
                    return invalid(format!(
                        "servers {:?}: a command or a url, not both",
                        server.name
                    ));
                }
                (Some(url), true) => check_upstream_url(&server.name, url)?,
                (None, false) => {}
            }
        }
        for limit in &self.rate_limits {
            let rate_ok = limit.per_minute.is_finite() && limit.per_minute > 0.0;
            let burst_ok = limit
                .burst
                .is_none_or(|burst| burst.is_finite() && burst >= 1.0);
            if !rate_ok || !burst_ok {
                return invalid(
                    "rate_limits: per_minute must be above 0 and burst at least 1".into(),
                );
            }
            if limit.over == Verdict::Allow {
                return invalid(
                    "rate_limits: over is deny or escalate; a limit that allows is none".into(),
                );
            }
        }
        if self.servers.is_empty() {
            return invalid("no [[servers]] configured".into());
        }
        Ok(())
    }
}

/// A remote server's URL must be HTTPS, or HTTP to a loopback address:
/// its credentials must not cross a network in clear.
fn check_upstream_url(name: &str, url: &str) -> Result<(), ConfigError> {
    let parsed = url::Url::parse(url).map_err(|error| {
        ConfigError::Invalid(format!("servers {name:?}: {url:?} is not a URL: {error}"))
    })?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(ConfigError::Invalid(format!(
            "servers {name:?}: {url:?} must be https (or http to loopback)"
        ))),
    }
}

/// The JWS algorithms a resource server can verify with a public key.
pub(crate) const ASYMMETRIC_ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
        [listen]
        address = "127.0.0.1:8808"
        [[servers]]
        name = "files"
        command = ["server"]
    "#;

    fn check(extra: &str) -> Result<(), String> {
        GatewayConfig::parse(&format!("{BASE}\n{extra}"))
            .map_err(|error| error.to_string())?
            .check()
            .map_err(|error| error.to_string())
    }

    #[test]
    fn there_is_no_gateway_without_authentication() {
        let error = check("[auth]").unwrap_err();
        assert!(error.contains("no authentication"), "{error}");
        check("[auth]\nanonymous = true").unwrap();
        check("[auth.oauth]\nissuer = \"https://login.example\"").unwrap();
    }

    #[test]
    fn anonymous_and_plain_http_stay_on_loopback() {
        let public = |auth: &str| {
            GatewayConfig::parse(&format!("{}\n{auth}", BASE.replace("127.0.0.1", "0.0.0.0")))
                .unwrap()
                .check()
                .unwrap_err()
                .to_string()
        };
        assert!(public("[auth]\nanonymous = true").contains("loopback only"));
        assert!(public("[auth.oauth]\nissuer = \"https://l.example\"").contains("listen.tls"));
    }

    #[test]
    fn symmetric_and_none_algorithms_are_refused() {
        for algorithm in ["HS256", "none"] {
            let error = check(&format!(
                "[auth.oauth]\nissuer = \"https://l.example\"\nalgorithms = [\"{algorithm}\"]"
            ))
            .unwrap_err();
            assert!(error.contains("not an asymmetric"), "{error}");
        }
    }

    #[test]
    fn api_keys_are_stored_as_digests() {
        let error = check(
            "[[auth.api_keys]]\nname = \"ci\"\ntenant = \"acme\"\nsha256 = \"my-secret-key\"",
        )
        .unwrap_err();
        assert!(error.contains("64 hex digits"), "{error}");
    }

    #[test]
    fn server_names_are_path_segments_and_unique() {
        let auth = "[auth]\nanonymous = true";
        let twice = format!("{auth}\n[[servers]]\nname = \"files\"\ncommand = [\"other\"]");
        assert!(check(&twice).unwrap_err().contains("named twice"));
        let config = GatewayConfig::parse(&format!(
            "{}\n{auth}",
            BASE.replace("\"files\"", "\"../x\"")
        ))
        .unwrap();
        assert!(
            config
                .check()
                .unwrap_err()
                .to_string()
                .contains("not a name")
        );
    }

    #[test]
    fn a_remote_server_is_reached_over_https_or_on_loopback() {
        let remote = |url: &str| {
            check(&format!(
                "[auth]\nanonymous = true\n[[servers]]\nname = \"remote\"\nurl = \"{url}\""
            ))
        };
        remote("https://mcp.example.com/mcp").unwrap();
        remote("http://127.0.0.1:3001/mcp").unwrap();
        for url in [
            "http://mcp.example.com/mcp",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(remote(url).is_err(), "{url}");
        }
        let both = check(
            "[auth]\nanonymous = true\n[[servers]]\nname = \"r\"\nurl = \"https://a.example\"\ncommand = [\"x\"]",
        );
        assert!(both.unwrap_err().contains("not both"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let error = GatewayConfig::parse(&format!("{BASE}\n[auth]\nanonymus = true")).unwrap_err();
        assert!(error.to_string().contains("anonymus"), "{error}");
    }
}
