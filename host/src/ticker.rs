//! The thread that advances the engine's epoch, which is how policy
//! timeouts are enforced: every store gets a deadline of so many ticks, and
//! a policy still running when the epoch passes it traps.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the epoch advances: the granularity of policy timeouts.
pub(crate) const TICK: Duration = Duration::from_millis(1);

/// The running ticker thread; dropping it stops the thread.
pub(crate) struct EpochTicker {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts a thread that increments `engine`'s epoch every [`TICK`].
    pub(crate) fn start(engine: wasmtime::Engine) -> std::io::Result<EpochTicker> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("portcullis-epoch".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        // Closing the channel wakes the thread, which then returns.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
