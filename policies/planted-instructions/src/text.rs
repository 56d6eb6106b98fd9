//! Words and sentences of a tool result, for rules that read structure
//! (which word follows which, what a sentence starts with) instead of
//! matching fixed phrases.

/// One word: a run of alphanumeric characters, lower-cased, with its byte
/// range in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub(crate) text: String,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// The words of `text`. Apostrophes inside a word are dropped (`don't` is
/// `dont`), so contractions stay one word. Text escaped once more than it
/// should be (a JSON string inside a string: `reduce\n\nTODO:`) keeps its
/// escapes as separators, not as letters glued to the next word.
pub(crate) fn words(text: &str) -> Vec<Word> {
    let mut words = Vec::new();
    let mut current: Option<Word> = None;
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        if escaped {
            escaped = false;
            if matches!(c, 'n' | 't' | 'r') {
                words.extend(current.take());
                continue;
            }
        }
        if c == '\\' {
            escaped = true;
            words.extend(current.take());
            continue;
        }
        let inside_apostrophe = matches!(c, '\'' | '’')
            && current.is_some()
            && text[at + c.len_utf8()..].starts_with(char::is_alphanumeric);
        if c.is_alphanumeric() {
            let word = current.get_or_insert_with(|| Word {
                text: String::new(),
                start: at,
                end: at,
            });
            word.text.extend(c.to_lowercase());
            word.end = at + c.len_utf8();
        } else if !inside_apostrophe {
            words.extend(current.take());
        }
    }
    words.extend(current);
    words
}

/// The sentences of `text` as byte ranges: split after `.`, `!` or `?`
/// followed by white space, and at blank lines. Line breaks alone do not
/// end a sentence (results wrap long lines).
pub(crate) fn sentences(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut sentences = Vec::new();
    let mut start = 0;
    let mut index = 0;
    while index < bytes.len() {
        let ends_here = matches!(bytes[index], b'.' | b'!' | b'?')
            && bytes.get(index + 1).is_none_or(u8::is_ascii_whitespace);
        let blank_line = bytes[index] == b'\n'
            && text[index + 1..]
                .split('\n')
                .next()
                .is_some_and(|line| line.trim().is_empty() && index + 1 + line.len() < bytes.len());
        if ends_here || blank_line {
            sentences.push((start, index + 1));
            start = index + 1;
        }
        index += 1;
    }
    if start < bytes.len() {
        sentences.push((start, bytes.len()));
    }
    sentences
}

/// A text read once for every rule: its words, and its sentences as runs
/// of those words. Words never cross a sentence boundary (they are runs of
/// alphanumerics and boundaries are punctuation or line breaks), so each
/// sentence's words are a slice of the text's.
pub(crate) struct Reading<'a> {
    pub(crate) text: &'a str,
    pub(crate) words: Vec<Word>,
    sentences: Vec<(usize, usize, std::ops::Range<usize>)>,
}

/// One sentence of a [`Reading`]: its byte range in the text and its words,
/// whose offsets are in the text too.
pub(crate) struct Sentence<'r> {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) words: &'r [Word],
}

impl<'a> Reading<'a> {
    pub(crate) fn new(text: &'a str) -> Reading<'a> {
        let words = words(text);
        let mut next = 0;
        let sentences = sentences(text)
            .into_iter()
            .map(|(start, end)| {
                let first = next;
                while next < words.len() && words[next].end <= end {
                    next += 1;
                }
                (start, end, first..next)
            })
            .collect();
        Reading {
            text,
            words,
            sentences,
        }
    }

    pub(crate) fn sentences(&self) -> impl Iterator<Item = Sentence<'_>> {
        self.sentences.iter().map(|(start, end, range)| Sentence {
            start: *start,
            end: *end,
            words: &self.words[range.clone()],
        })
    }
}

/// Edit distance with transpositions (optimal string alignment), for
/// misspelt keywords: `iunstructions` and `ignroe` are one edit away.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut table = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in table.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in table[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (table[i - 1][j] + 1)
                .min(table[i][j - 1] + 1)
                .min(table[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[i - 2][j - 2] + 1);
            }
            table[i][j] = best;
        }
    }
    table[a.len()][b.len()]
}

/// Whether `word` is `target` or a near miss of it: one edit for words of
/// five letters or more, two for ten or more.
pub(crate) fn close_to(word: &str, target: &str) -> bool {
    let allowed = match target.chars().count() {
        0..=4 => 0,
        5..=9 => 1,
        _ => 2,
    };
    word == target || (allowed > 0 && edit_distance(word, target) <= allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercase_with_offsets() {
        let found = words("Don't IGNORE, système");
        let texts: Vec<&str> = found.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["dont", "ignore", "système"]);
        assert_eq!(
            &"Don't IGNORE, système"[found[2].start..found[2].end],
            "système"
        );
        let escaped: Vec<String> = words(r"reduce\n\nTODO: go")
            .into_iter()
            .map(|w| w.text)
            .collect();
        assert_eq!(escaped, ["reduce", "todo", "go"]);
    }

    #[test]
    fn sentences_survive_wrapped_lines() {
        let text = "Ignore your\n    previous task. Then go\n\nNew paragraph";
        let parts: Vec<&str> = sentences(text)
            .iter()
            .map(|&(s, e)| text[s..e].trim())
            .collect();
        assert_eq!(
            parts,
            [
                "Ignore your\n    previous task.",
                "Then go",
                "New paragraph"
            ]
        );
    }

    #[test]
    fn a_reading_splits_its_words_by_sentence() {
        let reading = Reading::new("One two. Three\n\nfour five");
        let counts: Vec<usize> = reading.sentences().map(|s| s.words.len()).collect();
        assert_eq!(counts, [2, 1, 2]);
        let last = reading.sentences().last().unwrap();
        assert_eq!(
            &reading.text[last.words[0].start..last.words[0].end],
            "four"
        );
    }

    #[test]
    fn near_misses() {
        assert!(close_to("iunstructions", "instructions"));
        assert!(close_to("ignroe", "ignore"));
        assert!(close_to("instrucions", "instructions"));
        assert!(!close_to("directions", "instructions"));
        assert!(!close_to("task", "mask"));
    }
}
