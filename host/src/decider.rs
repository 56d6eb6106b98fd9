//! [`Decider`]: what every enforcement point (the MCP proxy, a decision
//! server, an agent hook) asks for a decision.

use crate::{Context, Decision, Event, PolicySet, SessionState};

/// Something that decides events: a fixed [`PolicySet`], or the generation
/// in force behind a [`PolicyHandle`](crate::reload::PolicyHandle).
pub trait Decider: Send + Sync {
    /// Decides one event of `session`.
    fn decide(&self, context: &Context, event: &Event, session: &SessionState) -> Decision;

    /// The generation that decides now; an enforcement point stamps it on the
    /// decisions it makes itself (rug pulls, human approvals).
    fn generation(&self) -> u64;
}

impl Decider for PolicySet {
    fn decide(&self, context: &Context, event: &Event, session: &SessionState) -> Decision {
        self.evaluate(context, event, session)
    }

    fn generation(&self) -> u64 {
        PolicySet::generation(self)
    }
}
