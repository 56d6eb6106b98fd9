//! The instance pool's places, counted, so that an evaluation that finds
//! them all taken waits for one instead of failing.
//!
//! The pooling allocator refuses an instantiation when its pool is full, and
//! a refused instantiation is a policy failure: the event would be denied
//! only because other threads were busy. So every store takes a place here
//! first, waiting at most the policy's own deadline, and gives it back when
//! it is dropped (with its instance). A store that could not get a place in
//! time is still created: its instantiation then meets the full pool and
//! fails closed, as it did before.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The free places of a pool of `capacity` instances.
#[derive(Debug)]
pub(crate) struct InstanceSlots {
    free: Mutex<u32>,
    freed: Condvar,
}

/// One taken place, given back on drop.
#[derive(Debug)]
pub(crate) struct Slot(Arc<InstanceSlots>);

impl InstanceSlots {
    /// A pool with `capacity` free places.
    pub(crate) fn new(capacity: u32) -> Arc<InstanceSlots> {
        Arc::new(InstanceSlots {
            free: Mutex::new(capacity),
            freed: Condvar::new(),
        })
    }

    /// Takes a place, waiting up to `wait` for one; `None` when none came.
    pub(crate) fn acquire(self: &Arc<Self>, wait: Duration) -> Option<Slot> {
        let deadline = Instant::now() + wait;
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            let left = deadline.checked_duration_since(Instant::now())?;
            free = self
                .freed
                .wait_timeout(free, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *free -= 1;
        Some(Slot(Arc::clone(self)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiter_gets_the_place_given_back_and_a_late_one_gives_up() {
        let slots = InstanceSlots::new(1);
        let held = slots.acquire(Duration::ZERO).unwrap();
        assert!(slots.acquire(Duration::from_millis(5)).is_none());
        let waiter = {
            let slots = Arc::clone(&slots);
            std::thread::spawn(move || slots.acquire(Duration::from_secs(10)).is_some())
        };
        std::thread::sleep(Duration::from_millis(20));
        drop(held);
        assert!(waiter.join().unwrap());
    }
}
