//! End-to-end tests of the `portcullis` command line: `check` on the
//! embedded default policies (also from a compiled-policy cache and with
//! warm instances), and the policy author's `policy new`, `build`
//! and `test` round trip.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

use portcullis_tests::binary::{portcullis, run_ok, run_with_stdin, workspace};

fn decisions(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .expect("stdout is UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("every output line is JSON"))
        .collect()
}

fn verdict_of<'a>(decisions: &'a [Value], id: &str) -> &'a Value {
    decisions
        .iter()
        .find(|decision| decision["id"] == id)
        .unwrap_or_else(|| panic!("no decision for {id}"))
}

#[test]
fn check_decides_every_example_with_the_embedded_policies() {
    let output = run_ok(
        portcullis()
            .arg("check")
            .arg(workspace().join("examples/events.jsonl")),
    );
    let decisions = decisions(&output);
    assert_eq!(decisions.len(), 11, "one decision per line");

    for allowed in ["ex-1", "ex-6", "ex-9"] {
        let decision = verdict_of(&decisions, allowed);
        assert_eq!(decision["verdict"], "allow", "{decision}");
        assert_eq!(decision["reasons"], Value::Array(vec![]), "{decision}");
    }
    for refused in ["ex-2", "ex-3", "ex-4", "ex-7", "ex-8", "ex-10", "ex-11"] {
        let decision = verdict_of(&decisions, refused);
        assert_ne!(decision["verdict"], "allow", "{decision}");
        let reason = &decision["reasons"][0];
        for key in ["policy", "rule", "message"] {
            assert!(
                reason[key].as_str().is_some_and(|text| !text.is_empty()),
                "{decision}"
            );
        }
    }

    let injection = verdict_of(&decisions, "ex-7");
    assert_eq!(injection["verdict"], "deny");
    let reason = injection["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .find(|reason| reason["policy"] == "command-injection")
        .expect("command-injection explains the deny");
    let finding = &reason["findings"][0];
    assert_eq!(finding["field"], "/arguments/path");
    assert!(
        finding["matched"]
            .as_str()
            .expect("matched text")
            .contains("rm"),
        "{finding}"
    );
}

#[test]
fn a_compiled_policy_cache_and_warm_instances_do_not_change_a_decision() {
    let examples = workspace().join("examples/events.jsonl");
    let check = |extra: &[&std::ffi::OsStr]| {
        let output = run_ok(portcullis().arg("check").args(extra).arg(&examples));
        decisions(&output)
    };
    let cache = tempfile::tempdir().expect("a cache directory");
    let cached_files = || {
        std::fs::read_dir(cache.path())
            .expect("the cache directory is readable")
            .filter_map(Result::ok)
            .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "cwasm"))
            .count()
    };
    let flags = [
        "--cache-dir".as_ref(),
        cache.path().as_os_str(),
        "--reuse-instances".as_ref(),
    ];

    let plain = check(&[]);
    let cold = check(&flags);
    let policies = portcullis::default_policies().count();
    assert_eq!(cached_files(), policies, "one compiled file per policy");
    let warm = check(&flags);
    assert_eq!(
        cached_files(),
        policies,
        "the second run compiles nothing new"
    );
    assert_eq!(cold, plain);
    assert_eq!(warm, plain);
}

#[test]
fn a_cache_directory_others_may_write_to_is_refused() {
    use std::os::unix::fs::PermissionsExt;

    let cache = tempfile::tempdir().expect("a cache directory");
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777))
        .expect("permissions set");
    let output = portcullis()
        .arg("check")
        .arg("--cache-dir")
        .arg(cache.path())
        .arg(workspace().join("examples/events.jsonl"))
        .output()
        .expect("portcullis runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "no decision without a safe cache");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("writable by its group or by others"),
        "{stderr}"
    );
}

/// Red-team findings 6 and 17: a cache directory another user owns is
/// refused whatever its mode (they could plant native code in it), and the
/// one portcullis creates is 0700 whatever the umask, so it is accepted.
#[test]
fn a_cache_directory_is_created_private_and_one_another_user_owns_is_refused() {
    use std::os::unix::fs::PermissionsExt;

    let root = tempfile::tempdir().expect("a directory");
    let created = root.path().join("new/cache");
    let output = Command::new("sh")
        .arg("-c")
        .arg("umask 002; exec \"$0\" check --cache-dir \"$1\" \"$2\"")
        .arg(portcullis().get_program())
        .arg(&created)
        .arg(workspace().join("examples/events.jsonl"))
        .output()
        .expect("portcullis runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mode = std::fs::metadata(&created).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);

    if std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(root.path()).unwrap()) == 0 {
        let theirs = root.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let output = portcullis()
            .arg("check")
            .arg("--cache-dir")
            .arg(&theirs)
            .arg(workspace().join("examples/events.jsonl"))
            .output()
            .expect("portcullis runs");
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("owned by user 65534"), "{stderr}");
    }
}

/// Red-team finding 14: a policies directory others may write to is refused.
#[test]
fn a_policies_directory_others_may_write_to_is_refused() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("a directory");
    let policy = workspace().join("policies/c-secrets/target/c-secrets.wasm");
    std::fs::copy(&policy, dir.path().join("c-secrets.wasm")).expect("the C policy is built");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let output = portcullis()
        .arg("check")
        .arg("--policies")
        .arg(dir.path())
        .arg(workspace().join("examples/events.jsonl"))
        .output()
        .expect("portcullis runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("writable by its group or by others"),
        "{stderr}"
    );
}

#[test]
fn settings_a_policy_refuses_stop_check_before_any_decision() {
    let dir = tempfile::tempdir().expect("a directory");
    for (settings, expected) in [
        (
            r#"{"policies": {"risk-tier": {"tiers": []}}}"#,
            "the settings of policy `risk-tier` are invalid",
        ),
        (
            r#"{"tenants": {"acme": {"risk-teir": {}}}}"#,
            "there are settings for policy `risk-teir` (tenant `acme`)",
        ),
        (r#"{"policy": {}}"#, "unknown field `policy`"),
    ] {
        let path = dir.path().join("settings.json");
        std::fs::write(&path, settings).expect("settings written");
        let output = portcullis()
            .arg("check")
            .arg("--settings")
            .arg(&path)
            .arg(workspace().join("examples/events.jsonl"))
            .output()
            .expect("portcullis runs");
        assert_eq!(output.status.code(), Some(2), "{settings}");
        assert!(output.stdout.is_empty(), "no decision with bad settings");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{settings}: {stderr}");
    }
}

#[test]
fn check_reports_a_bad_line_and_decides_the_others() {
    let input = concat!(
        r#"{"id": "good-1", "kind": "tool_call", "call": {"name": "echo", "arguments": {"text": "hi"}}}"#,
        "\n{not json\n",
        r#"{"id": "odd", "kind": "prompt"}"#,
        "\n",
        r#"{"id": "good-2", "kind": "tool_call", "call": {"name": "read_file", "arguments": {"path": "logs/app.log; rm -rf /"}}}"#,
        "\n",
    );
    let mut command = portcullis();
    command.arg("check");
    let output = run_with_stdin(command, input);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a bad line makes the exit status 1"
    );
    let decisions = decisions(&output);
    assert_eq!(decisions.len(), 4);
    assert_eq!(decisions[0]["verdict"], "allow");
    assert_eq!(decisions[1]["line"], 2);
    assert!(
        decisions[1]["error"]
            .as_str()
            .expect("an error")
            .contains("parsing")
    );
    assert!(
        decisions[2]["error"]
            .as_str()
            .expect("an error")
            .contains("unknown kind")
    );
    assert_eq!(decisions[3]["verdict"], "deny");
}

/// The author's round trip, from a directory outside the repository and
/// without `--sdk` (conformance friction: the default named a crate the
/// registry does not have): `new` defaults to the SDK this binary was built
/// from.
#[test]
fn a_policy_author_can_scaffold_build_and_test_a_policy() {
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let dir = scratch.path().join("no-private-keys");
    let status = portcullis()
        .args(["policy", "new"])
        .arg(&dir)
        .current_dir(scratch.path())
        .status()
        .expect("policy new runs");
    assert!(status.success());
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("path = "), "{manifest}");

    let output = run_ok(portcullis().args(["policy", "build"]).arg(&dir));
    let component = PathBuf::from(String::from_utf8(output.stdout).expect("UTF-8").trim());
    assert!(
        component.is_file(),
        "policy build prints the component's path"
    );

    let output = portcullis()
        .args(["policy", "test"])
        .arg(dir.join("cases.jsonl"))
        .arg("--policies")
        .arg(component.parent().expect("a directory"))
        .output()
        .expect("policy test runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "stdout: {stdout}");
    assert!(stdout.contains("2 passed, 0 failed"), "stdout: {stdout}");

    let failing = dir.join("failing.jsonl");
    std::fs::write(
        &failing,
        r#"{"id": "wrong", "kind": "tool_call", "call": {"name": "echo", "arguments": {"text": "hello"}}, "expect": "deny"}"#,
    )
    .expect("cases written");
    let output = portcullis()
        .args(["policy", "test"])
        .arg(&failing)
        .arg("--policies")
        .arg(component.parent().expect("a directory"))
        .output()
        .expect("policy test runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "stdout: {stdout}");
    assert!(
        stdout.contains("FAIL wrong") && stdout.contains("0 passed, 1 failed"),
        "stdout: {stdout}"
    );
}
