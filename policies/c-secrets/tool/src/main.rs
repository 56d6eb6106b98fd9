//! pcl-wit: the non-Rust half of building a Portcullis policy.
//!
//! * `c-bindings <wit-dir> <world> <out-dir>`: wit-bindgen's C generator
//!   (`<world>.h`, `<world>.c`, `<world>_component_type.o`).
//! * `componentize <core.wasm> <out.wasm>`: wit-component, no WASI adapter.
//! * `check <component.wasm> [--wit]`: lists imports and exports and fails
//!   unless the only imports are `portcullis:policy/{host,types}`.
use anyhow::{Context, Result, bail};
use std::path::Path;
use wit_parser::{Resolve, WorldItem, WorldKey};

const ALLOWED_IMPORTS: &[&str] = &["portcullis:policy/host@0.2.0", "portcullis:policy/types@0.2.0"];
const REQUIRED_EXPORTS: &[&str] = &["metadata", "configure", "check-tool", "check-call", "check-result"];

fn usage() -> ! {
    eprintln!(
        "usage:\n  pcl-wit c-bindings <wit-dir> <world> <out-dir>\n  pcl-wit componentize <core.wasm> <out.wasm>\n  pcl-wit check <component.wasm> [--wit]"
    );
    std::process::exit(2)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(|s| s.as_str()) {
        Some("c-bindings") if args.len() == 5 => c_bindings(&args[2], &args[3], &args[4]),
        Some("componentize") if args.len() == 4 => componentize(&args[2], &args[3]),
        Some("check") if args.len() >= 3 => check(&args[2], args.iter().any(|a| a == "--wit")),
        _ => usage(),
    }
}

fn c_bindings(wit: &str, world: &str, out: &str) -> Result<()> {
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve.push_path(wit)?;
    let world = resolve.select_world(&[pkg], Some(world))?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default().build().generate(&mut resolve, world, &mut files)?;
    std::fs::create_dir_all(out)?;
    for (name, contents) in files.iter() {
        let p = Path::new(out).join(name);
        std::fs::write(&p, contents).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

fn componentize(input: &str, out: &str) -> Result<()> {
    let module = std::fs::read(input).with_context(|| format!("reading {input}"))?;
    let bytes = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&module)?
        .encode()?;
    std::fs::write(out, &bytes).with_context(|| format!("writing {out}"))?;
    Ok(())
}

fn check(input: &str, print_wit: bool) -> Result<()> {
    let bytes = std::fs::read(input).with_context(|| format!("reading {input}"))?;
    let (resolve, world) = match wit_component::decode(&bytes)? {
        wit_component::DecodedWasm::Component(r, w) => (r, w),
        _ => bail!("{input} is a WIT package, not a component"),
    };
    let w = &resolve.worlds[world];
    let name = |key: &WorldKey| match key {
        WorldKey::Name(n) => n.clone(),
        WorldKey::Interface(_) => resolve.name_world_key(key),
    };
    println!("{input}: {} bytes", bytes.len());
    let mut bad = Vec::new();
    for (key, item) in &w.imports {
        if matches!(item, WorldItem::Type { .. }) {
            continue;
        }
        let n = name(key);
        println!("  import {n}");
        if !ALLOWED_IMPORTS.contains(&n.as_str()) {
            bad.push(n);
        }
    }
    let mut exports = Vec::new();
    for (key, item) in &w.exports {
        let n = name(key);
        let extra = if REQUIRED_EXPORTS.contains(&n.as_str()) { "" } else { "  (not in the policy world)" };
        let kind = if matches!(item, WorldItem::Interface { .. }) { "interface " } else { "" };
        println!("  export {kind}{n}{extra}");
        exports.push(n);
    }
    if print_wit {
        let mut printer = wit_component::WitPrinter::default();
        let pkg = w.package.context("world has no package")?;
        let nested: Vec<_> = resolve.packages.iter().map(|(id, _)| id).filter(|id| *id != pkg).collect();
        printer.print(&resolve, pkg, &nested)?;
        println!("{}", printer.output);
    }
    let missing: Vec<_> = REQUIRED_EXPORTS.iter().filter(|e| !exports.iter().any(|x| x == *e)).collect();
    if !missing.is_empty() {
        bail!("{input} does not export {missing:?}");
    }
    if !bad.is_empty() {
        bail!("{input} imports more than the Portcullis host: {bad:?}");
    }
    Ok(())
}
