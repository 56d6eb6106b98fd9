//! Static API keys, for setups without an authorization server. The
//! configuration holds each key's SHA-256, never the key: a leaked file
//! lets nobody in.

use portcullis::Principal;
use sha2::{Digest, Sha256};

use super::Identity;
use crate::config::ApiKeyConfig;

/// The configured keys, by digest.
#[derive(Debug)]
pub(super) struct ApiKeys {
    keys: Vec<([u8; 32], Identity)>,
}

impl ApiKeys {
    pub(super) fn new(config: &[ApiKeyConfig]) -> ApiKeys {
        let keys = config
            .iter()
            .filter_map(|key| {
                let digest = decode_hex(&key.sha256)?;
                let identity = Identity {
                    tenant: key.tenant.clone(),
                    principal: Principal::new(
                        key.name.clone(),
                        serde_json::json!({"sub": key.name, "api_key": true}),
                    ),
                };
                Some((digest, identity))
            })
            .collect();
        ApiKeys { keys }
    }

    /// The identity of `presented`, if it is one of the keys. Every digest
    /// is compared in full, whatever matches, so the time taken says
    /// nothing about the keys.
    pub(super) fn find(&self, presented: &str) -> Option<Identity> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (key, identity) in &self.keys {
            let difference = key
                .iter()
                .zip(&digest)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if difference == 0 {
                found = Some(identity.clone());
            }
        }
        found
    }
}

fn decode_hex(text: &str) -> Option<[u8; 32]> {
    let mut digest = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (byte, pair) in digest.iter_mut().zip(text.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> ApiKeys {
        ApiKeys::new(&[ApiKeyConfig {
            name: "ci".into(),
            tenant: "acme".into(),
            sha256: hex("correct-horse"),
        }])
    }

    fn hex(key: &str) -> String {
        Sha256::digest(key.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn a_key_is_found_by_its_digest() {
        let identity = keys().find("correct-horse").unwrap();
        assert_eq!(identity.tenant, "acme");
        assert_eq!(identity.principal.subject, "ci");
        assert!(keys().find("correct-horse ").is_none());
        assert!(
            keys().find(&hex("correct-horse")).is_none(),
            "the digest is not the key"
        );
    }
}
