//! The SDK carries a copy of the WIT contract so that it packages on its own;
//! the copy must be the workspace's `wit/` to the byte.

#[test]
fn the_sdk_wit_is_the_workspace_wit() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let canonical = std::fs::read_to_string(root.join("wit/policy.wit")).unwrap();
    let copy = std::fs::read_to_string(root.join("sdk/wit/policy.wit")).unwrap();
    assert!(
        canonical == copy,
        "sdk/wit/policy.wit differs from wit/policy.wit: run `cp wit/policy.wit sdk/wit/`"
    );
}
