//! The prefilter: finds the patterns policies asked for in an event's text
//! fields, once per event for every policy of a generation.
//!
//! This is a deliberately simple implementation: it lower-cases each field
//! and searches it pattern by pattern.

use regex_automata::meta::Regex;

/// Detectors built into the prefilter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinDetector {
    /// Zero-width characters, soft hyphens and other invisible format characters.
    InvisibleCharacters,
    /// Unicode tag characters (U+E0000..U+E007F).
    TagCharacters,
    /// Bidirectional controls.
    BidiControls,
}

impl BuiltinDetector {
    fn detects(self, c: char) -> bool {
        match self {
            BuiltinDetector::InvisibleCharacters => {
                matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
            }
            BuiltinDetector::TagCharacters => matches!(c, '\u{E0000}'..='\u{E007F}'),
            BuiltinDetector::BidiControls => matches!(
                c,
                '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
            ),
        }
    }
}

/// How a pattern is recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// A literal, matched case-insensitively.
    Literal(String),
    /// A regular expression in `regex-automata` syntax, matched against lower-cased text.
    Regex(String),
    /// A built-in detector.
    Builtin(BuiltinDetector),
}

/// A pattern to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternSpec {
    /// The policy's name for the pattern.
    pub id: String,
    /// How to recognise it.
    pub matcher: Matcher,
}

/// One text field of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextField<'a> {
    /// `name`, `description`, or a JSON pointer such as `/arguments/command`.
    pub path: String,
    /// The field's text.
    pub text: &'a str,
}

/// One match of one pattern in one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Index of the pattern in the slice given to [`Prefilter::new`].
    pub pattern: usize,
    /// The path of the field.
    pub field: String,
    /// Byte offset of the start of the match in the searched text.
    pub start: u32,
    /// Byte offset one past the end of the match in the searched text.
    pub end: u32,
    /// The text that matched.
    pub matched: String,
}

/// A pattern could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pattern `{id}` is invalid: {reason}")]
pub struct PrefilterError {
    /// The pattern's id.
    pub id: String,
    /// Why it is invalid.
    pub reason: String,
}

enum Compiled {
    Literal(String),
    Regex(Box<Regex>),
    Builtin(BuiltinDetector),
}

/// The compiled patterns of a generation.
pub struct Prefilter {
    patterns: Vec<Compiled>,
}

impl Prefilter {
    /// Compiles `patterns`.
    ///
    /// # Errors
    /// When a regular expression is invalid or a literal is empty.
    pub fn new(patterns: &[PatternSpec]) -> Result<Prefilter, PrefilterError> {
        let patterns = patterns
            .iter()
            .map(|spec| {
                let invalid = |reason: String| PrefilterError {
                    id: spec.id.clone(),
                    reason,
                };
                match &spec.matcher {
                    Matcher::Literal(text) if text.is_empty() => {
                        Err(invalid("the literal is empty".into()))
                    }
                    Matcher::Literal(text) => Ok(Compiled::Literal(text.to_lowercase())),
                    Matcher::Regex(regex) => Regex::new(regex)
                        .map(|regex| Compiled::Regex(Box::new(regex)))
                        .map_err(|error| invalid(error.to_string())),
                    Matcher::Builtin(detector) => Ok(Compiled::Builtin(*detector)),
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Prefilter { patterns })
    }

    /// Every match of every pattern in `fields`.
    pub fn scan(&self, fields: &[TextField<'_>]) -> Vec<Match> {
        let mut matches = Vec::new();
        for field in fields {
            let text = field.text.to_lowercase();
            for (pattern, compiled) in self.patterns.iter().enumerate() {
                let mut push = |start: usize, end: usize| {
                    matches.push(Match {
                        pattern,
                        field: field.path.clone(),
                        start: start as u32,
                        end: end as u32,
                        matched: text[start..end].to_owned(),
                    });
                };
                match compiled {
                    Compiled::Literal(literal) => text
                        .match_indices(literal.as_str())
                        .for_each(|(start, found)| push(start, start + found.len())),
                    Compiled::Regex(regex) => regex
                        .find_iter(&text)
                        .for_each(|found| push(found.start(), found.end())),
                    Compiled::Builtin(detector) => text
                        .char_indices()
                        .filter(|(_, c)| detector.detects(*c))
                        .for_each(|(start, c)| push(start, start + c.len_utf8())),
                }
            }
        }
        matches
    }
}
