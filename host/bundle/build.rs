//! Builds the Rust policies in `policies/` into components and generates
//! `bundle.rs`, the default policy bundle embedded in the library.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() -> anyhow::Result<()> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let workspace = manifest_dir
        .ancestors()
        .nth(2)
        .expect("host/bundle/ sits in the workspace");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let cargo = PathBuf::from(std::env::var("CARGO")?);

    // The root manifest lists every policy crate as a workspace member, so a
    // policy added to policies/ changes it and the bundle is rebuilt.
    for watched in [
        "wit",
        "sdk/src",
        "sdk/Cargo.toml",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    let policies = rust_policies(&workspace.join("policies"))?;
    let packages: Vec<String> = policies
        .iter()
        .map(|(package, _)| package.clone())
        .collect();

    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join("policies");
    let built = portcullis_componentize::build_policies(
        &cargo,
        workspace,
        &packages,
        &target_dir,
        &out_dir.join("policies"),
    )?;

    let mut bundle = String::from(
        "/// The policies built from `policies/`: (name, component bytes).\n\
         pub const DEFAULT_POLICIES: &[(&str, &[u8])] = &[\n",
    );
    for (policy, (_, name)) in built.iter().zip(&policies) {
        writeln!(
            bundle,
            "    ({name:?}, include_bytes!({:?})),",
            policy.component
        )?;
    }
    bundle.push_str("];\n");
    std::fs::write(out_dir.join("bundle.rs"), bundle)?;
    Ok(())
}

/// The Rust policy crates under `dir`: (package name, directory name), sorted.
fn rust_policies(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut policies = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let manifest = path.join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        for watched in ["src", "Cargo.toml"] {
            println!("cargo:rerun-if-changed={}", path.join(watched).display());
        }
        let text = std::fs::read_to_string(&manifest)?;
        let package = text
            .lines()
            .find_map(|line| line.strip_prefix("name = \""))
            .and_then(|rest| rest.strip_suffix('"'))
            .ok_or_else(|| anyhow::anyhow!("{} has no package name", manifest.display()))?;
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or(package);
        policies.push((package.to_owned(), name.to_owned()));
    }
    policies.sort();
    Ok(policies)
}
