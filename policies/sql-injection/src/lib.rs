//! Denies SQL injection where no SQL belongs, and checks what SQL arguments
//! do to the data.
//!
//! Each finding is judged by the kind of argument it sits in
//! ([`ArgumentKind`]). In a plain value (a user name, an order id, a search
//! term) SQL syntax is an injection:
//!
//! | rule | what it finds | verdict in a value |
//! |------|---------------|--------------------|
//! | `union-select` | `UNION [ALL] SELECT` | deny |
//! | `tautology` | an always-true condition: `' or 1=1`, `") or ("a"="a`, `or x=x`, `or true` (a comparison of two different things, as in `status = "open" and type = "bug"`, is not one) | deny |
//! | `string-breakout` | a quote followed by `--`, `#`, `/*` or `;` | deny |
//! | `stacked-query` | `; drop`, `; insert`, `; shutdown`… | deny |
//! | `time-delay` | `sleep(5)`, `pg_sleep(`, `benchmark(`, `waitfor delay`, column-probing `order by 30` | deny |
//! | `database-probe` | `@@version`, `information_schema`, `char(..)+`, `'..'||'..'` | deny |
//! | `out-of-database` | `xp_cmdshell`, `load_file(`, `into outfile`, `pg_read_file(`, `copy … to program`, `dblink(` | deny (also in SQL; escalate in a command) |
//! | `dynamic-sql` | `exec('sel' + 'ect …')`, `sp_executesql` | deny (also in SQL) |
//!
//! In a SQL argument (`sql`, `statement`, or the `query` of a database tool)
//! statements are expected; the policy reads each one and judges its effect:
//!
//! | rule | what it finds | verdict |
//! |------|---------------|---------|
//! | `destructive-statement` | `DROP …`, `TRUNCATE …` | escalate |
//! | `unbounded-write` | `DELETE` or `UPDATE` without `WHERE` | escalate |
//! | `write-in-read-only-tool` | any statement that changes data, schema or grants, sent to a tool that is read-only by its `readOnlyHint` or its name (`read_query`, `select`, `list_…`) | deny |
//!
//! The statement's structure also says what it does to access control and
//! secrets, and a document-store filter what it matches:
//!
//! | rule | what it finds | verdict |
//! |------|---------------|---------|
//! | `security-downgrade` | `DISABLE ROW LEVEL SECURITY`, `row_security = off`, a role given `BYPASSRLS` or `SUPERUSER` | deny |
//! | `grant-to-everyone` | `GRANT … TO public / anon / authenticated` | deny |
//! | `credential-read` | a read of a column or table whose name says password, token, secret, API key… | escalate |
//! | `cross-table-copy` | `INSERT … SELECT`, `UPDATE … (SELECT …)`: rows copied where others may read them; deny when they include secrets | escalate / deny |
//! | `nosql-operator` | `$ne`, `$gt`, `$regex`… where a login or lookup value belongs (`{"password": {"$ne": null}}`), in an object or in a JSON string | deny |
//! | `nosql-code` | `$where`, `$function`, `$accumulator`: code run inside the database | deny |
//!
//! Free text may discuss SQL, and commands and code may embed it, so the
//! injection rules do not apply there.

mod data_access;
mod rules;
mod statement;
mod tautology;

use std::collections::BTreeMap;

use portcullis_sdk::{
    ArgumentKind, Context, EventKind, Finding, Metadata, Outcome, Pattern, Policy, ToolCall,
    Verdict, excerpt, export_policy, judge_arguments, words,
};

use rules::RULES;
use statement::{Effect, statements};

/// The policy.
pub struct SqlInjection;

/// The pattern that marks text with a data-changing SQL verb, for the
/// statement checks.
const WRITE_VERB: &str = "write-verb";

/// The rule, and pattern, for always-true conditions.
const TAUTOLOGY: &str = "tautology";

/// Tool-name words that say a tool only reads.
const READ_ONLY_WORDS: &[&str] = &[
    "read", "readonly", "select", "get", "list", "search", "find", "fetch", "show", "describe",
    "explain", "count", "lookup", "view",
];

impl Policy for SqlInjection {
    fn metadata() -> Metadata {
        Metadata::new("sql-injection", env!("CARGO_PKG_VERSION"))
            .on(EventKind::ToolCall)
            .patterns(RULES.iter().map(|rule| rule.pattern()))
            .pattern(Pattern::regex(TAUTOLOGY, tautology::REGEX))
            .pattern(Pattern::regex(
                WRITE_VERB,
                r"\b(?:drop|truncate|delete|update|insert|alter|create|replace|merge|upsert|grant|revoke|rename|attach)\b",
            ))
    }

    fn check_call(_ctx: &Context, call: &ToolCall, findings: &[Finding]) -> Outcome {
        let mut outcome = judge_arguments(RULES, call, findings);
        judge_tautologies(&mut outcome, call, findings);

        let mut by_field: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for (index, finding) in portcullis_sdk::matches(findings, WRITE_VERB) {
            by_field.entry(&finding.field).or_default().push(index);
        }
        let read_only = is_read_only(call);
        for (field, cited) in by_field {
            let finding = &findings[cited[0] as usize];
            if ArgumentKind::of(call, finding) != ArgumentKind::Sql {
                continue;
            }
            let Some(sql) = call.field_text(field) else {
                continue;
            };
            judge_statements(&mut outcome, field, &sql, read_only, &cited);
        }
        judge_data_access(&mut outcome, call);
        outcome
    }
}

/// Adds the reasons of the access-control, credential and document-filter
/// rules (`data_access`), judged on the arguments as sent.
fn judge_data_access(outcome: &mut Outcome, call: &ToolCall) {
    let arguments = call.arguments_json();
    let schema = call.tool.as_ref().map(|tool| tool.input_schema_json());
    let mut found = data_access::judge_filter("/arguments", &arguments, None);
    for argument in portcullis_sdk::argument_texts(&arguments) {
        let description = argument
            .key
            .and_then(|key| portcullis_sdk::schema_property_description(schema.as_ref()?, key));
        let kind =
            ArgumentKind::classify(&call.name, argument.key, description, Some(argument.text));
        if kind == ArgumentKind::Sql {
            found.extend(data_access::judge_sql(&argument.field, argument.text));
        }
        found.extend(data_access::judge_document(&argument));
    }
    for access in found {
        outcome.add(access.verdict, access.rule, access.message, []);
    }
}

/// Adds a reason for each plain value that holds an always-true condition.
fn judge_tautologies(outcome: &mut Outcome, call: &ToolCall, findings: &[Finding]) {
    let mut by_field: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for (index, finding) in portcullis_sdk::matches(findings, TAUTOLOGY) {
        if tautology::is_tautology(&finding.matched) {
            by_field.entry(&finding.field).or_default().push(index);
        }
    }
    for (field, cited) in by_field {
        let finding = &findings[cited[0] as usize];
        if ArgumentKind::of(call, finding) != ArgumentKind::Value {
            continue;
        }
        outcome.add(
            Verdict::Deny,
            TAUTOLOGY,
            format!(
                "{field} (value) adds an always-true condition: \"{}\"",
                excerpt(&finding.matched)
            ),
            cited,
        );
    }
}

/// Adds the statement rules' reasons for the SQL `sql` in `field`.
fn judge_statements(outcome: &mut Outcome, field: &str, sql: &str, read_only: bool, cited: &[u32]) {
    let statements = statements(sql);
    let mut first: BTreeMap<(&str, &str), (usize, String)> = BTreeMap::new();
    for statement in &statements {
        let key = match (&statement.effect, read_only) {
            (Effect::Read, _) => continue,
            (_, true) => (
                "write-in-read-only-tool",
                "changes data through a read-only tool",
            ),
            (Effect::Destructive(what), false) => ("destructive-statement", *what),
            (Effect::Unbounded(what), false) => ("unbounded-write", *what),
            (Effect::Write, false) => continue,
        };
        first
            .entry(key)
            .or_insert_with(|| (0, statement.opening.clone()))
            .0 += 1;
    }
    for ((rule, what), (count, opening)) in first {
        let verdict = if rule == "write-in-read-only-tool" {
            Verdict::Deny
        } else {
            Verdict::Escalate
        };
        let more = match count {
            1 => String::new(),
            n => format!(" (and {} more statements)", n - 1),
        };
        outcome.add(
            verdict,
            rule,
            format!("{field} (SQL) {what}: \"{}\"{more}", excerpt(&opening)),
            cited.iter().copied(),
        );
    }
}

/// Whether the called tool only reads: by its `readOnlyHint`, or by its name.
fn is_read_only(call: &ToolCall) -> bool {
    if let Some(hint) = call
        .tool
        .as_ref()
        .and_then(|tool| tool.hint("readOnlyHint"))
    {
        return hint;
    }
    words(&call.name)
        .iter()
        .any(|word| READ_ONLY_WORDS.contains(&word.as_str()))
}

export_policy!(SqlInjection);

#[cfg(test)]
mod tests {
    use portcullis_sdk::serde_json::{Value, json};
    use portcullis_sdk::testing;
    use portcullis_sdk::testing::rules;

    /// `cases.jsonl`, the file `portcullis policy test` also runs through the
    /// engine (`tests/cli/policy_cases.rs`).
    #[test]
    fn cases() {
        portcullis_sdk::testing::check_cases::<SqlInjection>(include_str!("../cases.jsonl"));
    }

    use super::*;

    fn check(tool: &str, arguments: Value) -> Outcome {
        testing::check_call::<SqlInjection>(tool, arguments)
    }

    #[test]
    fn injections_in_plain_values_are_denied() {
        for (value, rule) in [
            ("' OR 1=1 --", "tautology"),
            ("admin\") or \"1\"=\"1", "tautology"),
            (" OR x=x-- ", "tautology"),
            ("admin' --", "string-breakout"),
            (" UNION ALL SELECT 1,2,3-- ", "union-select"),
            ("10; DROP TABLE users --", "stacked-query"),
            ("\")||pg_sleep(5)--", "time-delay"),
            (" ORDER BY 30 ", "time-delay"),
            ("1 AND 1=CONVERT(INT,@@version)", "database-probe"),
            ("' UNION SELECT load_file('/etc/passwd')", "out-of-database"),
        ] {
            let outcome = check("get_user", json!({ "username": value }));
            assert_eq!(outcome.verdict, Verdict::Deny, "{value}");
            assert!(
                rules(&outcome).contains(&rule),
                "{value}: {:?}",
                rules(&outcome)
            );
        }
    }

    #[test]
    fn ordinary_values_and_prose_are_allowed() {
        for arguments in [
            json!({ "username": "o'brien" }),
            json!({ "query": "rock and roll or jazz" }),
            json!({ "query": "select a laptop under 500" }),
            json!({ "body": "Use ' OR 1=1 -- only in the test fixtures, never in prod." }),
            json!({ "filter": "{\"color\": \"#fff\"}" }),
            json!({ "query": "project = \"ABC\" AND status = \"Done\" OR priority = 'High'" }),
            json!({ "query": "Union Select Committee on Intelligence; (new) update notes" }),
            json!({ "query": "orders placed after 2pm, order by 2pm delivery" }),
        ] {
            let outcome = check("search", arguments.clone());
            assert_eq!(
                outcome.verdict,
                Verdict::Allow,
                "{arguments}: {:?}",
                outcome.reasons
            );
        }
    }

    #[test]
    fn read_queries_in_sql_arguments_are_allowed() {
        for (tool, arguments) in [
            (
                "read_query",
                json!({ "query": "SELECT a FROM t UNION ALL SELECT b FROM u LIMIT 1" }),
            ),
            (
                "execute_sql",
                json!({ "project_id": "p", "query": "SELECT * FROM x WHERE y IN (WITH z AS (SELECT 1) SELECT * FROM z)" }),
            ),
            (
                "query",
                json!({ "sql": "select sum(x) from t where d >= date '1994-01-01' -- comment" }),
            ),
            (
                "write_query",
                json!({ "query": "UPDATE users SET name = 'x' WHERE id = 3" }),
            ),
        ] {
            let outcome = check(tool, arguments.clone());
            assert_eq!(
                outcome.verdict,
                Verdict::Allow,
                "{arguments}: {:?}",
                outcome.reasons
            );
        }
    }

    #[test]
    fn destructive_and_unbounded_statements_escalate() {
        let outcome = check(
            "execute_sql",
            json!({ "query": "DROP TABLE a; DROP TABLE b" }),
        );
        assert_eq!(outcome.verdict, Verdict::Escalate);
        assert_eq!(rules(&outcome), ["destructive-statement"]);
        assert_eq!(
            outcome.reasons[0].message,
            "/arguments/query (SQL) drops: \"drop table a\" (and 1 more statements)"
        );

        let outcome = check("write_query", json!({ "query": "DELETE FROM users" }));
        assert_eq!(outcome.verdict, Verdict::Escalate);
        assert_eq!(rules(&outcome), ["unbounded-write"]);
    }

    #[test]
    fn writes_through_a_read_only_tool_are_denied() {
        let outcome = check(
            "read_query",
            json!({ "query": "DROP TABLE IF EXISTS Album" }),
        );
        assert_eq!(outcome.verdict, Verdict::Deny);
        assert_eq!(rules(&outcome), ["write-in-read-only-tool"]);

        let mut call = testing::call("run", json!({ "sql": "INSERT INTO t VALUES (1)" }));
        call.tool = Some(testing::tool(
            "run",
            "",
            json!({}),
            json!({ "readOnlyHint": true }),
        ));
        let findings = testing::call_findings(&SqlInjection::metadata(), &call);
        let outcome = SqlInjection::check_call(&testing::context(), &call, &findings);
        assert_eq!(rules(&outcome), ["write-in-read-only-tool"]);
    }

    #[test]
    fn dynamic_sql_is_denied_even_in_sql() {
        let outcome = check(
            "execute_sql",
            json!({ "query": "SELECT 1; EXEC('SEL' + 'ECT * FROM users')" }),
        );
        assert_eq!(outcome.verdict, Verdict::Deny);
        assert!(rules(&outcome).contains(&"dynamic-sql"));
    }
}
