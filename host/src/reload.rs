//! Hot reload: the current policy generation behind an atomic pointer, and a
//! watcher that builds the next generation from a policy directory when it
//! changes.
//!
//! Evaluations load the current [`PolicySet`] once and finish on it, so a
//! swap never disturbs a decision in flight. A new generation is compiled on
//! the watcher's own thread; when it fails to load, the last good generation
//! keeps serving and the error is logged and kept in the [`ReloadStatus`].

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use crate::{Context, Decider, Decision, Engine, Event, LoadError, PolicySet, SessionState};

/// The policy generation in force, replaceable atomically.
#[derive(Debug)]
pub struct PolicyHandle {
    current: ArcSwap<PolicySet>,
}

impl PolicyHandle {
    /// A handle serving `policies`.
    pub fn new(policies: PolicySet) -> PolicyHandle {
        PolicyHandle {
            current: ArcSwap::from_pointee(policies),
        }
    }

    /// The generation in force.
    pub fn current(&self) -> Arc<PolicySet> {
        self.current.load_full()
    }

    /// Puts `policies` in force; evaluations already running finish on the
    /// generation they started with.
    pub fn replace(&self, policies: PolicySet) {
        self.current.store(Arc::new(policies));
    }
}

impl Decider for PolicyHandle {
    fn decide(&self, context: &Context, event: &Event, session: &SessionState) -> Decision {
        self.current.load().evaluate(context, event, session)
    }

    fn generation(&self) -> u64 {
        self.current.load().generation()
    }
}

/// What the watcher has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadStatus {
    /// The generation in force.
    pub generation: u64,
    /// How many new generations were put in force.
    pub reloads: u64,
    /// How many reloads failed and left the previous generation in force.
    pub failures: u64,
    /// The error of the last reload, if it failed.
    pub last_error: Option<String>,
}

/// Why the watcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The policy directory could not be watched.
    #[error("cannot watch policy directory {path}: {source}")]
    Watch {
        /// The directory.
        path: PathBuf,
        /// The watcher's error.
        source: notify::Error,
    },
    /// The watcher thread could not be started.
    #[error("cannot start the policy watcher thread: {0}")]
    Thread(std::io::Error),
}

/// Loads the policies in `dir` and, when they load, puts them in force.
/// Returns the new generation.
pub fn reload(engine: &Engine, dir: &Path, handle: &PolicyHandle) -> Result<u64, LoadError> {
    let policies = engine.load_dir(dir)?;
    let generation = policies.generation();
    let previous = handle.current();
    for dropped in previous
        .policies()
        .filter(|old| policies.policies().all(|new| new.name != old.name))
    {
        tracing::warn!(
            policy = dropped.name,
            generation,
            "a reload dropped a policy: it no longer decides"
        );
    }
    handle.replace(policies);
    Ok(generation)
}

/// What the watcher thread is told.
#[derive(Debug)]
enum Signal {
    Changed(notify::Result<notify::Event>),
    Stop,
}

/// Watches a policy directory and reloads it after each burst of changes.
#[derive(Debug)]
pub struct PolicyWatcher {
    status: Arc<Mutex<ReloadStatus>>,
    stop: Sender<Signal>,
    thread: Option<JoinHandle<()>>,
}

impl PolicyWatcher {
    /// Starts watching `dir`: once it has been quiet for `debounce` after a
    /// change, its policies are reloaded into `handle`. The directory itself
    /// may be replaced (renamed over), and when `dir` is a symbolic link the
    /// link may be swapped to another directory (`ln -sfn v2 current.new &&
    /// mv -T current.new current`): the path is watched as given and
    /// resolved again after each change.
    pub fn spawn(
        engine: Engine,
        dir: PathBuf,
        handle: Arc<PolicyHandle>,
        debounce: Duration,
    ) -> Result<PolicyWatcher, ReloadError> {
        let watch_error = |source: std::io::Error| ReloadError::Watch {
            path: dir.clone(),
            source: notify::Error::io(source),
        };
        let given = std::path::absolute(&dir).map_err(watch_error)?;
        let mut resolved = given.canonicalize().map_err(watch_error)?;
        let (sender, signals) = mpsc::channel();
        let events = sender.clone();
        let mut watcher = notify::recommended_watcher(move |event| {
            // The receiver is gone only while the watcher shuts down.
            let _ = events.send(Signal::Changed(event));
        })
        .map_err(|source| ReloadError::Watch {
            path: dir.clone(),
            source,
        })?;
        watch(&mut watcher, &given, &resolved)?;
        let status = Arc::new(Mutex::new(ReloadStatus {
            generation: handle.current().generation(),
            ..ReloadStatus::default()
        }));
        let thread_status = Arc::clone(&status);
        let thread = std::thread::Builder::new()
            .name("portcullis-policy-watcher".into())
            .spawn(move || {
                let mut watcher = watcher;
                while wait_for_change(&signals, &given, &resolved, debounce) {
                    match given.canonicalize() {
                        Ok(now) if now != resolved => {
                            tracing::info!(dir = %given.display(), from = %resolved.display(), to = %now.display(), "the policy directory now resolves elsewhere");
                            resolved = now;
                        }
                        Ok(_) => {}
                        Err(error) => tracing::warn!(%error, dir = %given.display(), "the policy directory cannot be resolved"),
                    }
                    if let Err(error) = watch(&mut watcher, &given, &resolved) {
                        tracing::warn!(%error, "re-watching the policy directory failed");
                    }
                    let dir = &given;
                    let outcome = reload(&engine, dir, &handle);
                    let mut status = thread_status.lock().unwrap_or_else(PoisonError::into_inner);
                    match outcome {
                        Ok(generation) => {
                            tracing::info!(generation, dir = %dir.display(), "policy generation loaded");
                            status.generation = generation;
                            status.reloads += 1;
                            status.last_error = None;
                        }
                        Err(error) => {
                            tracing::error!(
                                %error,
                                generation = status.generation,
                                dir = %dir.display(),
                                "policy reload failed; the previous generation stays in force"
                            );
                            status.failures += 1;
                            status.last_error = Some(error.to_string());
                        }
                    }
                }
            })
            .map_err(ReloadError::Thread)?;
        Ok(PolicyWatcher {
            status,
            stop: sender,
            thread: Some(thread),
        })
    }

    /// What the watcher has done so far.
    pub fn status(&self) -> ReloadStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for PolicyWatcher {
    fn drop(&mut self) {
        let _ = self.stop.send(Signal::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Watches the directory `resolved` and its parent (to see it replaced),
/// and the parent of `given`, the path as the operator gave it (to see a
/// symbolic link swapped).
fn watch(
    watcher: &mut RecommendedWatcher,
    given: &Path,
    resolved: &Path,
) -> Result<(), ReloadError> {
    let error = |source| ReloadError::Watch {
        path: given.to_owned(),
        source,
    };
    let parents = [given.parent(), resolved.parent()];
    for parent in parents
        .into_iter()
        .flatten()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        let _ = watcher.unwatch(parent);
        watcher
            .watch(parent, RecursiveMode::NonRecursive)
            .map_err(error)?;
    }
    let _ = watcher.unwatch(resolved);
    watcher
        .watch(resolved, RecursiveMode::NonRecursive)
        .map_err(error)
}

/// Blocks until a relevant change to `dir`, or to the path `given` that
/// resolves to it, was followed by `debounce` with
/// no other relevant change (unrelated activity next to the directory does
/// not hold a reload back). Returns false when the watcher is stopping.
fn wait_for_change(
    signals: &mpsc::Receiver<Signal>,
    given: &Path,
    dir: &Path,
    debounce: Duration,
) -> bool {
    let is_relevant = |event: &notify::Result<notify::Event>| {
        is_relevant(event, dir)
            || event
                .as_ref()
                .is_ok_and(|event| event.paths.iter().any(|path| path == given))
    };
    loop {
        match signals.recv() {
            Ok(Signal::Changed(event)) if is_relevant(&event) => break,
            Ok(Signal::Changed(_)) => continue,
            Ok(Signal::Stop) | Err(_) => return false,
        }
    }
    let mut quiet_from = Instant::now();
    loop {
        match signals.recv_timeout(debounce.saturating_sub(quiet_from.elapsed())) {
            Ok(Signal::Changed(event)) if is_relevant(&event) => quiet_from = Instant::now(),
            Ok(Signal::Changed(_)) => continue,
            Err(RecvTimeoutError::Timeout) => return true,
            Ok(Signal::Stop) | Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
}

/// A change that can alter the policy set: a `.wasm` file in `dir`, or `dir`
/// itself. Reads (including the loader's own) are not changes.
fn is_relevant(event: &notify::Result<notify::Event>, dir: &Path) -> bool {
    let Ok(event) = event else {
        // A lost event (queue overflow) may hide a change.
        return true;
    };
    if matches!(event.kind, EventKind::Access(_)) {
        return false;
    }
    event.paths.iter().any(|path| {
        path == dir
            || (path.parent() == Some(dir) && path.extension().is_some_and(|ext| ext == "wasm"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineConfig;
    use notify::event::{AccessKind, CreateKind, EventKind};

    fn event(kind: EventKind, path: &Path) -> notify::Result<notify::Event> {
        Ok(notify::Event::new(kind).add_path(path.to_owned()))
    }

    #[test]
    fn only_changes_to_components_in_the_directory_are_relevant() {
        let dir = Path::new("/policies");
        let create = EventKind::Create(CreateKind::File);
        assert!(is_relevant(&event(create, &dir.join("a.wasm")), dir));
        assert!(is_relevant(&event(create, dir), dir));
        assert!(!is_relevant(&event(create, &dir.join("notes.txt")), dir));
        assert!(!is_relevant(&event(create, Path::new("/audit.jsonl")), dir));
        assert!(!is_relevant(&event(create, &dir.join("sub/a.wasm")), dir));
        let read = EventKind::Access(AccessKind::Read);
        assert!(!is_relevant(&event(read, &dir.join("a.wasm")), dir));
    }

    /// Waits (bounded, as a guard against hanging) until `done` holds.
    fn wait_until(watcher: &PolicyWatcher, done: impl Fn(&ReloadStatus) -> bool) -> ReloadStatus {
        for _ in 0..3000 {
            let status = watcher.status();
            if done(&status) {
                return status;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the watcher never got there: {:?}", watcher.status());
    }

    #[test]
    fn a_broken_set_keeps_the_last_good_generation_and_a_good_one_replaces_it() {
        let dir = std::env::temp_dir().join(format!("portcullis-reload-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, component) in crate::default_policies() {
            std::fs::write(dir.join(format!("{name}.wasm")), component).unwrap();
        }
        let engine = Engine::new(EngineConfig::new()).unwrap();
        let handle = Arc::new(PolicyHandle::new(engine.load_dir(&dir).unwrap()));
        let first = handle.generation();
        let watcher = PolicyWatcher::spawn(
            engine,
            dir.clone(),
            Arc::clone(&handle),
            Duration::from_millis(20),
        )
        .unwrap();

        std::fs::write(dir.join("broken.wasm"), b"not a component").unwrap();
        let status = wait_until(&watcher, |status| status.failures >= 1);
        assert!(status.last_error.is_some());
        assert_eq!(status.generation, first);
        assert_eq!(handle.generation(), first);

        std::fs::remove_file(dir.join("broken.wasm")).unwrap();
        let status = wait_until(&watcher, |status| status.reloads >= 1);
        assert_eq!(status.last_error, None);
        assert!(status.generation > first);
        assert_eq!(handle.generation(), status.generation);
    }

    /// Red-team finding 14: a `--policies` path that is a symbolic link,
    /// swapped atomically to another directory, reloads the new one.
    #[cfg(unix)]
    #[test]
    fn a_swapped_symbolic_link_reloads_the_directory_it_now_names() {
        let root = std::env::temp_dir().join(format!("portcullis-swap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let policies: Vec<_> = crate::default_policies().collect();
        for (version, count) in [("v1", policies.len()), ("v2", 2)] {
            let dir = root.join(version);
            std::fs::create_dir_all(&dir).unwrap();
            for (name, component) in policies.iter().take(count) {
                std::fs::write(dir.join(format!("{name}.wasm")), component).unwrap();
            }
        }
        let current = root.join("current");
        std::os::unix::fs::symlink("v1", &current).unwrap();
        let engine = Engine::new(EngineConfig::new()).unwrap();
        let handle = Arc::new(PolicyHandle::new(engine.load_dir(&current).unwrap()));
        assert_eq!(handle.current().policies().count(), policies.len());
        let watcher = PolicyWatcher::spawn(
            engine,
            current.clone(),
            Arc::clone(&handle),
            Duration::from_millis(20),
        )
        .unwrap();

        let next = root.join("current.new");
        std::os::unix::fs::symlink("v2", &next).unwrap();
        std::fs::rename(&next, &current).unwrap();
        let status = wait_until(&watcher, |status| status.reloads >= 1);
        assert_eq!(status.last_error, None);
        assert_eq!(handle.current().policies().count(), 2);
        let _ = std::fs::remove_dir_all(&root);
    }
}
