//! Who is calling: every request carries an OAuth access token or an API
//! key, or (on loopback, when configured) nothing, and resolves to an
//! [`Identity`], a tenant and a principal. A request that presents
//! credentials is judged by them: a bad token is never downgraded to
//! anonymous.

mod api_key;
mod jwt;

use axum::http::{HeaderMap, HeaderValue, header};
use portcullis::Principal;
use serde_json::json;

use crate::config::GatewayConfig;
use api_key::ApiKeys;
use jwt::JwtValidator;

/// The tenant of unauthenticated requests, where those are allowed.
pub const ANONYMOUS: &str = "anonymous";

/// The tenant of tokens when no tenant claim is configured.
pub const DEFAULT_TENANT: &str = "default";

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The tenant: sessions, state and settings are kept apart per tenant.
    pub tenant: String,
    /// The caller, with its token's claims.
    pub principal: Principal,
}

impl Identity {
    /// Whether `other` is the same caller: same tenant, same subject.
    pub fn same_owner(&self, other: &Identity) -> bool {
        self.tenant == other.tenant && self.principal.subject == other.principal.subject
    }
}

/// Why a request was not authenticated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credentials, where some are required.
    #[error("authentication required: send an access token as `Authorization: Bearer <token>`")]
    Missing,
    /// The credentials are not valid: a bad signature, issuer, audience,
    /// expiry, an unknown key or API key.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The issuer's keys could not be fetched: nothing can be checked, so
    /// nothing is let in.
    #[error("the authorization server's keys are unavailable: {0}")]
    Unavailable(String),
}

/// Checks credentials against the configured issuer and keys.
#[derive(Debug)]
pub struct Authenticator {
    anonymous: bool,
    api_keys: ApiKeys,
    oauth: Option<JwtValidator>,
    metadata: serde_json::Value,
    metadata_url: String,
}

impl Authenticator {
    /// The authenticator `config` describes.
    pub fn new(config: &GatewayConfig) -> Authenticator {
        let public = config.public_url();
        let audience = config
            .auth
            .oauth
            .as_ref()
            .and_then(|oauth| oauth.audience.clone())
            .unwrap_or_else(|| public.clone());
        let metadata = json!({
            "resource": audience,
            "authorization_servers": config.auth.oauth.iter().map(|oauth| &oauth.issuer).collect::<Vec<_>>(),
            "bearer_methods_supported": ["header"],
            "scopes_supported": config.auth.oauth.as_ref().map(|oauth| oauth.scopes_supported.clone()).unwrap_or_default(),
            "resource_name": "Portcullis MCP gateway",
        });
        Authenticator {
            anonymous: config.auth.anonymous,
            api_keys: ApiKeys::new(&config.auth.api_keys),
            oauth: config
                .auth
                .oauth
                .as_ref()
                .map(|oauth| JwtValidator::new(oauth, audience)),
            metadata,
            metadata_url: format!("{public}/.well-known/oauth-protected-resource"),
        }
    }

    /// The identity behind the request's `Authorization` header.
    ///
    /// # Errors
    /// [`AuthError`]: answer 401 with [`Authenticator::challenge`].
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Identity, AuthError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return if self.anonymous {
                Ok(Identity {
                    tenant: ANONYMOUS.to_owned(),
                    principal: Principal::new(ANONYMOUS, serde_json::Value::Null),
                })
            } else {
                Err(AuthError::Missing)
            };
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                AuthError::Invalid("the Authorization header is not `Bearer <token>`".into())
            })?;
        if let Some(identity) = self.api_keys.find(token) {
            return Ok(identity);
        }
        match &self.oauth {
            Some(oauth) if token.split('.').count() == 3 => oauth.validate(token).await,
            _ => Err(AuthError::Invalid("unknown credentials".into())),
        }
    }

    /// The `WWW-Authenticate` header of a 401 for `error`: where the
    /// protected resource metadata is (RFC 9728), and what was wrong.
    pub fn challenge(&self, error: &AuthError) -> HeaderValue {
        let mut value = format!("Bearer resource_metadata=\"{}\"", self.metadata_url);
        if let AuthError::Invalid(what) = error {
            let what: String = what
                .chars()
                .filter(|c| c.is_ascii_graphic() || *c == ' ')
                .filter(|c| *c != '"' && *c != '\\')
                .collect();
            value.push_str(&format!(
                ", error=\"invalid_token\", error_description=\"{what}\""
            ));
        }
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }

    /// The protected resource metadata (RFC 9728) to serve.
    pub fn metadata(&self) -> &serde_json::Value {
        &self.metadata
    }
}
