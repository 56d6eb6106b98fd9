//! Helpers for the end-to-end tests that run the `portcullis` binary once
//! per case: where it and the workspace are, and what a successful run is.

#![allow(dead_code)] // Each test binary uses its own share of the helpers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A command that runs the `portcullis` binary built for these tests.
pub fn portcullis() -> Command {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
}

/// The root of the workspace.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ sits in the workspace")
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
