//! The Python package (`host/python`): built with maturin into the test
//! peers' virtualenv, as a user would install it, then its own pytest suite
//! run against real servers through the `mcp` client.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use portcullis_tests::mcp::{peers_dir, python};
use portcullis_tests::wat_policy::WatPolicy;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_owned()
}

/// The virtualenv's `bin` first on `PATH`, as an activated virtualenv has it.
fn venv_path() -> OsString {
    let bin = peers_dir().join(".venv/bin");
    let mut paths = vec![bin];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).expect("a valid PATH")
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("the command starts");
    assert!(
        output.status.success(),
        "{command:?} failed ({})\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_python_package_builds_and_passes_its_tests() {
    let python = python();
    let package = workspace().join("host/python");
    run(Command::new(&python)
        .args(["-m", "maturin", "develop", "--quiet", "--manifest-path"])
        .arg(package.join("Cargo.toml"))
        .env("VIRTUAL_ENV", peers_dir().join(".venv"))
        .env("PATH", venv_path()));

    // Two small components, for the hot-reload test to add one to the other.
    let policies = tempfile::tempdir().expect("a scratch directory");
    for name in ["first", "second"] {
        let component = WatPolicy::new(name).component().expect("a component");
        std::fs::write(policies.path().join(format!("{name}.wasm")), component).unwrap();
    }
    let report = run(Command::new(&python)
        .args(["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"])
        .arg(package.join("tests"))
        .env("PORTCULLIS_PEERS", peers_dir())
        .env("PORTCULLIS_POLICY_DIR", policies.path())
        .env("PATH", venv_path()));
    // Every test ran: none was skipped for want of the policies above.
    assert!(!report.contains("skipped"), "{report}");
}
