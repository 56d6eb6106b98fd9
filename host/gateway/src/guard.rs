//! DNS rebinding: a web page from a foreign name that resolves to this
//! address can reach a loopback gateway from the user's browser. Such a
//! request carries the foreign name as `Host` and the page's `Origin`; both
//! are checked against the names the gateway answers to.

use axum::http::{HeaderMap, header};
use url::Url;

use crate::config::GatewayConfig;

/// The hosts and origins the gateway answers to.
#[derive(Debug, Clone)]
pub struct OriginGuard {
    hosts: Vec<String>,
    origins: Vec<String>,
}

/// Names of the loopback interface, accepted as `Host` on a loopback address.
const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

impl OriginGuard {
    /// The guard of `config`: its public URL's host and origin, the
    /// configured extra ones, and on loopback the loopback names.
    pub fn new(config: &GatewayConfig) -> OriginGuard {
        let public = Url::parse(&config.public_url()).ok();
        let mut hosts: Vec<String> = config
            .listen
            .allowed_hosts
            .iter()
            .map(|host| host.to_ascii_lowercase())
            .collect();
        let mut origins: Vec<String> = config
            .listen
            .allowed_origins
            .iter()
            .filter_map(|origin| Some(Url::parse(origin).ok()?.origin().ascii_serialization()))
            .collect();
        if let Some(public) = &public {
            if let Some(host) = public.host_str() {
                hosts.push(host.to_ascii_lowercase());
            }
            origins.push(public.origin().ascii_serialization());
        }
        if config.listen.address.ip().is_loopback() {
            hosts.extend(LOOPBACK_NAMES.map(str::to_owned));
        }
        OriginGuard { hosts, origins }
    }

    /// Refuses a request whose `Host` is not one of the gateway's names,
    /// or whose `Origin`, when it has one, is not an allowed origin. A
    /// request without `Origin` is not from a browser page.
    ///
    /// # Errors
    /// What was refused, for a 403.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), String> {
        let host = headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .ok_or("the request has no Host header")?;
        let name = host_name(host).to_ascii_lowercase();
        if !self.hosts.contains(&name) {
            return Err(format!(
                "the Host {host:?} is not one this gateway answers to"
            ));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let allowed = origin
                .to_str()
                .ok()
                .and_then(|origin| Url::parse(origin).ok())
                .map(|origin| origin.origin().ascii_serialization())
                .is_some_and(|origin| self.origins.contains(&origin));
            if !allowed {
                return Err(format!("the Origin {origin:?} is not allowed"));
            }
        }
        Ok(())
    }
}

/// The name part of a `Host` header (`example.com:443`, `[::1]:80`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn guard() -> OriginGuard {
        let config = GatewayConfig::parse(
            r#"
            [listen]
            address = "127.0.0.1:8808"
            allowed_origins = ["https://app.example.com"]
            [auth]
            anonymous = true
            [[servers]]
            name = "s"
            command = ["s"]
            "#,
        )
        .unwrap();
        OriginGuard::new(&config)
    }

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers
    }

    #[test]
    fn a_rebound_name_is_refused() {
        let guard = guard();
        for host in [
            "127.0.0.1:8808",
            "localhost:8808",
            "[::1]:8808",
            "LOCALHOST",
        ] {
            guard.check(&headers(host, None)).unwrap();
        }
        for host in [
            "attacker.example:8808",
            "127.0.0.1.attacker.example",
            "localhost.:8808",
        ] {
            assert!(guard.check(&headers(host, None)).is_err(), "{host}");
        }
        assert!(guard.check(&HeaderMap::new()).is_err());
    }

    #[test]
    fn only_the_gateway_and_configured_origins_are_allowed() {
        let guard = guard();
        let host = "127.0.0.1:8808";
        guard
            .check(&headers(host, Some("http://127.0.0.1:8808")))
            .unwrap();
        guard
            .check(&headers(host, Some("https://app.example.com")))
            .unwrap();
        guard
            .check(&headers(host, Some("https://app.example.com:443")))
            .unwrap();
        for origin in [
            "https://attacker.example",
            "null",
            "http://localhost:3000",
            "http://app.example.com",
        ] {
            assert!(
                guard.check(&headers(host, Some(origin))).is_err(),
                "{origin}"
            );
        }
    }
}
