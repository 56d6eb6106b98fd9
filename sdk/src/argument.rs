//! What the text of a tool-call argument is meant to be.
//!
//! The same text is an attack in one argument and routine in another: `a | b`
//! is a pipeline in a shell command and an injection in a hostname;
//! `DROP TABLE` is a statement in a SQL argument and an injection in a user
//! name. [`ArgumentKind`] tells them apart from what the call itself says:
//! the argument's name, the tool's name, the description the tool's input
//! schema gives the argument, and the start of the text.

use std::fmt;

use crate::{Finding, ToolCall, words};

/// What the text of an argument is meant to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArgumentKind {
    /// A shell command line (`command`, `cmd`, `script`, `shell`, or
    /// described as one), where pipes, `&&` and `rm` are routine.
    Command,
    /// Program source (`code`, `python_code`, or the content of a file the
    /// tool writes), where `eval(` and `<script>` are routine.
    Code,
    /// A SQL statement (`sql`, `statement`, or a `query` of a database tool
    /// or that starts like a statement).
    Sql,
    /// Free text meant for people (`body`, `message`, `comment`, `title`...),
    /// where punctuation and relative links are routine.
    Prose,
    /// Anything else: names, identifiers, paths, hosts, URLs, search terms.
    /// Shell syntax, traversal or SQL syntax has no business here.
    Value,
}

const COMMAND_WORDS: &[&str] = &[
    "command",
    "commands",
    "cmd",
    "cmdline",
    "commandline",
    "shell",
    "bash",
    "sh",
    "zsh",
    "powershell",
    "pwsh",
    "script",
];
const CODE_WORDS: &[&str] = &[
    "code",
    "program",
    "snippet",
    "python",
    "py",
    "javascript",
    "js",
    "typescript",
    "ts",
    "jsx",
    "tsx",
    "ruby",
    "lua",
    "html",
    "css",
];
const CODE_QUALIFIERS: &[&str] = &["source", "src", "to", "run", "execute", "exec", "eval"];
const FILE_BODY_WORDS: &[&str] = &[
    "content", "contents", "text", "data", "body", "new", "old", "edits", "patch", "diff", "file",
];
const PATCH_WORDS: &[&str] = &["patch", "patches", "diff", "diffs"];
const FILE_WRITE_WORDS: &[&str] = &[
    "write", "edit", "create", "save", "patch", "put", "append", "upload", "replace", "insert",
    "push", "commit",
];
const SQL_WORDS: &[&str] = &["sql", "statement", "statements", "stmt"];
const QUERY_WORDS: &[&str] = &["query", "queries", "q"];
const DATABASE_WORDS: &[&str] = &[
    "sql",
    "sqlite",
    "mysql",
    "postgres",
    "postgresql",
    "pg",
    "psql",
    "db",
    "database",
    "databases",
    "duckdb",
    "bigquery",
    "snowflake",
    "clickhouse",
    "mssql",
    "oracle",
    "tsql",
    "redshift",
];
const SQL_VERBS: &[&str] = &[
    "select", "with", "insert", "update", "delete", "drop", "create", "alter", "truncate",
    "explain", "pragma", "show", "describe", "grant", "revoke", "merge", "upsert", "vacuum",
];
const PROSE_WORDS: &[&str] = &[
    "text",
    "body",
    "content",
    "contents",
    "message",
    "messages",
    "comment",
    "comments",
    "description",
    "title",
    "summary",
    "note",
    "notes",
    "prompt",
    "question",
    "answer",
    "observation",
    "observations",
    "reason",
    "caption",
    "markdown",
    "md",
    "reply",
    "subject",
    "instructions",
    "thought",
    "thoughts",
    "bio",
    "feedback",
    "review",
    "post",
    "story",
    "details",
];
const SHELL_DESCRIPTIONS: &[&str] = &[
    "shell",
    "bash",
    "command line",
    "command-line",
    "terminal",
    "command to run",
    "command to execute",
    "commands to run",
    "commands to execute",
];
const CODE_DESCRIPTIONS: &[&str] = &[
    "code to run",
    "code to execute",
    "code to evaluate",
    "source code",
    "python code",
    "javascript code",
    "content to write",
    "contents of the file",
    "file content",
];

impl ArgumentKind {
    /// The kind of the argument a finding of `call` sits in.
    pub fn of(call: &ToolCall, finding: &Finding) -> ArgumentKind {
        let key = finding.key();
        let described = match (&call.tool, &key) {
            (Some(tool), Some(key)) => tool.property_description(key),
            _ => None,
        };
        let value = call.field_text(&finding.field);
        ArgumentKind::classify(
            &call.name,
            key.as_deref(),
            described.as_deref(),
            value.as_deref(),
        )
    }

    /// The kind of an argument named `key` (`None` for an element of a bare
    /// list) of the tool `tool`, that the tool's schema describes as
    /// `description`, holding `value`.
    pub fn classify(
        tool: &str,
        key: Option<&str>,
        description: Option<&str>,
        value: Option<&str>,
    ) -> ArgumentKind {
        let key_words = key.map(words).unwrap_or_default();
        let tool_words = words(tool);
        let has = |words: &[String], set: &[&str]| words.iter().any(|w| set.contains(&w.as_str()));
        let description = description.unwrap_or_default().to_lowercase();
        let describes = |phrases: &[&str]| phrases.iter().any(|p| description.contains(p));

        if has(&key_words, COMMAND_WORDS) || describes(SHELL_DESCRIPTIONS) {
            return ArgumentKind::Command;
        }
        let code_key = has(&key_words, CODE_WORDS)
            && key_words
                .iter()
                .all(|w| CODE_WORDS.contains(&w.as_str()) || CODE_QUALIFIERS.contains(&w.as_str()));
        // A patch or a diff edits files whatever the tool is called.
        let patch = has(&key_words, PATCH_WORDS);
        let file_body = has(&key_words, FILE_BODY_WORDS)
            && has(&tool_words, FILE_WRITE_WORDS)
            && tool_words.iter().any(|w| w == "file" || w == "files");
        if code_key || patch || file_body || describes(CODE_DESCRIPTIONS) {
            return ArgumentKind::Code;
        }
        let starts_like_sql = value
            .and_then(|v| v.split_whitespace().next())
            .is_some_and(|first| SQL_VERBS.contains(&first.to_lowercase().as_str()));
        if has(&key_words, SQL_WORDS)
            || (has(&key_words, QUERY_WORDS)
                && (has(&tool_words, DATABASE_WORDS)
                    || description.contains("sql")
                    || starts_like_sql))
        {
            return ArgumentKind::Sql;
        }
        if has(&key_words, PROSE_WORDS) {
            return ArgumentKind::Prose;
        }
        ArgumentKind::Value
    }
}

impl fmt::Display for ArgumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ArgumentKind::Command => "shell command",
            ArgumentKind::Code => "code",
            ArgumentKind::Sql => "SQL",
            ArgumentKind::Prose => "free text",
            ArgumentKind::Value => "value",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tool;

    fn kind(tool: &str, key: &str, value: &str) -> ArgumentKind {
        ArgumentKind::classify(tool, Some(key), None, Some(value))
    }

    #[test]
    fn command_arguments_are_recognised_by_name() {
        assert_eq!(
            kind("run_command", "command", "ls | wc -l"),
            ArgumentKind::Command
        );
        assert_eq!(kind("exec", "shellCmd", "ls"), ArgumentKind::Command);
        assert_eq!(kind("ping_host", "host", "localhost"), ArgumentKind::Value);
    }

    #[test]
    fn a_patch_or_a_diff_is_file_content_whatever_the_tool_is_called() {
        let patch = "@@ -1 +1 @@\n-make\n+make && make check";
        assert_eq!(kind("apply_patch", "patch", patch), ArgumentKind::Code);
        assert_eq!(
            kind("propose_change", "unified_diff", patch),
            ArgumentKind::Code
        );
        assert_eq!(kind("checkout", "branch", "main; id"), ArgumentKind::Value);
    }

    #[test]
    fn a_schema_description_can_make_an_argument_a_command() {
        assert_eq!(
            ArgumentKind::classify(
                "terminal",
                Some("input"),
                Some("The Bash line to run"),
                None
            ),
            ArgumentKind::Command
        );
    }

    #[test]
    fn code_needs_a_code_name_not_just_the_word_code() {
        assert_eq!(
            kind("execute_python_code", "code", "import os"),
            ArgumentKind::Code
        );
        assert_eq!(kind("run", "source_code", "x"), ArgumentKind::Code);
        assert_eq!(kind("lookup", "country_code", "de"), ArgumentKind::Value);
        assert_eq!(
            kind("write_file", "content", "<script></script>"),
            ArgumentKind::Code
        );
        assert_eq!(kind("create_issue", "body", "text"), ArgumentKind::Prose);
    }

    #[test]
    fn a_query_is_sql_only_for_a_database_or_when_it_reads_like_sql() {
        assert_eq!(kind("query", "sql", "select 1"), ArgumentKind::Sql);
        assert_eq!(kind("execute_sql", "query", "x"), ArgumentKind::Sql);
        assert_eq!(kind("read_query", "query", "SELECT 1"), ArgumentKind::Sql);
        assert_eq!(
            kind("search_products", "query", " UNION SELECT 1"),
            ArgumentKind::Value
        );
        assert_eq!(
            kind("search", "query", "weather in paris"),
            ArgumentKind::Value
        );
    }

    #[test]
    fn of_reads_the_key_the_tool_schema_and_the_value() {
        let tool = Tool {
            name: "term".into(),
            description: String::new(),
            input_schema: r#"{"properties":{"line":{"description":"A shell command"}}}"#.into(),
            annotations: "{}".into(),
            digest: String::new(),
        };
        let call = ToolCall {
            name: "term".into(),
            arguments: r#"{"line":"ls; id"}"#.into(),
            tool: Some(tool),
        };
        let finding = Finding {
            pattern: "p".into(),
            field: "/arguments/line".into(),
            start: 0,
            end: 1,
            matched: ";".into(),
        };
        assert_eq!(ArgumentKind::of(&call, &finding), ArgumentKind::Command);
    }
}
