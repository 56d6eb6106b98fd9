//! The engine facade: its configuration, loading policies (embedded, from a
//! directory, from memory) into policy sets, and the map that compiles each
//! distinct component once.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use crate::compiled::CompiledPolicy;
use crate::config::EngineConfig;
use crate::error::{EngineError, LoadError};
use crate::policy_set::PolicySet;
use crate::runtime::Runtime;
use crate::settings::Settings;
use portcullis_text::digest::sha256_hex;

/// The policy engine: compiles, sandboxes and runs policies.
///
/// An engine owns one WebAssembly runtime with a fixed pool of instances
/// and a thread that enforces timeouts; create one per process and clone it
/// (clones share everything). It keeps every policy it compiled, keyed by
/// the SHA-256 of its component, as long as a loaded [`PolicySet`] uses
/// it, so reloading an unchanged policy costs nothing. The timeout thread
/// stops when the last clone, and the last policy set loaded by any of
/// them, is dropped.
#[derive(Clone)]
pub struct Engine {
    runtime: Arc<Runtime>,
    /// Every policy compiled by this engine (or a clone), by the SHA-256 of
    /// its component, while a policy set still holds it.
    compiled: Arc<Mutex<HashMap<String, Arc<CompiledPolicy>>>>,
    /// The settings every set this engine loads is configured with.
    settings: Arc<Settings>,
}

impl Engine {
    /// Creates an engine.
    ///
    /// # Errors
    /// When the configuration is out of range, or the runtime cannot reserve
    /// its instance pool or start its timeout thread.
    pub fn new(config: EngineConfig) -> Result<Engine, EngineError> {
        config.validate()?;
        Ok(Engine {
            runtime: Arc::new(Runtime::new(config)?),
            compiled: Arc::default(),
            settings: Arc::default(),
        })
    }

    /// This engine, configuring the policy sets it loads from now on with
    /// `settings`. Clones made before keep their settings; all share the
    /// runtime and the compiled policies.
    ///
    /// Each policy checks its settings when a set is loaded: a setting it
    /// refuses, or settings for a policy the set does not have, make the
    /// load fail ([`LoadError::InvalidSettings`],
    /// [`LoadError::SettingsForUnknownPolicy`]).
    #[must_use]
    pub fn with_settings(mut self, settings: Settings) -> Engine {
        self.settings = Arc::new(settings);
        self
    }

    /// The settings the engine configures the sets it loads with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The engine's configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.runtime.config
    }

    /// Loads the default policies embedded in the library.
    ///
    /// # Errors
    /// As [`Engine::load_components`].
    #[cfg(feature = "default-policies")]
    pub fn load_default_policies(&self) -> Result<PolicySet, LoadError> {
        self.load(crate::default_policies().map(|(name, bytes)| (name.to_owned(), bytes)))
    }

    /// Loads every `*.wasm` file in `dir`, in the order of their names.
    ///
    /// The directory and each file must belong to the current user or root
    /// and be writable by their owner only: whoever can write there chooses
    /// the policies.
    ///
    /// # Errors
    /// When `dir` or a file in it cannot be read or may be written by
    /// others, `dir` holds no `*.wasm` file, or as [`Engine::load_components`].
    pub fn load_dir(&self, dir: &Path) -> Result<PolicySet, LoadError> {
        let io_error = |source| LoadError::Io {
            path: dir.to_owned(),
            source,
        };
        let root = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority())
            .map_err(io_error)?;
        crate::trust::check(&root.dir_metadata().map_err(io_error)?, "it").map_err(io_error)?;
        let mut files: Vec<OsString> = Vec::new();
        for entry in root.entries().map_err(io_error)? {
            let entry = entry.map_err(io_error)?;
            let name = entry.file_name();
            if Path::new(&name)
                .extension()
                .is_some_and(|ext| ext == "wasm")
            {
                let file_error = |source| LoadError::Io {
                    path: dir.join(&name),
                    source,
                };
                let metadata = entry.metadata().map_err(file_error)?;
                crate::trust::check(&metadata, "the file").map_err(file_error)?;
                files.push(name);
            }
        }
        if files.is_empty() {
            return Err(LoadError::NoPolicies {
                path: dir.to_owned(),
            });
        }
        files.sort();
        let components = files
            .into_iter()
            .map(|name| {
                let bytes = root.read(&name).map_err(|source| LoadError::Io {
                    path: dir.join(&name),
                    source,
                })?;
                Ok((name.to_string_lossy().into_owned(), bytes))
            })
            .collect::<Result<Vec<_>, LoadError>>()?;
        self.load(components)
    }

    /// Loads components given as (source name, bytes). The source name (a
    /// file name, say) identifies a policy in errors until its metadata has
    /// named it.
    ///
    /// # Errors
    /// The first policy that is not a valid component, imports anything but
    /// the host interface, does not implement the `policy` world, fails or
    /// gives invalid metadata (an invalid pattern among others), shares
    /// its name with another, or refuses its settings.
    pub fn load_components(
        &self,
        components: impl IntoIterator<Item = (String, Vec<u8>)>,
    ) -> Result<PolicySet, LoadError> {
        self.load(components)
    }

    fn load<B: AsRef<[u8]>>(
        &self,
        components: impl IntoIterator<Item = (String, B)>,
    ) -> Result<PolicySet, LoadError> {
        let policies = components
            .into_iter()
            .map(|(source, bytes)| {
                let policy = self.compiled(&source, bytes.as_ref())?;
                Ok((source, policy))
            })
            .collect::<Result<Vec<_>, LoadError>>()?;
        let set = PolicySet::new(Arc::clone(&self.runtime), policies, &self.settings)?;
        // The map holds one reference to each policy itself: a count of one
        // means no policy set uses it any more.
        self.lock_compiled()
            .retain(|_, policy| Arc::strong_count(policy) > 1);
        Ok(set)
    }

    /// The policy compiled from `bytes`, from the cache when it is there.
    fn compiled(&self, source: &str, bytes: &[u8]) -> Result<Arc<CompiledPolicy>, LoadError> {
        let digest = sha256_hex(bytes);
        if let Some(policy) = self.lock_compiled().get(&digest) {
            return Ok(Arc::clone(policy));
        }
        // Compile without holding the lock: other loads can go on meanwhile.
        let policy = Arc::new(CompiledPolicy::load(
            &self.runtime,
            source,
            bytes,
            digest.clone(),
        )?);
        Ok(Arc::clone(
            self.lock_compiled().entry(digest).or_insert(policy),
        ))
    }

    fn lock_compiled(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<CompiledPolicy>>> {
        // The map is consistent after every statement that changes it.
        self.compiled.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.runtime.config)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::InstanceReuse;

    #[test]
    fn configurations_out_of_range_are_refused() {
        for config in [
            EngineConfig {
                timeout: Duration::ZERO,
                ..EngineConfig::default()
            },
            EngineConfig {
                memory_limit: 1024,
                ..EngineConfig::default()
            },
            EngineConfig {
                max_instances: 0,
                ..EngineConfig::default()
            },
            EngineConfig {
                instance_reuse: Some(InstanceReuse {
                    max_calls: 0,
                    ..InstanceReuse::default()
                }),
                ..EngineConfig::default()
            },
        ] {
            assert!(matches!(
                Engine::new(config),
                Err(EngineError::InvalidConfig { .. })
            ));
        }
    }

    #[test]
    fn unchanged_policies_are_compiled_once() {
        let engine = Engine::new(EngineConfig::new()).unwrap();
        let first = engine.load_default_policies().unwrap();
        let second = engine.load_default_policies().unwrap();
        assert!(first.policies().count() > 0);
        assert_ne!(first.generation(), second.generation());
        for (a, b) in first.loaded().zip(second.loaded()) {
            assert!(Arc::ptr_eq(a, b), "{} was compiled twice", a.info().name);
        }
        drop((first, second));
        // A load that no longer uses a policy evicts it.
        engine.load_components([]).unwrap();
        assert!(engine.lock_compiled().is_empty());
    }
}
