//! Whether a directory or file may be trusted to hold code this process
//! runs: compiled policies in the cache (native code), components in a
//! policies directory.
//!
//! The rule is the one `sshd`'s StrictModes applies to a user's keys: the
//! owner is the current user or root, and neither the group nor others may
//! write to it. The owner counts, not only the mode: a directory owned by
//! another user is theirs to change whatever its mode says. On other
//! systems than Unix nothing is checked.

use std::io;

/// Checks `metadata` of `what` (a short name for messages, such as "it" or
/// "the file `x.wasm`") against the rule.
///
/// # Errors
/// `PermissionDenied`, saying which part of the rule fails and what to do.
pub(crate) fn check(metadata: &cap_std::fs::Metadata, what: &str) -> io::Result<()> {
    if metadata.file_type().is_symlink() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{what} is a symbolic link; give the file itself"),
        ));
    }
    #[cfg(unix)]
    {
        use cap_std::fs::MetadataExt;
        let me = rustix::process::geteuid().as_raw();
        let owner = metadata.uid();
        if owner != me && owner != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{what} is owned by user {owner}, not by the current user ({me}) or root; whoever owns it can change the code this process runs"
                ),
            ));
        }
        let mode = metadata.mode();
        if mode & 0o022 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{what} is writable by its group or by others (mode {:o}); whoever can write there can change the code this process runs, so make it writable by its owner only",
                    mode & 0o777
                ),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = (metadata, what);
    Ok(())
}

/// Creates `path` and its missing parents with mode 0700 whatever the
/// umask, so that a directory made to be checked passes the check.
pub(crate) fn create_private_dir(path: &std::path::Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn metadata(path: &std::path::Path) -> cap_std::fs::Metadata {
        let dir = cap_std::fs::Dir::open_ambient_dir(path, cap_std::ambient_authority()).unwrap();
        dir.dir_metadata().unwrap()
    }

    #[test]
    fn a_private_directory_passes_and_a_shared_one_does_not() {
        let root = tempfile::tempdir().unwrap();
        let private = root.path().join("a/b");
        create_private_dir(&private).unwrap();
        check(&metadata(&private), "it").unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o775)).unwrap();
        let error = check(&metadata(&private), "it").unwrap_err();
        assert!(error.to_string().contains("mode 775"), "{error}");
    }

    #[test]
    fn a_directory_owned_by_another_user_is_refused() {
        if rustix::process::geteuid().as_raw() != 0 {
            return; // Only root can give a directory away.
        }
        let root = tempfile::tempdir().unwrap();
        let theirs = root.path().join("theirs");
        create_private_dir(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), None).unwrap();
        let error = check(&metadata(&theirs), "it").unwrap_err();
        assert!(error.to_string().contains("owned by user 65534"), "{error}");
    }
}
