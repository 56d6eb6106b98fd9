//! OAuth 2.1 access tokens as the MCP authorization spec has a resource
//! server check them: a JWS signed by a key of the issuer's JWKS, with an
//! allowed algorithm, this issuer, this resource as audience, and a live
//! `exp`/`nbf`. The keys are fetched on first use, refetched when a token
//! names a key not seen yet (the issuer rotated its keys), at most once per
//! [`MIN_REFRESH`], and every [`MAX_KEY_AGE`] whatever happens.

use std::str::FromStr;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use portcullis::Principal;
use serde_json::Value;
use tokio::sync::Mutex;

use super::{AuthError, DEFAULT_TENANT, Identity};
use crate::config::OAuthConfig;

/// How soon the keys may be refetched for an unknown key id: a flood of
/// tokens naming made-up keys costs the issuer one request per interval.
const MIN_REFRESH: Duration = Duration::from_secs(30);

/// How long fetched keys are trusted: a key the issuer withdrew stops
/// working within this time.
const MAX_KEY_AGE: Duration = Duration::from_secs(10 * 60);

/// How long a fetch from the issuer may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Validates tokens of one issuer for one audience.
#[derive(Debug)]
pub(super) struct JwtValidator {
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    tenant_claim: Option<String>,
    leeway: u64,
    jwks_uri: Option<String>,
    http: reqwest::Client,
    keys: Mutex<Keys>,
}

#[derive(Debug, Default)]
struct Keys {
    set: Option<JwkSet>,
    fetched: Option<Instant>,
    jwks_uri: Option<String>,
}

impl JwtValidator {
    pub(super) fn new(config: &OAuthConfig, audience: String) -> JwtValidator {
        JwtValidator {
            issuer: config.issuer.clone(),
            audience,
            // The configuration was checked: every name is an algorithm.
            algorithms: config
                .algorithms
                .iter()
                .filter_map(|name| Algorithm::from_str(name).ok())
                .collect(),
            tenant_claim: config.tenant_claim.clone(),
            leeway: config.leeway_secs,
            jwks_uri: config.jwks_uri.clone(),
            http: reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            keys: Mutex::new(Keys::default()),
        }
    }

    /// The identity `token` proves.
    pub(super) async fn validate(&self, token: &str) -> Result<Identity, AuthError> {
        let invalid = |what: String| AuthError::Invalid(what);
        let header = jsonwebtoken::decode_header(token)
            .map_err(|error| invalid(format!("not a JWS: {error}")))?;
        if !self.algorithms.contains(&header.alg) {
            return Err(invalid(format!(
                "the algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let key = self.key(header.kid.as_deref()).await?;
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway;
        let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|error| invalid(error.to_string()))?
            .claims;
        let subject = claims["sub"]
            .as_str()
            .filter(|subject| !subject.is_empty())
            .ok_or_else(|| invalid("the token has no subject".into()))?
            .to_owned();
        let tenant = match &self.tenant_claim {
            None => DEFAULT_TENANT.to_owned(),
            Some(claim) => claims
                .get(claim)
                .and_then(Value::as_str)
                .filter(|tenant| !tenant.is_empty())
                .ok_or_else(|| {
                    invalid(format!(
                        "the token has no {claim:?} claim naming its tenant"
                    ))
                })?
                .to_owned(),
        };
        Ok(Identity {
            tenant,
            principal: Principal::new(subject, claims),
        })
    }

    /// The key `kid` names (without a `kid`, the issuer's only key).
    async fn key(&self, kid: Option<&str>) -> Result<DecodingKey, AuthError> {
        let mut keys = self.keys.lock().await;
        let age = keys.fetched.map(|fetched| fetched.elapsed());
        let stale = age.is_none_or(|age| age >= MAX_KEY_AGE);
        if !stale && let Some(key) = find(keys.set.as_ref(), kid)? {
            return Ok(key);
        }
        if stale || age.is_some_and(|age| age >= MIN_REFRESH) {
            self.refresh(&mut keys).await?;
        }
        find(keys.set.as_ref(), kid)?.ok_or_else(|| {
            AuthError::Invalid(format!("the signing key {kid:?} is not the issuer's"))
        })
    }

    async fn refresh(&self, keys: &mut Keys) -> Result<(), AuthError> {
        let uri = match (&self.jwks_uri, &keys.jwks_uri) {
            (Some(uri), _) | (None, Some(uri)) => uri.clone(),
            (None, None) => {
                let uri = self.discover().await?;
                keys.jwks_uri = Some(uri.clone());
                uri
            }
        };
        let set: JwkSet = self.fetch(&uri).await?;
        tracing::info!(
            keys = set.keys.len(),
            uri,
            "fetched the issuer's signing keys"
        );
        keys.set = Some(set);
        keys.fetched = Some(Instant::now());
        Ok(())
    }

    /// The `jwks_uri` of the issuer's metadata (RFC 8414, else OpenID
    /// discovery), whose `issuer` must be the configured one.
    async fn discover(&self) -> Result<String, AuthError> {
        let base = self.issuer.trim_end_matches('/');
        let mut last = None;
        for well_known in ["oauth-authorization-server", "openid-configuration"] {
            let url = format!("{base}/.well-known/{well_known}");
            match self.fetch::<Value>(&url).await {
                Ok(metadata) => {
                    if metadata["issuer"].as_str() != Some(self.issuer.as_str()) {
                        return Err(AuthError::Unavailable(format!(
                            "{url} names the issuer {}, not {:?}",
                            metadata["issuer"], self.issuer
                        )));
                    }
                    return metadata["jwks_uri"]
                        .as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| AuthError::Unavailable(format!("{url} has no jwks_uri")));
                }
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or_else(|| AuthError::Unavailable("no metadata".into())))
    }

    async fn fetch<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, AuthError> {
        let unavailable = |error: reqwest::Error| AuthError::Unavailable(format!("{url}: {error}"));
        self.http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)
    }
}

/// The key of `set` that `kid` names, or without a `kid` its only key.
fn find(set: Option<&JwkSet>, kid: Option<&str>) -> Result<Option<DecodingKey>, AuthError> {
    let Some(set) = set else {
        return Ok(None);
    };
    let jwk = match kid {
        Some(kid) => set.find(kid),
        None if set.keys.len() == 1 => set.keys.first(),
        None => {
            return Err(AuthError::Invalid(
                "the token names no key (kid) and the issuer has several".into(),
            ));
        }
    };
    jwk.map(|jwk| {
        DecodingKey::from_jwk(jwk).map_err(|error| {
            AuthError::Invalid(format!("the issuer's key cannot be used: {error}"))
        })
    })
    .transpose()
}
