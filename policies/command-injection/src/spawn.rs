//! Code that hands a downloaded script to a shell.
//!
//! In code, `curl … | sh` is usually text: a README, an installer line in a
//! comment. It runs only when the code passes it to a process API
//! (`os.system`, `subprocess`, `child_process`, `Runtime.exec`…), and that
//! is what this check looks for: both in the same argument.

use portcullis_sdk::{ArgumentKind, Finding, Outcome, ToolCall, Verdict, excerpt};

/// Calls that run a command line through a shell or as a process, across
/// Python, JavaScript, Java, PHP, Ruby, Go and .NET.
const SPAWN_APIS: &[&str] = &[
    "os.system(",
    "os.popen(",
    "subprocess.",
    "commands.getoutput(",
    "pty.spawn(",
    "child_process",
    "execsync(",
    "spawnsync(",
    ".exec(",
    "runtime.getruntime()",
    "processbuilder(",
    "shell_exec(",
    "passthru(",
    "proc_open(",
    "popen(",
    "system(",
    "%x(",
    "process.start(",
    "exec.command(",
    "deno.run(",
    "bun.spawn(",
];

/// The process API `code` calls, if it calls one.
pub(crate) fn spawn_api(code: &str) -> Option<&'static str> {
    let lower = code.to_ascii_lowercase();
    SPAWN_APIS.iter().copied().find(|api| lower.contains(api))
}

/// Escalates each code argument where a `remote-code-execution` finding
/// (a download piped into a shell) meets a process API.
pub(crate) fn judge(outcome: &mut Outcome, call: &ToolCall, findings: &[Finding]) {
    let mut judged: Vec<&str> = Vec::new();
    for (index, finding) in portcullis_sdk::matches(findings, "remote-code-execution") {
        if judged.contains(&finding.field.as_str())
            || ArgumentKind::of(call, finding) != ArgumentKind::Code
        {
            continue;
        }
        let Some(code) = call.field_text(&finding.field) else {
            continue;
        };
        if let Some(api) = spawn_api(&code) {
            judged.push(&finding.field);
            outcome.add(
                Verdict::Escalate,
                "code-runs-download",
                format!(
                    "{} (code) passes a downloaded script to a shell through `{api}`: \"{}\"",
                    finding.field,
                    excerpt(&finding.matched)
                ),
                [index],
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_apis_across_languages() {
        assert_eq!(spawn_api("import os\nos.system(cmd)"), Some("os.system("));
        assert_eq!(
            spawn_api("require('child_process').exec(x)"),
            Some("child_process")
        );
        assert_eq!(spawn_api("Runtime.getRuntime().exec(cmd);"), Some(".exec("));
        assert_eq!(spawn_api("print('curl https://x | sh')"), None);
    }
}
