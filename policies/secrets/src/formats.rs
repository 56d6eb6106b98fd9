//! Credential formats, as data: a fixed anchor (usually the issuer's
//! prefix) and the characters and lengths around it.
//!
//! The formats are ported from gitleaks' rule set
//! (<https://github.com/gitleaks/gitleaks>, `cmd/generate/config/rules`,
//! MIT licence, copyright Zachary Rice; see `LICENSE-gitleaks`). Each
//! gitleaks regex of the shape `prefix[charset]{n,m}` becomes one row; the
//! keyword-only rules of gitleaks are covered by the keyed-assignment check
//! instead (`structure.rs`). Matching is a substring search for the anchor
//! and a run of allowed bytes either side, so the whole table costs one
//! pass per anchor and needs no regex engine in the component.

use crate::randomness::is_filler;

/// The bytes a part of a credential may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charset {
    /// `A-Za-z0-9`
    Alnum,
    /// `A-Za-z`
    Letters,
    /// `0-9`
    Digits,
    /// `A-Za-z0-9_`
    Word,
    /// `A-Za-z0-9_-`
    WordDash,
    /// `A-Za-z0-9_.-`
    WordDashDot,
    /// `0-9a-fA-F`
    Hex,
    /// `0-9a-fA-F-`
    HexDash,
    /// `A-Z2-7`, the body of an AWS access key id.
    AwsBody,
    /// Standard base64 with padding: `A-Za-z0-9+/=`.
    Base64,
    /// Either base64 alphabet with padding: `A-Za-z0-9+/=_-`.
    Base64Any,
    /// `A-Za-z0-9_~.-`, Azure AD client secrets.
    AzureSecret,
    /// The bech32 alphabet in upper case, `age` secret keys.
    Bech32Upper,
}

impl Charset {
    pub(crate) fn contains(self, byte: u8) -> bool {
        let word = byte.is_ascii_alphanumeric() || byte == b'_';
        match self {
            Charset::Alnum => byte.is_ascii_alphanumeric(),
            Charset::Letters => byte.is_ascii_alphabetic(),
            Charset::Digits => byte.is_ascii_digit(),
            Charset::Word => word,
            Charset::WordDash => word || byte == b'-',
            Charset::WordDashDot => word || byte == b'-' || byte == b'.',
            Charset::Hex => byte.is_ascii_hexdigit(),
            Charset::HexDash => byte.is_ascii_hexdigit() || byte == b'-',
            Charset::AwsBody => byte.is_ascii_uppercase() || (b'2'..=b'7').contains(&byte),
            Charset::Base64 => byte.is_ascii_alphanumeric() || b"+/=".contains(&byte),
            Charset::Base64Any => word || b"+/=-".contains(&byte),
            Charset::AzureSecret => word || b"~.-".contains(&byte),
            Charset::Bech32Upper => b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L".contains(&byte),
        }
    }
}

/// A run of `charset` bytes of `min..=max` length.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    charset: Charset,
    min: usize,
    max: usize,
}

const fn run(charset: Charset, min: usize, max: usize) -> Option<Run> {
    Some(Run { charset, min, max })
}

/// One credential format.
#[derive(Debug)]
pub(crate) struct Format {
    /// What it is, for the explanation: "GitHub personal access token".
    pub(crate) name: &'static str,
    anchor: &'static str,
    before: Option<Run>,
    after: Option<Run>,
}

const fn format(
    name: &'static str,
    anchor: &'static str,
    before: Option<Run>,
    after: Option<Run>,
) -> Format {
    Format {
        name,
        anchor,
        before,
        after,
    }
}

const fn prefixed(name: &'static str, anchor: &'static str, after: Option<Run>) -> Format {
    format(name, anchor, None, after)
}

use Charset::*;

/// The formats. A prefix is listed once per variant, so that the anchor
/// search stays a plain substring search.
pub(crate) const FORMATS: &[Format] = &[
    prefixed("GitHub personal access token", "ghp_", run(Alnum, 36, 36)),
    prefixed("GitHub OAuth token", "gho_", run(Alnum, 36, 36)),
    prefixed("GitHub user-to-server token", "ghu_", run(Alnum, 36, 36)),
    prefixed("GitHub server-to-server token", "ghs_", run(Alnum, 36, 36)),
    prefixed("GitHub refresh token", "ghr_", run(Alnum, 36, 36)),
    prefixed(
        "GitHub fine-grained token",
        "github_pat_",
        run(Word, 82, 82),
    ),
    prefixed(
        "GitLab personal access token",
        "glpat-",
        run(WordDash, 20, 64),
    ),
    prefixed(
        "GitLab service account token",
        "glsoat-",
        run(WordDash, 20, 64),
    ),
    prefixed("GitLab deploy token", "gldt-", run(WordDash, 20, 64)),
    prefixed("GitLab runner token", "glrt-", run(WordDash, 20, 64)),
    prefixed(
        "GitLab pipeline trigger token",
        "glptt-",
        run(WordDash, 20, 64),
    ),
    prefixed("GitLab feed token", "glft-", run(WordDash, 20, 64)),
    prefixed(
        "GitLab incoming mail token",
        "glimt-",
        run(WordDash, 20, 64),
    ),
    prefixed("GitLab CI/CD job token", "glcbt-", run(WordDash, 20, 64)),
    prefixed("GitLab agent token", "glagent-", run(WordDash, 20, 64)),
    prefixed("GitLab OAuth secret", "gloas-", run(WordDash, 20, 64)),
    prefixed("Anthropic API key", "sk-ant-api03-", run(WordDash, 90, 100)),
    prefixed(
        "Anthropic admin key",
        "sk-ant-admin01-",
        run(WordDash, 90, 100),
    ),
    // "T3BlbkFJ" is base64 for "OpenAI"; every OpenAI key format carries it.
    format(
        "OpenAI API key",
        "T3BlbkFJ",
        run(WordDash, 20, 200),
        run(WordDash, 20, 200),
    ),
    prefixed("AWS access key id", "AKIA", run(AwsBody, 16, 16)),
    prefixed("AWS temporary access key id", "ASIA", run(AwsBody, 16, 16)),
    prefixed("AWS access key id", "ABIA", run(AwsBody, 16, 16)),
    prefixed("AWS access key id", "ACCA", run(AwsBody, 16, 16)),
    prefixed("Google API key", "AIza", run(WordDash, 35, 35)),
    prefixed("Slack bot token", "xoxb-", run(WordDash, 20, 255)),
    prefixed("Slack user token", "xoxp-", run(WordDash, 20, 255)),
    prefixed("Slack app token", "xoxa-", run(WordDash, 20, 255)),
    prefixed("Slack refresh token", "xoxr-", run(WordDash, 20, 255)),
    prefixed("Slack configuration token", "xoxe-", run(WordDash, 20, 255)),
    prefixed("Slack legacy token", "xoxs-", run(WordDash, 20, 255)),
    prefixed(
        "Slack webhook",
        "hooks.slack.com/services/",
        run(Base64, 43, 56),
    ),
    prefixed("Stripe secret key", "sk_live_", run(Alnum, 10, 99)),
    prefixed("Stripe test secret key", "sk_test_", run(Alnum, 10, 99)),
    prefixed("Stripe secret key", "sk_prod_", run(Alnum, 10, 99)),
    prefixed("Stripe restricted key", "rk_live_", run(Alnum, 10, 99)),
    prefixed("Stripe restricted key", "rk_test_", run(Alnum, 10, 99)),
    prefixed("Stripe restricted key", "rk_prod_", run(Alnum, 10, 99)),
    prefixed("Hugging Face token", "hf_", run(Letters, 34, 34)),
    prefixed(
        "Hugging Face organisation token",
        "api_org_",
        run(Letters, 34, 34),
    ),
    prefixed("Notion token", "ntn_", run(Alnum, 46, 46)),
    prefixed("Perplexity API key", "pplx-", run(Alnum, 48, 48)),
    prefixed("PyPI token", "pypi-AgE", run(WordDash, 50, 1000)),
    prefixed("npm token", "npm_", run(Alnum, 36, 36)),
    prefixed(
        "Sentry organisation token",
        "sntrys_eyJ",
        run(Base64Any, 50, 1000),
    ),
    prefixed("Sentry user token", "sntryu_", run(Hex, 64, 64)),
    prefixed("Sourcegraph access token", "sgp_", run(Word, 40, 60)),
    prefixed("Grafana Cloud token", "glc_", run(Base64, 32, 400)),
    prefixed("Grafana service account token", "glsa_", run(Word, 41, 41)),
    prefixed("Heroku API key", "HRKU-AA", run(WordDash, 58, 58)),
    prefixed(
        "HashiCorp Vault service token",
        "hvs.",
        run(WordDash, 90, 120),
    ),
    prefixed(
        "HashiCorp Vault batch token",
        "hvb.",
        run(WordDash, 138, 300),
    ),
    format(
        "Terraform Cloud token",
        ".atlasv1.",
        run(Alnum, 14, 14),
        run(Base64Any, 60, 70),
    ),
    prefixed("Scalingo API token", "tk-us-", run(WordDash, 48, 48)),
    prefixed("Square access token", "EAAA", run(WordDash, 22, 60)),
    prefixed("Square access token", "sq0atp-", run(WordDash, 22, 60)),
    prefixed(
        "Square application secret",
        "sq0csp-",
        run(WordDash, 40, 50),
    ),
    prefixed("Clojars token", "CLOJARS_", run(Alnum, 60, 60)),
    prefixed("Databricks token", "dapi", run(Hex, 32, 34)),
    prefixed("OpenShift token", "sha256~", run(WordDash, 43, 43)),
    prefixed("42 Intra client secret", "s-s4t2ud-", run(Hex, 64, 64)),
    prefixed("42 Intra client secret", "s-s4t2af-", run(Hex, 64, 64)),
    format("MaxMind licence key", "_mmk", run(Word, 36, 36), None),
    prefixed("Prefect API key", "pnu_", run(Alnum, 36, 36)),
    prefixed("ReadMe API key", "rdme_", run(Alnum, 70, 70)),
    prefixed("Cloudflare origin CA key", "v1.0-", run(HexDash, 170, 172)),
    prefixed(
        "Azure storage account key",
        "AccountKey=",
        run(Base64, 86, 88),
    ),
    format(
        "Azure AD client secret",
        "Q~",
        run(AzureSecret, 4, 4),
        run(AzureSecret, 31, 34),
    ),
    prefixed("Artifactory API key", "AKCp", run(Alnum, 69, 69)),
    format(
        "Mailchimp API key",
        "-us",
        run(Hex, 32, 32),
        run(Digits, 1, 2),
    ),
    prefixed("Shopify access token", "shpat_", run(Hex, 32, 32)),
    prefixed("Shopify custom app token", "shpca_", run(Hex, 32, 32)),
    prefixed("Shopify private app token", "shppa_", run(Hex, 32, 32)),
    prefixed("Shopify shared secret", "shpss_", run(Hex, 32, 32)),
    prefixed("SendGrid API key", "SG.", run(WordDashDot, 66, 66)),
    prefixed("DigitalOcean token", "dop_v1_", run(Hex, 64, 64)),
    prefixed("DigitalOcean OAuth token", "doo_v1_", run(Hex, 64, 64)),
    prefixed("DigitalOcean refresh token", "dor_v1_", run(Hex, 64, 64)),
    prefixed("Linear API key", "lin_api_", run(Alnum, 40, 40)),
    prefixed("Postman API key", "PMAK-", run(HexDash, 59, 59)),
    prefixed(
        "age secret key",
        "AGE-SECRET-KEY-1",
        run(Bech32Upper, 58, 58),
    ),
    prefixed("Doppler token", "dp.pt.", run(Alnum, 43, 43)),
    prefixed("Atlassian API token", "ATATT3", run(Base64Any, 150, 250)),
    prefixed("Facebook page access token", "EAAM", run(Alnum, 100, 300)),
    prefixed("Facebook access token", "EAAC", run(Alnum, 100, 300)),
];

/// A credential of a known format found in a text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Known {
    pub(crate) format: &'static Format,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// Every credential of a known format in `text`, in order, without
/// overlaps. A candidate whose random part is filler (`ghp_xxxx…`) is not
/// one.
pub(crate) fn known_in(text: &str) -> Vec<Known> {
    let mut found: Vec<Known> = Vec::new();
    for format in FORMATS {
        for (at, _) in text.match_indices(format.anchor) {
            if let Some(known) = format.match_at(text, at) {
                found.push(known);
            }
        }
    }
    found.sort_by_key(|known| (known.start, std::cmp::Reverse(known.end)));
    let mut kept: Vec<Known> = Vec::with_capacity(found.len());
    for known in found {
        if kept.last().is_none_or(|last| known.start >= last.end) {
            kept.push(known);
        }
    }
    kept
}

impl Format {
    fn match_at(&'static self, text: &str, at: usize) -> Option<Known> {
        let bytes = text.as_bytes();
        let anchor_end = at + self.anchor.len();
        let mut start = at;
        if let Some(before) = self.before {
            while start > 0 && before.charset.contains(bytes[start - 1]) {
                start -= 1;
            }
            if !(before.min..=before.max).contains(&(at - start)) {
                return None;
            }
        }
        if start > 0 && bytes[start - 1].is_ascii_alphanumeric() {
            return None;
        }
        let mut end = anchor_end;
        if let Some(after) = self.after {
            while end < bytes.len() && after.charset.contains(bytes[end]) {
                end += 1;
            }
            if !(after.min..=after.max).contains(&(end - anchor_end)) {
                return None;
            }
        } else if bytes.get(end).is_some_and(u8::is_ascii_alphanumeric) {
            return None;
        }
        // The random part: both runs, without the fixed anchor. Every byte
        // of a run is ASCII, so these are character boundaries.
        let random = format!("{}{}", &text[start..at], &text[anchor_end..end]);
        (!is_filler(&random)).then_some(Known {
            format: self,
            start,
            end,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<&'static str> {
        known_in(text)
            .iter()
            .map(|known| known.format.name)
            .collect()
    }

    #[test]
    fn prefixed_tokens_are_found_with_their_boundaries() {
        let token = "ghp_R7mW2kPq9ZsT4vXc8NbL3yHd6FjG0aQe1uKo";
        assert_eq!(
            names(&format!("token={token}")),
            ["GitHub personal access token"]
        );
        // One character too many is not that format.
        assert!(names(&format!("{token}Z")).is_empty());
        // A prefix glued to a word is not a prefix.
        assert!(names(&format!("xghp_{}", &token[4..])).is_empty());
    }

    #[test]
    fn anchors_inside_the_token_are_found() {
        let mailchimp = "0f4e9c2ab7d35e816c0ad9f2b4e7a163-us21";
        assert_eq!(names(mailchimp), ["Mailchimp API key"]);
        let openai = "sk-proj-Ab3dE5fG7hJ9kL1mN3pQ5rS7T3BlbkFJuV9wX1yZ3aB5cD7eF9gH1";
        assert_eq!(names(openai), ["OpenAI API key"]);
    }

    #[test]
    fn placeholders_are_not_credentials() {
        for text in [
            "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "AKIAXXXXXXXXXXXXXXXX",
            "glpat-XXXXXXXXXXXXXXXXXXXXXXXX",
            "xoxb-000000000000-000000000000-xxxxxxxxxxxx",
        ] {
            assert!(names(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn case_matters_where_the_issuer_fixes_it() {
        assert_eq!(names("AKIA2E7QXNV4MBTRHK5D"), ["AWS access key id"]);
        assert!(names("akia2e7qxnv4mbtrhk5d").is_empty());
    }
}
