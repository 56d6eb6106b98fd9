//! Builds Rust policy crates into Portcullis policy components.
//!
//! A Rust policy is a `cdylib` crate that uses `portcullis-sdk`. Compiled for
//! `wasm32-unknown-unknown` it is a core WebAssembly module that carries its
//! WIT world in a custom section; [`componentize`] wraps that module into a
//! component with `wit-component`. Because the target has no WASI, the
//! component imports only the Portcullis host interface.
//!
//! [`build_policies`] does both steps for a set of crates in a workspace: it
//! runs `cargo build` for `wasm32-unknown-unknown` with the workspace's
//! `policy` profile in a target directory of its own (so that it can run from
//! a build script without waiting on the outer build's lock).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The Rust target policies are compiled for.
pub const TARGET: &str = "wasm32-unknown-unknown";

/// The Cargo profile policies are compiled with.
pub const PROFILE: &str = "policy";

/// A policy crate built into a component.
#[derive(Debug, Clone)]
pub struct BuiltPolicy {
    /// The crate's package name.
    pub package: String,
    /// Where the component was written.
    pub component: PathBuf,
}

/// Wraps a core module produced by `portcullis-sdk` into a component.
///
/// # Errors
/// When the module carries no component type information (it was not built
/// with `portcullis-sdk` or `wit-bindgen`) or does not validate.
pub fn componentize(core_module: &[u8]) -> anyhow::Result<Vec<u8>> {
    wit_component::ComponentEncoder::default()
        .module(core_module)
        .context("the module carries no usable component type information")?
        .validate(true)
        .encode()
        .context("the module does not encode as a valid component")
}

/// Builds `packages` of the workspace at `workspace` and writes one component
/// per package, named `<package>.wasm`, into `out_dir`.
///
/// `cargo` is the Cargo to run (in a build script, the `CARGO` environment
/// variable); `target_dir` is the target directory for the wasm build.
///
/// # Errors
/// When Cargo fails, or a built module cannot be made a component.
pub fn build_policies(
    cargo: &Path,
    workspace: &Path,
    packages: &[String],
    target_dir: &Path,
    out_dir: &Path,
) -> anyhow::Result<Vec<BuiltPolicy>> {
    if packages.is_empty() {
        return Ok(Vec::new());
    }
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--target", TARGET, "--profile", PROFILE])
        .arg("--target-dir")
        .arg(target_dir);
    for package in packages {
        command.args(["--package", package]);
    }
    // A build script inherits the outer build's flags and wrappers; they are
    // for the host target, not for wasm32.
    for variable in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        command.env_remove(variable);
    }
    let status = command
        .status()
        .with_context(|| format!("running {}", cargo.display()))?;
    if !status.success() {
        bail!("building policies {packages:?} for {TARGET} failed ({status})");
    }

    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let modules = target_dir.join(TARGET).join(PROFILE);
    packages
        .iter()
        .map(|package| {
            let file = format!("{}.wasm", package.replace('-', "_"));
            let module_path = modules.join(&file);
            let module = std::fs::read(&module_path)
                .with_context(|| format!("reading {}", module_path.display()))?;
            let component = componentize(&module)
                .with_context(|| format!("componentizing {}", module_path.display()))?;
            let component_path = out_dir.join(format!("{package}.wasm"));
            std::fs::write(&component_path, component)
                .with_context(|| format!("writing {}", component_path.display()))?;
            Ok(BuiltPolicy {
                package: package.clone(),
                component: component_path,
            })
        })
        .collect()
}
