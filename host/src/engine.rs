//! Stand-in for the engine's `engine` module; replaced by the engine branch at merge.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::policy_set::PolicySet;
use crate::state::StateQuota;

/// Engine configuration.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// Session state quota.
    pub state_quota: StateQuota,
}

/// Engine construction error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EngineError(String);

/// Policy load error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(String);

/// The engine.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    generations: Arc<AtomicU64>,
}

impl Engine {
    /// New engine.
    pub fn new(_config: EngineConfig) -> Result<Engine, EngineError> {
        Ok(Engine::default())
    }

    /// The embedded bundle.
    pub fn load_default_policies(&self) -> Result<PolicySet, LoadError> {
        Ok(self.next())
    }

    /// Every `*.wasm` in `dir`.
    pub fn load_dir(&self, dir: &Path) -> Result<PolicySet, LoadError> {
        for entry in std::fs::read_dir(dir).map_err(|e| LoadError(e.to_string()))? {
            let path = entry.map_err(|e| LoadError(e.to_string()))?.path();
            if path.extension().is_some_and(|e| e == "wasm") {
                let bytes = std::fs::read(&path).map_err(|e| LoadError(e.to_string()))?;
                if !bytes.starts_with(b"\0asm") {
                    return Err(LoadError(format!("{}: not WebAssembly", path.display())));
                }
            }
        }
        Ok(self.next())
    }

    fn next(&self) -> PolicySet {
        PolicySet {
            generation: self.generations.fetch_add(1, Ordering::SeqCst) + 1,
        }
    }
}
