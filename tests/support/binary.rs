//! The `portcullis` binary and the workspace, for the tests that run it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `portcullis` binary that cargo built for the running test.
///
/// Cargo puts a package's binaries in the target profile directory, one
/// level above the `deps/` directory that holds its test executables; the
/// tests that call this are declared by `portcullis-cli`, so cargo builds the
/// binary before it runs them.
///
/// # Panics
/// When the binary is not there.
pub fn binary() -> PathBuf {
    let test = std::env::current_exe().expect("the test knows its own path");
    let profile = test
        .parent()
        .and_then(Path::parent)
        .expect("a test executable sits in <target>/<profile>/deps");
    let binary = profile.join(format!("portcullis{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: run the test through `cargo test -p portcullis-cli`",
        binary.display()
    );
    binary
}

/// A command that runs the `portcullis` binary built for these tests.
pub fn portcullis() -> Command {
    Command::new(binary())
}

/// The root of the workspace.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_owned()
}

/// Runs `command` to completion and returns its output, failing the test
/// with the command's stderr if it did not succeed.
pub fn run_ok(command: &mut Command) -> Output {
    let output = command.output().expect("portcullis runs");
    assert!(
        output.status.success(),
        "{command:?} failed ({}); stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs `command` with `stdin` written to its standard input, and collects
/// what it printed.
pub fn run_with_stdin(mut command: Command, stdin: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    child.wait_with_output().expect("the command exits")
}
