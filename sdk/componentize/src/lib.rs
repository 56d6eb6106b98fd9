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

/// Makes sure the standard library for [`TARGET`] is installed for the
/// toolchain that builds the policies.
///
/// rustup installs a `rust-toolchain.toml`'s targets only when it installs the
/// toolchain itself, so a machine that already had the pinned toolchain lacks
/// `wasm32-unknown-unknown`, and the nested build would fail minutes later with
/// "can't find crate for `core`". Where rustup manages the toolchain the target
/// is added here (a one-time download of the prebuilt standard library);
/// elsewhere the build stops at once and names the command to run.
///
/// # Errors
/// When the target is missing and cannot be added.
fn ensure_target(workspace: &Path) -> anyhow::Result<()> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .current_dir(workspace)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .with_context(|| format!("running {} --print target-libdir", rustc.display()))?;
    let libdir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if has_core(&libdir) {
        return Ok(());
    }
    let mut args = vec!["target".to_owned(), "add".to_owned(), TARGET.to_owned()];
    if let Ok(toolchain) = std::env::var("RUSTUP_TOOLCHAIN") {
        args.extend(["--toolchain".to_owned(), toolchain]);
    }
    let hint = format!("rustup {}", args.join(" "));
    match Command::new("rustup")
        .current_dir(workspace)
        .args(&args)
        .status()
    {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => bail!(
            "the Rust target {TARGET}, which policies compile to, is not installed and \
             `{hint}` failed ({status}); run it by hand"
        ),
        Err(_) => bail!(
            "the Rust target {TARGET}, which policies compile to, is not installed for this \
             toolchain ({}); install it with `{hint}`",
            libdir.display()
        ),
    }
}

/// Whether `libdir` holds a compiled `core` crate.
fn has_core(libdir: &Path) -> bool {
    std::fs::read_dir(libdir).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libcore-") && name.ends_with(".rlib")
        })
    })
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
    ensure_target(workspace)?;
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
