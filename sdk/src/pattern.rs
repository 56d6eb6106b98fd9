//! Builders for [`Metadata`] and [`Pattern`].

use crate::{BuiltinDetector, EventKind, Matcher, Metadata, Pattern};

impl Metadata {
    /// Metadata for a policy with the given name and version, subscribed to
    /// no events yet.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Metadata {
            name: name.into(),
            version: version.into(),
            events: Vec::new(),
            patterns: Vec::new(),
        }
    }

    /// Subscribes the policy to an event.
    #[must_use]
    pub fn on(mut self, event: EventKind) -> Self {
        if !self.events.contains(&event) {
            self.events.push(event);
        }
        self
    }

    /// Asks the prefilter to look for a pattern.
    #[must_use]
    pub fn pattern(mut self, pattern: Pattern) -> Self {
        self.patterns.push(pattern);
        self
    }

    /// Asks the prefilter to look for several patterns.
    #[must_use]
    pub fn patterns(mut self, patterns: impl IntoIterator<Item = Pattern>) -> Self {
        self.patterns.extend(patterns);
        self
    }
}

impl Pattern {
    /// A literal, matched case-insensitively against normalised text.
    pub fn literal(id: impl Into<String>, text: impl Into<String>) -> Self {
        Pattern {
            id: id.into(),
            matcher: Matcher::Literal(text.into()),
        }
    }

    /// A regular expression (`regex-automata` syntax) matched against
    /// normalised, lower-cased text.
    pub fn regex(id: impl Into<String>, regex: impl Into<String>) -> Self {
        Pattern {
            id: id.into(),
            matcher: Matcher::Regex(regex.into()),
        }
    }

    /// One of the host's built-in detectors.
    pub fn builtin(id: impl Into<String>, detector: BuiltinDetector) -> Self {
        Pattern {
            id: id.into(),
            matcher: Matcher::Builtin(detector),
        }
    }
}
