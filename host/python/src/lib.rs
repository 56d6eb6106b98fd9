//! The native half of the `portcullis` Python package: the engine, policy
//! sets (fixed or hot-reloaded) and session state, with events and
//! decisions crossing as JSON text. The typed Python API over it lives in
//! `python/portcullis/`.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use portcullis::reload::{PolicyHandle, PolicyWatcher};
use portcullis::{Context, Decider as _, EngineConfig, Event, SessionState, Verdict};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// How long a watched directory must be quiet before it is reloaded.
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(200);

fn runtime_error(error: impl std::fmt::Display) -> PyErr {
    PyRuntimeError::new_err(error.to_string())
}

/// Compiles and runs policies; one per process is enough.
#[pyclass(frozen, module = "portcullis._native")]
struct Engine {
    inner: portcullis::Engine,
}

#[pymethods]
impl Engine {
    #[new]
    #[pyo3(signature = (timeout_ms = 100, fail_verdict = "deny", cache_dir = None))]
    fn new(timeout_ms: u64, fail_verdict: &str, cache_dir: Option<PathBuf>) -> PyResult<Engine> {
        let fail = match fail_verdict {
            "deny" => Verdict::Deny,
            "escalate" => Verdict::Escalate,
            other => {
                return Err(PyValueError::new_err(format!(
                    "fail_verdict must be \"deny\" or \"escalate\", not {other:?}"
                )));
            }
        };
        let config = EngineConfig::new()
            .timeout(Duration::from_millis(timeout_ms))
            .fail_verdict(fail)
            .cache_dir(cache_dir);
        let inner = portcullis::Engine::new(config).map_err(runtime_error)?;
        Ok(Engine { inner })
    }

    /// The policies embedded in the package.
    fn load_default_policies(&self) -> PyResult<PolicySet> {
        let policies = self.inner.load_default_policies().map_err(runtime_error)?;
        Ok(PolicySet::fixed(policies))
    }

    /// The components (`*.wasm`) of a directory.
    fn load_dir(&self, path: PathBuf) -> PyResult<PolicySet> {
        let policies = self.inner.load_dir(&path).map_err(runtime_error)?;
        Ok(PolicySet::fixed(policies))
    }

    /// The components of a directory, reloaded whenever it changes; a
    /// broken generation never replaces a working one.
    fn watch_dir(&self, path: PathBuf) -> PyResult<PolicySet> {
        let policies = self.inner.load_dir(&path).map_err(runtime_error)?;
        let handle = Arc::new(PolicyHandle::new(policies));
        let watcher = PolicyWatcher::spawn(
            self.inner.clone(),
            path,
            Arc::clone(&handle),
            RELOAD_DEBOUNCE,
        )
        .map_err(runtime_error)?;
        Ok(PolicySet {
            handle,
            _watcher: Some(watcher),
        })
    }
}

/// A generation of policies, or the one in force behind a watched directory.
#[pyclass(frozen, module = "portcullis._native")]
struct PolicySet {
    handle: Arc<PolicyHandle>,
    _watcher: Option<PolicyWatcher>,
}

impl PolicySet {
    fn fixed(policies: portcullis::PolicySet) -> PolicySet {
        PolicySet {
            handle: Arc::new(PolicyHandle::new(policies)),
            _watcher: None,
        }
    }
}

#[pymethods]
impl PolicySet {
    /// Decides one event record (the JSON of a `portcullis check` line) in
    /// `session`; returns the decision as JSON.
    #[pyo3(signature = (event_json, session, session_id, server, tenant = None))]
    fn evaluate_json(
        &self,
        py: Python<'_>,
        event_json: &str,
        session: &Session,
        session_id: &str,
        server: &str,
        tenant: Option<&str>,
    ) -> PyResult<String> {
        let record: serde_json::Value = serde_json::from_str(event_json)
            .map_err(|error| PyValueError::new_err(format!("the event is not JSON: {error}")))?;
        let event = Event::from_record(&record)
            .map_err(|error| PyValueError::new_err(error.to_string()))?;
        let mut context = Context::new(session_id, server);
        if let Some(tenant) = tenant {
            context = context.with_tenant(tenant);
        }
        let decision = py.detach(|| self.handle.decide(&context, &event, &session.inner));
        serde_json::to_string(&decision).map_err(runtime_error)
    }

    /// The policies in force, as JSON: `[{"name", "version", "digest"}]`.
    fn policies_json(&self) -> PyResult<String> {
        let current = self.handle.current();
        let policies: Vec<serde_json::Value> = current
            .policies()
            .map(|policy| {
                serde_json::json!({
                    "name": policy.name, "version": policy.version, "digest": policy.digest,
                })
            })
            .collect();
        serde_json::to_string(&policies).map_err(runtime_error)
    }

    /// The generation in force.
    #[getter]
    fn generation(&self) -> u64 {
        self.handle.generation()
    }
}

/// What policies remember about one session between its events.
#[pyclass(frozen, module = "portcullis._native")]
struct Session {
    inner: SessionState,
}

#[pymethods]
impl Session {
    #[new]
    fn new() -> Session {
        Session {
            inner: SessionState::new(Default::default()),
        }
    }

    /// The labels policies gave the session (`untrusted-content`…).
    fn labels(&self) -> Vec<String> {
        self.inner.labels()
    }
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Engine>()?;
    module.add_class::<PolicySet>()?;
    module.add_class::<Session>()?;
    Ok(())
}
