//! Hot reload under load: while a client keeps asking for decisions, the
//! policy directory gets a broken component (rejected: the last good
//! generation keeps serving) and then a good set (swapped in). No decision
//! may fail or be wrong on the way.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use portcullis_tests::mcp::{HANG_GUARD, Proxy, filesystem_server, result_text, scratch};
use serde_json::{Value, json};

/// Writes `bytes` to `dir/name` in one step (a rename), as a deployment would.
fn install(dir: &Path, name: &str, bytes: &[u8]) {
    let staging = dir.parent().unwrap().join(format!(".{name}.staging"));
    std::fs::write(&staging, bytes).unwrap();
    std::fs::rename(&staging, dir.join(name)).unwrap();
}

fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < HANG_GUARD, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn a_broken_set_is_rejected_and_a_good_one_swapped_in_with_no_failed_decision() {
    let dir = scratch("reload");
    let policies = dir.join("policies");
    let root = dir.join("files");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("a.txt"), "alpha\n").unwrap();
    let components: Vec<(String, Vec<u8>)> = portcullis::default_policies()
        .map(|(name, bytes)| (format!("{name}.wasm"), bytes.to_vec()))
        .collect();
    for (name, bytes) in &components {
        install(&policies, name, bytes);
    }
    let audit = dir.join("audit.jsonl");
    let mut proxy = Proxy::start(
        &[
            "--policies",
            policies.to_str().unwrap(),
            "--audit",
            audit.to_str().unwrap(),
        ],
        &filesystem_server(&root),
    );
    proxy.initialize(json!({}));
    proxy.request("tools/list", json!({}));
    let log = proxy.log();

    let decisions = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let decisions = Arc::clone(&decisions);
        let stop = Arc::clone(&stop);
        let path = root.join("a.txt");
        std::thread::spawn(move || {
            let mut failures = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let allowed = proxy.call_tool("read_text_file", json!({"path": path}));
                if allowed.get("isError") == Some(&Value::Bool(true))
                    || result_text(&allowed) != "alpha\n"
                {
                    failures.push(format!("allowed call failed: {allowed}"));
                }
                let denied = proxy.call_tool("read_text_file", json!({"path": "a.txt; rm -rf /"}));
                if denied["isError"] != true || !result_text(&denied).contains("command-injection")
                {
                    failures.push(format!("denied call was not denied: {denied}"));
                }
                decisions.fetch_add(2, Ordering::SeqCst);
            }
            (proxy, failures)
        })
    };
    let after_more = |count: usize| {
        let target = decisions.load(Ordering::SeqCst) + count;
        wait_until("more decisions", || {
            decisions.load(Ordering::SeqCst) >= target
        });
    };

    after_more(20);
    install(
        &policies,
        "zz-broken.wasm",
        b"\0asm\x01\0\0\0 this is not a component",
    );
    log.wait_for("policy reload failed", 1);
    after_more(20);
    std::fs::remove_file(policies.join("zz-broken.wasm")).unwrap();
    let (name, bytes) = &components[0];
    install(&policies, name, bytes);
    log.wait_for("policy generation loaded", 1);
    after_more(20);
    stop.store(true, Ordering::SeqCst);
    let (proxy, failures) = load.join().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed decisions: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert!(proxy.finish().success());

    let generations: Vec<u64> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["generation"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(
        generations.windows(2).all(|pair| pair[0] <= pair[1]),
        "generations went back"
    );
    assert!(
        generations.last() > generations.first(),
        "the good set was never put in force: {:?}",
        (generations.first(), generations.last())
    );
}
