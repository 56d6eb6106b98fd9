//! Stand-in for the engine's `policy_set` module; replaced by the engine branch at merge.

use crate::decision::{Decision, Verdict};
use crate::event::{Context, Event};
use crate::state::SessionState;

/// A generation of policies.
#[derive(Debug)]
pub struct PolicySet {
    pub(crate) generation: u64,
}

impl PolicySet {
    /// Decides one event.
    pub fn evaluate(&self, _ctx: &Context, _event: &Event, _session: &SessionState) -> Decision {
        Decision {
            verdict: Verdict::Allow,
            reasons: Vec::new(),
            policies: Vec::new(),
            generation: self.generation,
        }
    }

    /// The generation.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}
