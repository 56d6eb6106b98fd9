//! The prefilter: finds every policy's patterns in an event's text fields in
//! one pass per field, so that policies get findings instead of scanning text
//! themselves.
//!
//! Each field is [normalised](crate::normalize) once. All literals are found
//! by one Aho-Corasick automaton; all regexes are first run together as one
//! multi-pattern regex that only says which of them match, and only those
//! are searched again for their spans. Built-in detectors report the hidden
//! content the normaliser found.
//!
//! Unicode word boundaries (`\b`) keep the lazy DFA from running over
//! non-ASCII text, leaving the much slower PikeVM. On ASCII text they mean
//! what ASCII word boundaries mean, so for ASCII text (most text) the
//! combined regex has Unicode word boundaries replaced by ASCII ones; for
//! other text it has them dropped, which can only add matches, and the
//! search of each candidate alone for its spans weeds out the false ones.
//!
//! Output is bounded by the input: at most
//! [`MAX_MATCHES_PER_PATTERN_PER_FIELD`] matches of one pattern in one field
//! (the first ones), and empty regex matches are not reported. Nothing is
//! dropped silently: a pattern that matched more often in a field than it
//! reports is named in [`Scan::overflowed`], so that the engine can fail
//! closed for the policy that asked for it instead of letting decoys push
//! the real match out of its sight.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use aho_corasick::AhoCorasick;
use regex_automata::meta::{self, BuildError, Regex};
use regex_automata::{Input, MatchKind, PatternSet};
use regex_syntax::hir::{Capture, Hir, HirKind, Look, Repetition};

pub use crate::fields::TextField;
pub use crate::normalize::BuiltinDetector;
use crate::normalize::normalize;

/// The most matches of one pattern reported in one field; a pattern that
/// matches more often there is reported in [`Scan::overflowed`].
pub const MAX_MATCHES_PER_PATTERN_PER_FIELD: usize = 64;

/// The largest compiled form (Thompson NFA, in bytes) of one regex pattern,
/// so that a hostile policy cannot make the host build a huge automaton.
pub const REGEX_SIZE_LIMIT: usize = 2 << 20;

/// The largest compiled form (Thompson NFA, in bytes) of all regex patterns
/// together.
pub const REGEX_SET_SIZE_LIMIT: usize = 16 << 20;

/// The most memory the lazy DFA of all regex patterns together may use per
/// searching thread. It grows only as a scan meets new states. The default
/// of regex-automata (2 MiB) is too small for the set of the embedded
/// policies: its lazy DFA could not be built, every scan fell back to the
/// PikeVM, and a decision took ten times longer (see BENCHMARKS.md).
pub const REGEX_SET_CACHE_LIMIT: usize = 32 << 20;

/// How the prefilter recognises one pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Matcher {
    /// A literal, matched against normalised text; it is normalised the same
    /// way, so it matches whatever the case or compatibility form.
    Literal(String),
    /// A regular expression in `regex-automata` syntax, matched
    /// case-insensitively against normalised text.
    Regex(String),
    /// Hidden content found by the normaliser.
    Builtin(BuiltinDetector),
}

/// A pattern a policy asks the prefilter to look for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PatternSpec {
    /// The policy's name for the pattern.
    pub id: String,
    /// How to recognise it.
    pub matcher: Matcher,
}

/// One match of one pattern in one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Index of the pattern in the slice the prefilter was built from.
    pub pattern: usize,
    /// The path of the field it matched in.
    pub field: String,
    /// Byte offset of the start of the match in the field's normalised text.
    pub start: u32,
    /// Byte offset one past the end of the match in the field's normalised text.
    pub end: u32,
    /// The normalised text that matched, `normalised[start..end]`. A
    /// built-in detector's span of removed characters is empty in the
    /// normalised text; its `matched` is the removed characters themselves
    /// ([`HiddenSpan::content`](crate::normalize::HiddenSpan::content)), so
    /// that a policy can tell one zero-width space from a hundred.
    pub matched: String,
}

/// What one scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// The matches, ordered by field (in the order given), then by start,
    /// end and pattern.
    pub matches: Vec<Match>,
    /// Each (pattern, field) that matched more than
    /// [`MAX_MATCHES_PER_PATTERN_PER_FIELD`] times, so that only its first
    /// matches are in `matches`.
    pub overflowed: Vec<Overflow>,
}

/// A pattern that matched in a field more often than the scan reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overflow {
    /// Index of the pattern in the slice the prefilter was built from.
    pub pattern: usize,
    /// The path of the field.
    pub field: String,
}

/// Why a prefilter could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PrefilterError {
    /// A literal has no text left once normalised, so it would match everywhere.
    #[error("pattern `{id}`: the literal is empty once normalised")]
    EmptyLiteral {
        /// The pattern's id.
        id: String,
    },
    /// A regex does not parse, or compiles to more than [`REGEX_SIZE_LIMIT`].
    #[error("pattern `{id}`: bad regex: {reason}")]
    BadRegex {
        /// The pattern's id.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The regexes cannot be combined, such as when together they compile to
    /// more than [`REGEX_SET_SIZE_LIMIT`].
    #[error("the regex patterns cannot be combined: {reason}")]
    RegexSet {
        /// Why not.
        reason: String,
    },
    /// The literals do not fit in one automaton.
    #[error("the literal patterns do not fit in one automaton: {0}")]
    Literals(#[from] aho_corasick::BuildError),
}

/// Finds a fixed set of patterns in text fields. Built once per policy
/// generation and shared between threads.
#[derive(Debug)]
pub struct Prefilter {
    /// Number of patterns the prefilter was built from.
    patterns: usize,
    /// All distinct normalised literals, when there are any.
    literals: Option<AhoCorasick>,
    /// For each literal of the automaton, the patterns that have it.
    literal_patterns: Vec<Vec<usize>>,
    /// Number of literal patterns (counting duplicates).
    literal_pattern_count: usize,
    /// All regexes in one, when there are any.
    regex_set: Option<RegexSet>,
    /// For each regex of the set, its pattern and the regex alone, which
    /// finds its spans.
    regexes: Vec<(usize, Regex)>,
    /// The built-in detectors and their patterns.
    builtins: Vec<(usize, BuiltinDetector)>,
}

impl Prefilter {
    /// Builds a prefilter for `patterns`; matches name a pattern by its index
    /// in this slice.
    pub fn new(patterns: &[PatternSpec]) -> Result<Prefilter, PrefilterError> {
        let mut literals: Vec<String> = Vec::new();
        let mut literal_patterns: Vec<Vec<usize>> = Vec::new();
        let mut literal_index: HashMap<String, usize> = HashMap::new();
        let mut literal_pattern_count = 0;
        let mut regex_hirs = Vec::new();
        let mut regexes = Vec::new();
        let mut builtins = Vec::new();
        for (pattern, spec) in patterns.iter().enumerate() {
            match &spec.matcher {
                Matcher::Literal(literal) => {
                    let literal = normalize(literal).text;
                    literal_pattern_count += 1;
                    if literal.is_empty() {
                        return Err(PrefilterError::EmptyLiteral {
                            id: spec.id.clone(),
                        });
                    }
                    match literal_index.entry(literal) {
                        Entry::Occupied(entry) => literal_patterns[*entry.get()].push(pattern),
                        Entry::Vacant(entry) => {
                            literals.push(entry.key().clone());
                            literal_patterns.push(vec![pattern]);
                            entry.insert(literals.len() - 1);
                        }
                    }
                }
                Matcher::Regex(source) => {
                    let bad_regex = |reason| PrefilterError::BadRegex {
                        id: spec.id.clone(),
                        reason,
                    };
                    let hir = regex_syntax::ParserBuilder::new()
                        .case_insensitive(true)
                        .build()
                        .parse(source)
                        .map_err(|error| bad_regex(error.to_string()))?;
                    let regex = regex_builder(REGEX_SIZE_LIMIT, MatchKind::LeftmostFirst)
                        .build_from_hir(&hir)
                        .map_err(|error| bad_regex(regex_error_reason(&error)))?;
                    regex_hirs.push(hir);
                    regexes.push((pattern, regex));
                }
                Matcher::Builtin(detector) => builtins.push((pattern, *detector)),
            }
        }
        let literals = if literals.is_empty() {
            None
        } else {
            Some(AhoCorasick::new(&literals)?)
        };
        let regex_set = if regex_hirs.is_empty() {
            None
        } else {
            Some(RegexSet::new(&regex_hirs)?)
        };
        Ok(Prefilter {
            patterns: patterns.len(),
            literals,
            literal_patterns,
            literal_pattern_count,
            regex_set,
            regexes,
            builtins,
        })
    }

    /// Finds the patterns in `fields`; see the [module documentation](self)
    /// for the cap per pattern and field.
    pub fn scan<'a>(&self, fields: &[TextField<'a>]) -> Scan {
        let mut scan = Scan::default();
        if self.patterns == 0 {
            return scan;
        }
        let mut found = FieldMatches::new(self.patterns);
        let mut pattern_set = self
            .regex_set
            .as_ref()
            .map(|set| PatternSet::new(set.ascii.pattern_len()));
        for field in fields {
            let normalized = normalize(field.text);
            let text = normalized.text.as_str();
            found.clear();
            if let Some(literals) = &self.literals {
                for hit in literals.find_overlapping_iter(text) {
                    for &pattern in &self.literal_patterns[hit.pattern().as_usize()] {
                        found.push(pattern, hit.start()..hit.end(), None);
                    }
                    // Only literals have been pushed: stop when all overflowed.
                    if found.overflowed == self.literal_pattern_count {
                        break;
                    }
                }
            }
            if let (Some(set), Some(pattern_set)) = (&self.regex_set, &mut pattern_set) {
                set.which_match(text, pattern_set);
                for id in pattern_set.iter() {
                    let (pattern, regex) = &self.regexes[id.as_usize()];
                    let spans = regex
                        .find_iter(text)
                        .filter(|hit| !hit.is_empty())
                        // One more than is reported, to learn of an overflow.
                        .take(MAX_MATCHES_PER_PATTERN_PER_FIELD + 1);
                    for hit in spans {
                        found.push(*pattern, hit.start()..hit.end(), None);
                    }
                }
            }
            for &(pattern, detector) in &self.builtins {
                for (index, span) in normalized.hidden.iter().enumerate() {
                    if span.detector == detector {
                        found.push(pattern, span.start..span.end, Some(index));
                    }
                }
            }
            found
                .spans
                .sort_unstable_by_key(|&(pattern, start, end, _)| (start, end, pattern));
            for &(pattern, start, end, hidden) in &found.spans {
                let (Ok(start32), Ok(end32)) = (u32::try_from(start), u32::try_from(end)) else {
                    continue;
                };
                let matched = match hidden {
                    // Removed characters leave nothing to slice: report them.
                    Some(index) if start == end => normalized.hidden[index].content.clone(),
                    _ => text[start..end].to_owned(),
                };
                scan.matches.push(Match {
                    pattern,
                    field: field.path.clone(),
                    start: start32,
                    end: end32,
                    matched,
                });
            }
            if found.overflowed > 0 {
                scan.overflowed.extend(
                    (0..self.patterns)
                        .filter(|&pattern| found.over[pattern])
                        .map(|pattern| Overflow {
                            pattern,
                            field: field.path.clone(),
                        }),
                );
            }
        }
        scan
    }
}

/// All regexes of a prefilter in one, to learn in one pass which of them
/// can match.
#[derive(Debug)]
struct RegexSet {
    /// Reports exactly the regexes that match ASCII text, and all text when
    /// `candidates` is absent.
    ascii: Regex,
    /// Reports at least the regexes that match non-ASCII text; absent when
    /// no regex has a Unicode word boundary.
    candidates: Option<Regex>,
}

impl RegexSet {
    fn new(hirs: &[Hir]) -> Result<Self, PrefilterError> {
        let build = |hirs: &[Hir]| {
            let mut builder = regex_builder(REGEX_SET_SIZE_LIMIT, MatchKind::All);
            builder.configure(Regex::config().hybrid_cache_capacity(REGEX_SET_CACHE_LIMIT));
            builder
                .build_many_from_hir(hirs)
                .map_err(|error| PrefilterError::RegexSet {
                    reason: regex_error_reason(&error),
                })
        };
        let unicode_words = hirs
            .iter()
            .any(|hir| hir.properties().look_set().contains_word_unicode());
        if !unicode_words {
            return Ok(RegexSet {
                ascii: build(hirs)?,
                candidates: None,
            });
        }
        let with = |boundaries| -> Vec<Hir> {
            hirs.iter()
                .map(|hir| replace_word_boundaries(hir, boundaries))
                .collect()
        };
        Ok(RegexSet {
            ascii: build(&with(WordBoundaries::Ascii))?,
            candidates: Some(build(&with(WordBoundaries::Dropped))?),
        })
    }

    /// Replaces the contents of `matched` with the regexes that match `text`
    /// (ASCII text) or may match it (other text).
    fn which_match(&self, text: &str, matched: &mut PatternSet) {
        let set = match &self.candidates {
            Some(candidates) if !text.is_ascii() => candidates,
            _ => &self.ascii,
        };
        matched.clear();
        set.which_overlapping_matches(&Input::new(text), matched);
    }
}

/// What becomes of Unicode word boundary assertions.
#[derive(Debug, Clone, Copy)]
enum WordBoundaries {
    /// They become their ASCII twins: the same regex as far as ASCII text is
    /// concerned.
    Ascii,
    /// They are dropped: the regex matches wherever it did, and maybe more.
    Dropped,
}

/// `hir` with its Unicode word boundary assertions replaced.
fn replace_word_boundaries(hir: &Hir, boundaries: WordBoundaries) -> Hir {
    let replace = |sub: &Hir| replace_word_boundaries(sub, boundaries);
    match hir.kind() {
        HirKind::Look(look) => {
            let ascii = match look {
                Look::WordUnicode => Look::WordAscii,
                Look::WordUnicodeNegate => Look::WordAsciiNegate,
                Look::WordStartUnicode => Look::WordStartAscii,
                Look::WordEndUnicode => Look::WordEndAscii,
                Look::WordStartHalfUnicode => Look::WordStartHalfAscii,
                Look::WordEndHalfUnicode => Look::WordEndHalfAscii,
                _ => return hir.clone(),
            };
            match boundaries {
                WordBoundaries::Ascii => Hir::look(ascii),
                WordBoundaries::Dropped => Hir::empty(),
            }
        }
        HirKind::Repetition(repetition) => Hir::repetition(Repetition {
            min: repetition.min,
            max: repetition.max,
            greedy: repetition.greedy,
            sub: Box::new(replace(&repetition.sub)),
        }),
        HirKind::Capture(capture) => Hir::capture(Capture {
            index: capture.index,
            name: capture.name.clone(),
            sub: Box::new(replace(&capture.sub)),
        }),
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(replace).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.iter().map(replace).collect()),
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) => hir.clone(),
    }
}

/// The matches found in one field, at most
/// [`MAX_MATCHES_PER_PATTERN_PER_FIELD`] per pattern.
struct FieldMatches {
    /// (pattern, start, end, hidden span) of each match; the index into
    /// [`Normalized::hidden`](crate::normalize::Normalized::hidden) for a
    /// built-in detector's match.
    spans: Vec<(usize, usize, usize, Option<usize>)>,
    /// How many matches each pattern has.
    counts: Vec<usize>,
    /// Whether each pattern matched more often than it may report.
    over: Vec<bool>,
    /// How many patterns have overflowed.
    overflowed: usize,
}

impl FieldMatches {
    fn new(patterns: usize) -> Self {
        FieldMatches {
            spans: Vec::new(),
            counts: vec![0; patterns],
            over: vec![false; patterns],
            overflowed: 0,
        }
    }

    fn clear(&mut self) {
        self.spans.clear();
        self.counts.fill(0);
        self.over.fill(false);
        self.overflowed = 0;
    }

    fn push(&mut self, pattern: usize, span: std::ops::Range<usize>, hidden: Option<usize>) {
        let count = &mut self.counts[pattern];
        if *count < MAX_MATCHES_PER_PATTERN_PER_FIELD {
            *count += 1;
            self.spans.push((pattern, span.start, span.end, hidden));
        } else if !self.over[pattern] {
            self.over[pattern] = true;
            self.overflowed += 1;
        }
    }
}

/// A builder of regexes from parsed (case-insensitive, Unicode) patterns
/// whose compiled NFA may not exceed `size_limit` bytes.
fn regex_builder(size_limit: usize, match_kind: MatchKind) -> meta::Builder {
    let mut builder = Regex::builder();
    builder.configure(
        Regex::config()
            .match_kind(match_kind)
            .nfa_size_limit(Some(size_limit)),
    );
    builder
}

/// The useful part of a regex build error: the size limit that was
/// exceeded, if that is what happened.
fn regex_error_reason(error: &BuildError) -> String {
    match error.size_limit() {
        Some(limit) => format!("it compiles to more than {limit} bytes"),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(id: &str, text: &str) -> PatternSpec {
        PatternSpec {
            id: id.to_owned(),
            matcher: Matcher::Literal(text.to_owned()),
        }
    }

    fn regex(id: &str, source: &str) -> PatternSpec {
        PatternSpec {
            id: id.to_owned(),
            matcher: Matcher::Regex(source.to_owned()),
        }
    }

    fn builtin(id: &str, detector: BuiltinDetector) -> PatternSpec {
        PatternSpec {
            id: id.to_owned(),
            matcher: Matcher::Builtin(detector),
        }
    }

    fn field<'a>(path: &str, text: &'a str) -> TextField<'a> {
        TextField {
            path: path.to_owned(),
            text,
        }
    }

    /// Scans one field: (pattern, start, end, matched) of each match, after
    /// checking that every match slices the normalised text exactly.
    fn scan(patterns: &[PatternSpec], text: &str) -> Vec<(usize, u32, u32, String)> {
        let prefilter = Prefilter::new(patterns).expect("patterns build");
        let normalized = normalize(text).text;
        prefilter
            .scan(&[field("description", text)])
            .matches
            .into_iter()
            .map(|m| {
                assert_eq!(m.field, "description");
                if m.start != m.end {
                    assert_eq!(normalized[m.start as usize..m.end as usize], m.matched);
                }
                (m.pattern, m.start, m.end, m.matched)
            })
            .collect()
    }

    fn hit(pattern: usize, start: u32, matched: &str) -> (usize, u32, u32, String) {
        let end = start + u32::try_from(matched.len()).unwrap();
        (pattern, start, end, matched.to_owned())
    }

    /// A built-in detector's match of characters removed at `at`.
    fn removed(pattern: usize, at: u32, characters: &str) -> (usize, u32, u32, String) {
        (pattern, at, at, characters.to_owned())
    }

    const IGNORE: &str = "ignore previous instructions";

    #[test]
    fn literals_match_whatever_the_case() {
        let patterns = [literal("ignore", "Ignore Previous INSTRUCTIONS")];
        assert_eq!(
            scan(&patterns, "Please IGNORE previous Instructions now"),
            [hit(0, 7, IGNORE)]
        );
    }

    #[test]
    fn literals_match_across_zero_width_characters() {
        let patterns = [
            literal("ignore", IGNORE),
            builtin("invisible", BuiltinDetector::InvisibleCharacters),
        ];
        assert_eq!(
            scan(&patterns, "ig\u{200B}nore previous instructions"),
            [hit(0, 0, IGNORE), removed(1, 2, "\u{200B}")]
        );
    }

    #[test]
    fn literals_match_fullwidth_forms() {
        let patterns = [literal("ignore", "ignore")];
        assert_eq!(scan(&patterns, "ＩＧＮＯＲＥ them"), [hit(0, 0, "ignore")]);
    }

    #[test]
    fn literals_match_text_smuggled_in_tag_characters() {
        let smuggled: String = "<IMPORTANT>"
            .chars()
            .map(|c| char::from_u32(0xE0000 + u32::from(c)).unwrap())
            .collect();
        let patterns = [
            literal("important", "<important>"),
            builtin("tags", BuiltinDetector::TagCharacters),
        ];
        assert_eq!(
            scan(&patterns, &format!("Adds numbers.{smuggled}")),
            [hit(0, 13, "<important>"), hit(1, 13, "<important>")]
        );
    }

    #[test]
    fn overlapping_and_duplicate_literals_all_report() {
        let patterns = [
            literal("ssh", ".ssh"),
            literal("ssh-key", ".ssh/id_rsa"),
            literal("key", "id_rsa"),
            literal("ssh-again", ".SSH"),
        ];
        assert_eq!(
            scan(&patterns, "cat ~/.ssh/id_rsa"),
            [
                hit(0, 6, ".ssh"),
                hit(3, 6, ".ssh"),
                hit(1, 6, ".ssh/id_rsa"),
                hit(2, 11, "id_rsa"),
            ]
        );
    }

    #[test]
    fn several_regexes_match_in_one_text_case_insensitively() {
        let patterns = [
            regex("chained", r"[;&|]\s*(rm|curl)\b"),
            regex("traversal", r"\.\./"),
            regex("never", r"drop\s+table"),
            regex("upper", r"RM -RF"),
        ];
        assert_eq!(
            scan(&patterns, "ls ../../etc; RM -rf / && Curl x"),
            [
                hit(1, 3, "../"),
                hit(1, 6, "../"),
                hit(0, 12, "; rm"),
                hit(3, 14, "rm -rf"),
                hit(0, 24, "& curl"),
            ]
        );
    }

    #[test]
    fn regexes_match_unicode_text_with_exact_offsets() {
        let patterns = [regex("word", r"\bstra(ß|ss)e\b"), literal("lit", "ünïcödé")];
        assert_eq!(
            scan(&patterns, "Ünïcödé — STRASSE, Straße"),
            [
                hit(1, 0, "ünïcödé"),
                hit(0, 16, "strasse"),
                hit(0, 25, "straße"),
            ]
        );
    }

    #[test]
    fn word_boundaries_are_unicode_whatever_the_text() {
        let patterns = [regex("x-at-word-end", r"x\b"), regex("start", r"\bmv\b")];
        // In ASCII text the ASCII twin of the regexes runs.
        assert_eq!(
            scan(&patterns, "mv x! xy"),
            [hit(1, 0, "mv"), hit(0, 3, "x")]
        );
        // In other text `é` is a word character, so there is no boundary; the
        // set reports candidates, which their own search turns down.
        assert_eq!(scan(&patterns, "xé mvé"), []);
        assert_eq!(scan(&patterns, "xé x"), [hit(0, 4, "x")]);
        // A boundary that only Unicode sees is found too.
        let accent = [regex("accent-at-word-start", r"\bé")];
        assert_eq!(scan(&accent, "x é"), [hit(0, 2, "é")]);
        assert_eq!(scan(&accent, "xé"), []);
    }

    #[test]
    fn empty_regex_matches_are_not_reported() {
        assert_eq!(scan(&[regex("maybe", "x*")], "abc x"), [hit(0, 4, "x")]);
    }

    #[test]
    fn builtin_detectors_report_hidden_content() {
        let patterns = [
            builtin("bidi", BuiltinDetector::BidiControls),
            builtin("invisible", BuiltinDetector::InvisibleCharacters),
        ];
        assert_eq!(
            scan(&patterns, "a\u{202E}b\u{00AD}c"),
            [removed(0, 1, "\u{202E}"), removed(1, 2, "\u{00AD}")]
        );
        assert_eq!(scan(&patterns, "plain text"), []);
    }

    #[test]
    fn matches_are_ordered_by_field_then_start() {
        let prefilter =
            Prefilter::new(&[literal("b", "b"), literal("a", "a"), regex("ab", "ab")]).unwrap();
        let found: Vec<(String, u32, usize)> = prefilter
            .scan(&[field("/arguments/z", "b a"), field("/arguments/a", "ab")])
            .matches
            .into_iter()
            .map(|m| (m.field, m.start, m.pattern))
            .collect();
        let expected = [
            ("/arguments/z", 0, 0),
            ("/arguments/z", 2, 1),
            ("/arguments/a", 0, 1),
            ("/arguments/a", 0, 2),
            ("/arguments/a", 1, 0),
        ];
        assert_eq!(
            found,
            expected.map(|(field, start, pattern)| (field.to_owned(), start, pattern))
        );
    }

    #[test]
    fn matches_per_pattern_and_field_are_capped() {
        let text = "rm; ".repeat(100);
        let patterns = [
            literal("rm", "rm"),
            regex("semi", ";"),
            literal("never", "zzz"),
        ];
        let found = scan(&patterns, &text);
        let count = |pattern| found.iter().filter(|m| m.0 == pattern).count();
        assert_eq!(count(0), MAX_MATCHES_PER_PATTERN_PER_FIELD);
        assert_eq!(count(1), MAX_MATCHES_PER_PATTERN_PER_FIELD);
        assert_eq!(found[0], hit(0, 0, "rm"), "the first matches are kept");
    }

    #[test]
    fn no_budget_is_shared_between_fields_or_patterns() {
        // 400 matches of 40 patterns across 10 fields, then the one that
        // matters in the last field: all are reported.
        let mut patterns: Vec<PatternSpec> = (0..40)
            .map(|index| literal(&format!("p{index}"), &format!("<w{index}>")))
            .collect();
        patterns.push(regex("rm-root", r"rm\s+-rf\s+/"));
        let text: String = (0..40).map(|index| format!("<w{index}> ")).collect();
        let mut fields: Vec<TextField<'_>> = (0..10)
            .map(|index| field(&format!("/arguments/{index}"), &text))
            .collect();
        fields.push(field("/arguments/zzz", "x; rm -rf / #"));
        let found = Prefilter::new(&patterns).unwrap().scan(&fields);
        assert_eq!(found.matches.len(), 401);
        assert_eq!(found.matches[400].pattern, 40);
        assert!(found.overflowed.is_empty());
    }

    #[test]
    fn a_pattern_that_matches_past_the_cap_is_reported_as_overflowed() {
        let patterns = [
            regex("semi", ";"),
            literal("rm", "rm"),
            literal("none", "zzz"),
        ];
        let text = "rm; ".repeat(MAX_MATCHES_PER_PATTERN_PER_FIELD + 1);
        let found = Prefilter::new(&patterns)
            .unwrap()
            .scan(&[field("/a", "rm; rm;"), field("/b", &text)]);
        let overflowed: Vec<(usize, &str)> = found
            .overflowed
            .iter()
            .map(|o| (o.pattern, o.field.as_str()))
            .collect();
        assert_eq!(overflowed, [(0, "/b"), (1, "/b")]);
        // Exactly at the cap is no overflow.
        let text = "rm; ".repeat(MAX_MATCHES_PER_PATTERN_PER_FIELD);
        let found = Prefilter::new(&patterns)
            .unwrap()
            .scan(&[field("/c", &text)]);
        assert!(found.overflowed.is_empty(), "{:?}", found.overflowed);
    }

    #[test]
    fn a_bad_regex_is_named_with_its_error() {
        let error = Prefilter::new(&[regex("fine", "a+"), regex("broken", "(unclosed")])
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("pattern `broken`: bad regex:"), "{error}");
        assert!(error.contains("unclosed group"), "{error}");
    }

    #[test]
    fn a_huge_regex_is_an_error_not_a_blow_up() {
        let error = Prefilter::new(&[regex("huge", r"\w{1000}\w{1000}")])
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("pattern `huge`: bad regex:"), "{error}");
        assert!(error.contains(&REGEX_SIZE_LIMIT.to_string()), "{error}");
    }

    #[test]
    fn a_run_of_removed_characters_reports_what_it_hid() {
        let prefilter =
            Prefilter::new(&[builtin("invisible", BuiltinDetector::InvisibleCharacters)]).unwrap();
        let text = format!("Adds numbers.{}", "\u{200B}\u{200C}".repeat(8));
        let found = prefilter.scan(&[field("description", &text)]).matches;
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].start, found[0].end), (13, 13));
        assert_eq!(found[0].matched.chars().count(), 16);
    }

    #[test]
    fn a_literal_of_nothing_but_invisible_characters_is_an_error() {
        let error = Prefilter::new(&[literal("blank", "\u{200B}")]).unwrap_err();
        assert!(matches!(error, PrefilterError::EmptyLiteral { id } if id == "blank"));
    }

    #[test]
    fn a_prefilter_is_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Prefilter>();
    }

    fn tricky_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let pieces = vec![
            "ignore",
            "IGNORE",
            "ＩＧＮＯＲＥ",
            " ",
            "rm",
            ";",
            "é",
            "e\u{301}",
            "\u{200B}",
            "\u{202E}",
            "\u{E0049}",
            "ß",
            "ﬃ",
            "İ",
            "Σ",
            "../",
            "\u{1F600}",
            "\u{FE0F}",
        ];
        prop_oneof![
            4 => proptest::collection::vec(proptest::sample::select(pieces), 0..16)
                .prop_map(|pieces| pieces.concat()),
            1 => any::<String>(),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        #[test]
        fn matches_always_slice_the_normalised_text(text in tricky_text()) {
            let normalized = normalize(&text).text;
            for m in TRICKY_PREFILTER.scan(&[field("description", &text)]).matches {
                let slice = normalized.get(m.start as usize..m.end as usize);
                proptest::prop_assert!(slice.is_some());
                // A span of removed characters reports them instead.
                if m.start != m.end {
                    proptest::prop_assert_eq!(slice, Some(m.matched.as_str()));
                }
            }
        }
    }

    /// A prefilter with every kind of pattern, built once for the property test.
    static TRICKY_PREFILTER: std::sync::LazyLock<Prefilter> = std::sync::LazyLock::new(|| {
        Prefilter::new(&[
            literal("ignore", "ignore"),
            literal("e-acute", "é"),
            regex("chained", r";\s*rm"),
            regex("any-letter", r"\pL"),
            regex("word", r"\w+"),
            builtin("invisible", BuiltinDetector::InvisibleCharacters),
            builtin("tags", BuiltinDetector::TagCharacters),
            builtin("bidi", BuiltinDetector::BidiControls),
        ])
        .unwrap()
    });
}
