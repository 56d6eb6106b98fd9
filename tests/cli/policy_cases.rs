//! Every policy's `cases.jsonl` through the real engine: the same file that
//! the policy's own `cargo test` runs natively (`testing::check_cases`), run
//! here by `portcullis policy test` against the embedded component alone.
//! A case that passes in one and fails in the other is a difference between
//! the SDK's test support and the engine, which must not exist.

use std::path::Path;

use portcullis_tests::binary::{portcullis, workspace};

#[test]
fn every_policy_passes_its_cases_in_the_engine() {
    let mut tested = Vec::new();
    for (name, component) in portcullis::default_policies() {
        let cases = workspace().join("policies").join(name).join("cases.jsonl");
        assert!(
            cases.is_file(),
            "policy `{name}` has no {}: every embedded policy keeps its cases there",
            cases.display()
        );
        let dir = tempfile::tempdir().expect("a scratch directory");
        std::fs::write(dir.path().join(format!("{name}.wasm")), component).unwrap();
        let output = portcullis()
            .args(["policy", "test"])
            .arg(&cases)
            .arg("--policies")
            .arg(dir.path())
            .output()
            .expect("portcullis runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let count = case_count(&cases);
        assert!(
            output.status.success() && stdout.ends_with(&format!("{count} passed, 0 failed\n")),
            "{name}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        tested.push(name);
    }
    assert!(tested.len() >= 8, "only {tested:?} were tested");
}

fn case_count(cases: &Path) -> usize {
    std::fs::read_to_string(cases)
        .unwrap()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .count()
}
