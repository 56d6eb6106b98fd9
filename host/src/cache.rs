//! The on-disk cache of compiled policies: a component compiled once is
//! stored as native code, and later loads (in this process or the next)
//! read it back instead of compiling again. Compiling a large component
//! (a Python policy, say) takes seconds; reading it back takes milliseconds.
//!
//! A cached file is named `<sha256 of the component>-<engine hash>.cwasm`:
//! the content hash of the source component, and a hash of everything in
//! the runtime that shapes compiled code (Wasmtime's version, target, and
//! compiler and engine settings). A changed component, or a changed
//! runtime, therefore never finds a stale file; it misses and compiles.

use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::fs::{Dir, OpenOptions};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::error::EngineError;
use portcullis_text::digest::hex;

/// A directory of compiled components, written only by this library.
pub(crate) struct ComponentCache {
    dir: Dir,
    path: PathBuf,
    engine_hash: String,
}

impl ComponentCache {
    /// Opens (creating it if need be) the cache in `path`, for components
    /// compiled by `engine`.
    ///
    /// The directory is created 0700. On Unix it must belong to the current
    /// user (or root) and not be writable by its group or by others
    /// ([`trust`](crate::trust)): whoever can write a cached file can make
    /// the process run native code. Each cached file is checked the same
    /// way before it is read; one that fails is a miss.
    pub(crate) fn open(path: &Path, engine: &wasmtime::Engine) -> Result<Self, EngineError> {
        let io_error = |source| EngineError::CacheDir {
            path: path.to_owned(),
            source,
        };
        crate::trust::create_private_dir(path).map_err(io_error)?;
        let dir = Dir::open_ambient_dir(path, cap_std::ambient_authority()).map_err(io_error)?;
        crate::trust::check(&dir.dir_metadata().map_err(io_error)?, "it").map_err(io_error)?;
        let mut hasher = Sha256Hasher(Sha256::new());
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
        Ok(ComponentCache {
            dir,
            path: path.to_owned(),
            engine_hash: hex(&hasher.0.finalize()[..16]),
        })
    }

    /// The file name of the component whose source has SHA-256 `digest`.
    fn file_name(&self, digest: &str) -> String {
        format!("{digest}-{}.cwasm", self.engine_hash)
    }

    /// The cached compilation of the component whose source has SHA-256
    /// `digest`, if there is a usable one. Any failure to read or load it
    /// is a miss.
    pub(crate) fn load(&self, engine: &wasmtime::Engine, digest: &str) -> Option<Component> {
        let name = self.file_name(digest);
        match self.dir.symlink_metadata(&name) {
            Ok(metadata) => {
                if let Err(error) = crate::trust::check(&metadata, "the cached file") {
                    tracing::warn!(cache = %self.path.display(), file = name, "not loading a cached policy, compiling it instead: {error}");
                    return None;
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
            Err(error) => {
                tracing::warn!(cache = %self.path.display(), file = name, "cannot read a cached policy, compiling it instead: {error}");
                return None;
            }
        }
        let bytes = match self.dir.read(&name) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
            Err(error) => {
                tracing::warn!(cache = %self.path.display(), file = name, "cannot read a cached policy, compiling it instead: {error}");
                return None;
            }
        };
        // SAFETY: `Component::deserialize` trusts its input to be native code
        // that Wasmtime produced with a compatible engine; it checks the
        // version and settings recorded in it, not the code. The bytes come
        // from a file that only `store` writes: it serializes a component
        // this engine compiled, into a temporary file, and renames it into
        // place whole, so a reader never sees a partial file. The file name
        // is keyed by the SHA-256 of the source component and by the engine's
        // compatibility hash, so it holds the compilation of exactly this
        // source by an engine like this one. `open` refuses a directory, and
        // this function a file or a symlink, that another user owns or
        // others may write to. The bytes are read into memory rather than
        // mapped (`deserialize_file`), so a file changed after the read
        // cannot change the loaded code.
        // The crate's one exception to `unsafe_code = "deny"`.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize(engine, &bytes) };
        match loaded {
            Ok(component) => {
                tracing::debug!(cache = %self.path.display(), file = name, "loaded a compiled policy from the cache");
                Some(component)
            }
            Err(error) => {
                tracing::warn!(cache = %self.path.display(), file = name, "cannot load a cached policy, compiling it instead: {error:#}");
                None
            }
        }
    }

    /// Stores the compilation of the component whose source has SHA-256
    /// `digest`. A failure is logged and otherwise ignored: the cache only
    /// saves time.
    pub(crate) fn store(&self, digest: &str, component: &Component) {
        let name = self.file_name(digest);
        if let Err(error) = self.write(&name, component) {
            tracing::warn!(cache = %self.path.display(), file = name, "cannot cache a compiled policy: {error:#}");
        }
    }

    /// Writes `component` to a temporary file, then renames it to `name`,
    /// replacing any file there in one step.
    fn write(&self, name: &str, component: &Component) -> wasmtime::Result<()> {
        /// Tells apart the temporary files of concurrent writers in a process.
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let bytes = component.serialize()?;
        let temporary = format!(
            "{name}.{}-{}.tmp",
            std::process::id(),
            WRITES.fetch_add(1, Ordering::Relaxed)
        );
        let written = self
            .dir
            .open_with(&temporary, OpenOptions::new().write(true).create_new(true))
            .and_then(|mut file| {
                file.write_all(&bytes)?;
                file.sync_all()
            })
            .and_then(|()| self.dir.rename(&temporary, &self.dir, name));
        if written.is_err() {
            let _ = self.dir.remove_file(&temporary);
        }
        Ok(written?)
    }
}

/// Feeds what a [`std::hash::Hash`] implementation writes into SHA-256, so
/// that the result is the same in every process.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("SHA-256 has 32 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh, private directory, removed when dropped.
    struct ScratchDir(PathBuf);

    impl ScratchDir {
        fn new(name: &str) -> ScratchDir {
            let path = std::env::temp_dir()
                .join(format!("portcullis-cache-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            ScratchDir(path)
        }
    }

    impl Drop for ScratchDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A component that imports one function named `name`.
    fn component(engine: &wasmtime::Engine, name: &str) -> Component {
        let wat = format!(r#"(component (import "{name}" (func)))"#);
        Component::new(engine, wat::parse_str(wat).unwrap()).unwrap()
    }

    fn import_of(engine: &wasmtime::Engine, component: &Component) -> String {
        let types = component.component_type();
        let mut imports = types.imports(engine);
        imports.next().unwrap().0.to_owned()
    }

    fn cached_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_stored_component_is_loaded_back_under_its_digest() {
        let scratch = ScratchDir::new("round-trip");
        let engine = wasmtime::Engine::default();
        let cache = ComponentCache::open(&scratch.0, &engine).unwrap();
        assert!(cache.load(&engine, "a-digest").is_none());
        cache.store("a-digest", &component(&engine, "a"));
        // What the cache holds under a digest is what it serves for it,
        // whatever that digest's source would compile to: a hit deserializes
        // and never compiles.
        cache.store("b-digest", &component(&engine, "a"));
        let loaded = cache.load(&engine, "b-digest").unwrap();
        assert_eq!(import_of(&engine, &loaded), "a");
        let files = cached_files(&scratch.0);
        assert_eq!(files.len(), 2, "{files:?}");
        assert!(files[0].starts_with("a-digest-") && files[0].ends_with(".cwasm"));
    }

    #[test]
    fn an_unreadable_cached_file_is_a_miss_and_is_replaced() {
        let scratch = ScratchDir::new("corrupt");
        let engine = wasmtime::Engine::default();
        let cache = ComponentCache::open(&scratch.0, &engine).unwrap();
        cache.store("digest", &component(&engine, "a"));
        let file = scratch.0.join(&cached_files(&scratch.0)[0]);
        std::fs::write(&file, b"not compiled code").unwrap();
        assert!(cache.load(&engine, "digest").is_none());
        cache.store("digest", &component(&engine, "a"));
        assert!(cache.load(&engine, "digest").is_some());
        assert_eq!(
            cached_files(&scratch.0).len(),
            1,
            "no temporary file is left"
        );
    }

    #[test]
    fn engines_with_other_settings_use_other_files() {
        let scratch = ScratchDir::new("settings");
        let default = wasmtime::Engine::default();
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let interruptible = wasmtime::Engine::new(&config).unwrap();
        let first = ComponentCache::open(&scratch.0, &default).unwrap();
        let second = ComponentCache::open(&scratch.0, &interruptible).unwrap();
        first.store("digest", &component(&default, "a"));
        assert!(second.load(&interruptible, "digest").is_none());
        assert!(first.load(&default, "digest").is_some());
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_others_may_write_to_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let scratch = ScratchDir::new("shared");
        std::fs::create_dir_all(&scratch.0).unwrap();
        std::fs::set_permissions(&scratch.0, std::fs::Permissions::from_mode(0o777)).unwrap();
        let engine = wasmtime::Engine::default();
        let error = ComponentCache::open(&scratch.0, &engine)
            .err()
            .expect("a world-writable cache is refused");
        assert!(matches!(error, EngineError::CacheDir { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .contains("writable by its group or by others"),
            "{error}"
        );
    }
}
