//! What a SQL statement or a document-store filter does to access control
//! and to secrets, read from its structure: statements that switch off
//! row-level security or grant to everyone, reads of credential columns
//! and tables, copies between tables, and query operators smuggled into a
//! login filter.

use portcullis_sdk::serde_json::Value;
use portcullis_sdk::{ArgumentText, Verdict, words};

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Access {
    pub(crate) rule: &'static str,
    pub(crate) verdict: Verdict,
    pub(crate) message: String,
}

/// The identifiers and keywords of a SQL text as written, split at
/// punctuation (so `public.users` is two).
fn sql_identifiers(sql: &str) -> Vec<&str> {
    sql.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|word| !word.is_empty())
        .collect()
}

fn contains_sequence(words: &[String], sequence: &[&str]) -> bool {
    words.windows(sequence.len()).any(|window| {
        window
            .iter()
            .zip(sequence)
            .all(|(word, expected)| word == expected)
    })
}

/// Roles that mean "everyone" in Postgres and in Supabase, where `anon` is
/// whoever holds the public API key.
const EVERYONE: &[&str] = &["PUBLIC", "ANON", "AUTHENTICATED"];

/// Words of an identifier that name a credential or a secret.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "secrets",
    "token",
    "tokens",
    "credential",
    "credentials",
    "apikey",
    "ssn",
    "cvv",
];
const SECRET_COMPOUNDS: &[&str] = &[
    "api_key",
    "api_keys",
    "private_key",
    "access_key",
    "card_number",
    "credit_card",
];

fn names_secret(identifier: &str) -> bool {
    let lower = identifier.to_ascii_lowercase();
    SECRET_COMPOUNDS
        .iter()
        .any(|compound| lower.contains(compound))
        || words(identifier)
            .iter()
            .any(|word| SECRET_WORDS.contains(&word.as_str()))
}

/// Judges one SQL argument.
pub(crate) fn judge_sql(field: &str, sql: &str) -> Vec<Access> {
    let identifiers = sql_identifiers(sql);
    let words: Vec<String> = identifiers
        .iter()
        .map(|word| word.to_ascii_uppercase())
        .collect();
    let mut found = Vec::new();
    let downgrade = contains_sequence(&words, &["DISABLE", "ROW", "LEVEL", "SECURITY"])
        || contains_sequence(&words, &["NO", "FORCE", "ROW", "LEVEL", "SECURITY"])
        || contains_sequence(&words, &["ROW_SECURITY", "OFF"])
        || contains_sequence(&words, &["ROW_SECURITY", "TO", "OFF"])
        || (words.first().is_some_and(|w| w == "ALTER")
            && words.iter().any(|w| w == "ROLE" || w == "USER")
            && words.iter().any(|w| w == "SUPERUSER" || w == "BYPASSRLS"));
    if downgrade {
        found.push(Access {
            rule: "security-downgrade",
            verdict: Verdict::Deny,
            message: format!("{field} switches off row-level security or raises a role above it"),
        });
    }
    let grants_everyone = words.iter().enumerate().any(|(index, word)| {
        word == "GRANT"
            && words[index..]
                .iter()
                .skip_while(|w| *w != "TO")
                .nth(1)
                .is_some_and(|grantee| EVERYONE.contains(&grantee.as_str()))
    });
    if grants_everyone {
        found.push(Access {
            rule: "grant-to-everyone",
            verdict: Verdict::Deny,
            message: format!(
                "{field} grants privileges to a role everyone holds (public, anon, authenticated)"
            ),
        });
    }
    let reads = words.first().is_some_and(|w| w == "SELECT" || w == "WITH");
    let secret = identifiers
        .iter()
        .find(|identifier| names_secret(identifier));
    let copies = (words.first().is_some_and(|w| w == "INSERT")
        && words.iter().any(|w| w == "SELECT"))
        || (words.first().is_some_and(|w| w == "UPDATE")
            && words.iter().skip(1).any(|w| w == "SELECT"));
    if copies {
        // Copying secrets into another table is how the Supabase support
        // ticket leak worked: the agent's privileges, the attacker's table.
        let (verdict, what) = match secret {
            Some(secret) => (Verdict::Deny, format!(", including `{secret}`,")),
            None => (Verdict::Escalate, String::new()),
        };
        found.push(Access {
            rule: "cross-table-copy",
            verdict,
            message: format!("{field} copies rows{what} from one table into another, where other readers may see them"),
        });
    } else if let Some(secret) = secret
        && (reads || contains_sequence(&words, &["RETURNING"]))
    {
        found.push(Access {
            rule: "credential-read",
            verdict: Verdict::Escalate,
            message: format!("{field} reads `{secret}`, which holds credentials or secrets"),
        });
    }
    found
}

/// Query operators that turn an equality filter into "anything" or run
/// code in the store.
const MATCH_ANYTHING: &[&str] = &[
    "$ne", "$gt", "$gte", "$lt", "$lte", "$regex", "$exists", "$nin", "$in", "$not", "$expr",
];
const RUNS_CODE: &[&str] = &["$where", "$function", "$accumulator"];

/// Field names of login and lookup filters.
const IDENTITY_WORDS: &[&str] = &[
    "username", "user", "login", "email", "password", "pass", "passwd", "token", "secret", "pin",
    "otp", "code", "apikey", "key",
];

/// An operator object under an identity key (`{"password": {"$ne": null}}`),
/// or a code-running operator anywhere, in an argument or in a string that
/// holds JSON.
pub(crate) fn judge_document(argument: &ArgumentText<'_>) -> Vec<Access> {
    let text = argument.text.trim();
    if !(text.starts_with('{') && text.contains('$')) {
        return Vec::new();
    }
    match portcullis_sdk::serde_json::from_str::<Value>(text) {
        Ok(document) => judge_filter(&argument.field, &document, argument.key),
        Err(_) => Vec::new(),
    }
}

/// Judges a filter document found at `field` under `key`.
pub(crate) fn judge_filter(field: &str, document: &Value, key: Option<&str>) -> Vec<Access> {
    let mut found = Vec::new();
    walk(field, document, key, &mut found);
    found
}

fn walk(field: &str, value: &Value, key: Option<&str>, found: &mut Vec<Access>) {
    let Some(object) = value.as_object() else {
        if let Value::Array(items) = value {
            for (index, item) in items.iter().enumerate() {
                walk(&format!("{field}/{index}"), item, key, found);
            }
        }
        return;
    };
    let identity = key.is_some_and(|key| {
        words(key)
            .iter()
            .any(|w| IDENTITY_WORDS.contains(&w.as_str()))
    });
    for (name, member) in object {
        if RUNS_CODE.contains(&name.as_str()) {
            found.push(Access {
                rule: "nosql-code",
                verdict: Verdict::Deny,
                message: format!("{field} carries `{name}`, which runs code inside the database"),
            });
        } else if identity && MATCH_ANYTHING.contains(&name.as_str()) {
            found.push(Access {
                rule: "nosql-operator",
                verdict: Verdict::Deny,
                message: format!("{field} puts the operator `{name}` where a {} value belongs, so the filter matches any record", key.unwrap_or("")),
            });
        }
        let next_key = if name.starts_with('$') {
            key
        } else {
            Some(name.as_str())
        };
        walk(
            &format!("{field}/{}", portcullis_sdk::escape_pointer_segment(name)),
            member,
            next_key,
            found,
        );
    }
}

#[cfg(test)]
mod tests {
    use portcullis_sdk::serde_json::json;

    use super::*;

    fn sql_rules(sql: &str) -> Vec<&'static str> {
        judge_sql("/q", sql).iter().map(|a| a.rule).collect()
    }

    #[test]
    fn access_control_downgrades() {
        assert_eq!(
            sql_rules("alter table public.tickets disable row level security;"),
            ["security-downgrade"]
        );
        assert_eq!(
            sql_rules("ALTER ROLE app_user WITH BYPASSRLS"),
            ["security-downgrade"]
        );
        assert_eq!(
            sql_rules("GRANT SELECT ON ALL TABLES IN SCHEMA public TO anon"),
            ["grant-to-everyone"]
        );
        assert!(sql_rules("GRANT SELECT ON reports TO analyst").is_empty());
        assert!(sql_rules("ALTER TABLE tickets ENABLE ROW LEVEL SECURITY").is_empty());
    }

    #[test]
    fn credential_reads_and_copies() {
        assert_eq!(
            sql_rules("SELECT email, password_hash FROM users"),
            ["credential-read"]
        );
        assert_eq!(
            sql_rules("select * from integration_tokens limit 5"),
            ["credential-read"]
        );
        assert!(sql_rules("SELECT id, title FROM tickets WHERE status = 'open'").is_empty());
        let leak = judge_sql(
            "/q",
            "INSERT INTO support_messages (body) SELECT token FROM access_tokens",
        );
        assert_eq!(leak.len(), 1);
        assert_eq!(
            (leak[0].rule, leak[0].verdict),
            ("cross-table-copy", Verdict::Deny)
        );
        let copy = judge_sql(
            "/q",
            "INSERT INTO archive SELECT * FROM orders WHERE year < 2020",
        );
        assert_eq!(
            (copy[0].rule, copy[0].verdict),
            ("cross-table-copy", Verdict::Escalate)
        );
    }

    #[test]
    fn operators_in_login_filters() {
        let rules = |document: Value| -> Vec<&'static str> {
            judge_filter("/arguments/filter", &document, None)
                .iter()
                .map(|a| a.rule)
                .collect()
        };
        assert_eq!(
            rules(json!({"username": "admin", "password": {"$ne": null}})),
            ["nosql-operator"]
        );
        assert_eq!(rules(json!({"$where": "sleep(1000)"})), ["nosql-code"]);
        assert!(
            rules(json!({"age": {"$gt": 30}})).is_empty(),
            "a range on a plain field"
        );
        assert!(rules(json!({"username": "admin"})).is_empty());
    }
}
