//! The ids a line seems to carry when it cannot be read as a message, so
//! that the request it answers, or asks, still gets its one answer.
//!
//! The reading is lenient on purpose and used for nothing else: invalid
//! UTF-8 is read lossily, escapes are not checked and nesting is not
//! bounded. An id is taken only from where a message keeps it, a top-level
//! member of the object (of each object of a batch); a line that gives two
//! different ids at its top level gives none.

use super::RequestId;

/// The ids of a whole line.
pub(super) fn ids(raw: &[u8]) -> Vec<RequestId> {
    let mut scanner = Scanner { raw, at: 0 };
    scanner.skip_whitespace();
    match scanner.peek() {
        Some(b'{') => scanner.object_id().into_iter().collect(),
        Some(b'[') => {
            scanner.at += 1;
            let mut ids = Vec::new();
            loop {
                scanner.skip_whitespace();
                match scanner.peek() {
                    Some(b'{') => ids.extend(scanner.object_id()),
                    Some(b',') => scanner.at += 1,
                    Some(b']') | None => return ids,
                    Some(_) => {
                        if !scanner.skip_value() {
                            return ids;
                        }
                    }
                }
            }
        }
        _ => Vec::new(),
    }
}

/// The id of a line of which only the first and the last bytes were kept
/// (it was over the frame limit): a top-level `id` member found before the
/// head runs out, or the object's last member, as serialisers that write
/// the id last (`…,"id":7}`) leave it.
pub(super) fn truncated_id(head: &[u8], tail: &[u8]) -> Vec<RequestId> {
    let mut scanner = Scanner { raw: head, at: 0 };
    scanner.skip_whitespace();
    if scanner.peek() == Some(b'{')
        && let Some(id) = scanner.object_id()
    {
        return vec![id];
    }
    last_member_id(tail).into_iter().collect()
}

/// The id in `…"id": 7 }` at the very end of `tail`.
fn last_member_id(tail: &[u8]) -> Option<RequestId> {
    let text = trim_end(tail).strip_suffix(b"}")?;
    let text = trim_end(text);
    let token_start = if text.last() == Some(&b'"') {
        let mut at = text.len() - 1;
        loop {
            at = text[..at].iter().rposition(|&b| b == b'"')?;
            let backslashes = text[..at].iter().rev().take_while(|&&b| b == b'\\').count();
            if backslashes % 2 == 0 {
                break at;
            }
        }
    } else {
        text.iter()
            .rposition(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.')))
            .map_or(0, |at| at + 1)
    };
    let token = &text[token_start..];
    let before = trim_end(&text[..token_start]).strip_suffix(b":")?;
    let before = trim_end(before).strip_suffix(b"\"id\"")?;
    if !matches!(trim_end(before).last(), Some(b',' | b'{')) {
        return None;
    }
    RequestId::from_value(&serde_json::from_slice(token).ok()?)
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |at| at + 1);
    &bytes[..end]
}

struct Scanner<'a> {
    raw: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.raw.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    /// At a `{`: reads the object's top-level members and returns its one
    /// `id`, leaving the scanner after the object (or at the end).
    fn object_id(&mut self) -> Option<RequestId> {
        self.at += 1;
        let mut found: Option<RequestId> = None;
        let mut conflicting = false;
        loop {
            self.skip_whitespace();
            match self.peek()? {
                b'}' => {
                    self.at += 1;
                    return found.filter(|_| !conflicting);
                }
                b',' => self.at += 1,
                b'"' => {
                    let key = self.string_token()?;
                    self.skip_whitespace();
                    if self.peek()? != b':' {
                        return None;
                    }
                    self.at += 1;
                    self.skip_whitespace();
                    let start = self.at;
                    if !self.skip_value() {
                        return found.filter(|_| !conflicting);
                    }
                    if key == b"\"id\"" {
                        let id = serde_json::from_slice(&self.raw[start..self.at])
                            .ok()
                            .and_then(|value| RequestId::from_value(&value));
                        match (&found, id) {
                            (None, Some(id)) => found = Some(id),
                            (Some(seen), Some(id)) if *seen == id => {}
                            _ => conflicting = true,
                        }
                    }
                }
                _ => return None,
            }
        }
    }

    /// At a `"`: the string's bytes, quotes included.
    fn string_token(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        self.at += 1;
        while let Some(byte) = self.peek() {
            self.at += if byte == b'\\' { 2 } else { 1 };
            if byte == b'"' {
                let raw: &'a [u8] = self.raw;
                return raw.get(start..self.at);
            }
        }
        None
    }

    /// Skips one value; false when the line ends inside it.
    fn skip_value(&mut self) -> bool {
        match self.peek() {
            Some(b'"') => self.string_token().is_some(),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                while let Some(byte) = self.peek() {
                    match byte {
                        b'"' => {
                            if self.string_token().is_none() {
                                return false;
                            }
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return true;
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
                false
            }
            Some(_) => {
                while self
                    .peek()
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                {
                    self.at += 1;
                }
                self.peek().is_some()
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(ids: Vec<RequestId>) -> Vec<String> {
        ids.into_iter().map(|id| id.to_string()).collect()
    }

    #[test]
    fn finds_the_top_level_id_wherever_it_is_and_not_a_nested_one() {
        let line = br#"{"result":{"id":99,"x":[{"id":98}]},"jsonrpc":"2.0","id":7}"#;
        assert_eq!(texts(ids(line)), ["7"]);
        let line = b"{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"result\":{\"t\":\"\xff\"}}";
        assert_eq!(texts(ids(line)), [r#""a\"b""#]);
        assert!(ids(br#"{"result":{"id":99}}"#).is_empty());
    }

    #[test]
    fn two_different_top_level_ids_give_none() {
        assert!(ids(br#"{"id":1,"result":{},"id":2}"#).is_empty());
        assert_eq!(texts(ids(br#"{"id":1,"id":1}"#)), ["1"]);
    }

    #[test]
    fn a_batch_gives_the_id_of_each_member() {
        let line = br#"[{"jsonrpc":"2.0","id":1,"result":{}}, 3, {"id":"b","error":{}}]"#;
        assert_eq!(texts(ids(line)), ["1", r#""b""#]);
    }

    #[test]
    fn a_line_cut_short_still_gives_an_id_it_reached() {
        assert_eq!(
            texts(ids(br#"{"jsonrpc":"2.0","id":4,"result":{"content":[{"te"#)),
            ["4"]
        );
    }

    #[test]
    fn a_truncated_line_gives_the_id_of_its_head_or_of_its_last_member() {
        assert_eq!(
            texts(truncated_id(
                br#"{"jsonrpc":"2.0","id":5,"result":{"a":"xx"#,
                b"xx\"}}"
            )),
            ["5"]
        );
        assert_eq!(
            texts(truncated_id(
                br#"{"result":{"a":"xx"#,
                br#"xx"}, "jsonrpc":"2.0", "id" : "q" }"#
            )),
            [r#""q""#]
        );
        assert!(truncated_id(br#"{"result":{"a":"xx"#, br#"xx","id":5}}"#).is_empty());
    }
}
