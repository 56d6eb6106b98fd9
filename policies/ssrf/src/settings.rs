//! The operator's exceptions: hosts and address ranges a tool may reach.

use std::net::IpAddr;

use portcullis_sdk::serde::Deserialize;

use crate::urls::Target;

/// `{"allow-hosts": [...], "allow-cidrs": [...]}`.
#[derive(Debug, Default, Deserialize)]
#[serde(
    crate = "portcullis_sdk::serde",
    deny_unknown_fields,
    rename_all = "kebab-case"
)]
pub(crate) struct SsrfSettings {
    /// Host names a tool may reach: exact, or `*.example.com` for its subdomains.
    #[serde(default)]
    allow_hosts: Vec<String>,
    /// Address ranges a tool may reach, such as `127.0.0.0/8`.
    #[serde(default)]
    allow_cidrs: Vec<Cidr>,
}

impl SsrfSettings {
    /// Whether the operator allows `target`'s host.
    pub(crate) fn allows(&self, target: &Target) -> bool {
        let Some(host) = target.host.as_deref() else {
            return false;
        };
        let host = host.trim_end_matches('.');
        let named = self.allow_hosts.iter().any(|allowed| {
            let allowed = allowed.to_ascii_lowercase();
            match allowed.strip_prefix("*.") {
                Some(suffix) => host.ends_with(&format!(".{suffix}")),
                None => host == allowed,
            }
        });
        named
            || target
                .ip
                .is_some_and(|ip| self.allow_cidrs.iter().any(|cidr| cidr.contains(ip)))
    }
}

/// An address range.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(crate = "portcullis_sdk::serde", try_from = "String")]
struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl TryFrom<String> for Cidr {
    type Error = String;

    fn try_from(text: String) -> Result<Cidr, String> {
        let (address, prefix) = text.split_once('/').unwrap_or((&text, ""));
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("`{text}` is not an address range such as 10.0.0.0/8"))?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix.is_empty() {
            bits
        } else {
            prefix
                .parse::<u8>()
                .ok()
                .filter(|&prefix| prefix <= bits)
                .ok_or_else(|| format!("`{text}` has a prefix longer than {bits} bits"))?
        };
        Ok(Cidr { network, prefix })
    }
}

impl Cidr {
    fn contains(&self, ip: IpAddr) -> bool {
        let mask = |bits: u32, width: u32| -> u128 {
            if bits == 0 {
                0
            } else {
                (!0u128 << (width - bits)) & (!0u128 >> (128 - width))
            }
        };
        match (self.network, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                let mask = mask(u32::from(self.prefix), 32);
                u128::from(u32::from(network)) & mask == u128::from(u32::from(ip)) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                let mask = mask(u32::from(self.prefix), 128);
                u128::from(network) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_contain_their_addresses_only() {
        let cidr = Cidr::try_from("10.0.0.0/8".to_owned()).unwrap();
        assert!(cidr.contains("10.255.0.1".parse().unwrap()));
        assert!(!cidr.contains("11.0.0.1".parse().unwrap()));
        assert!(!cidr.contains("::1".parse().unwrap()));
        let one = Cidr::try_from("::1".to_owned()).unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        let all = Cidr::try_from("0.0.0.0/0".to_owned()).unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::try_from("10.0.0.0/33".to_owned()).is_err());
        assert!(Cidr::try_from("ten/8".to_owned()).is_err());
    }
}
