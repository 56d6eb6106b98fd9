//! Decoders for the encodings attackers wrap text in, shared by the
//! policies that look through them.

use std::borrow::Cow;

/// `text` with its `%XX` escapes decoded once, or `text` itself, borrowed,
/// when it has none. Decoded bytes that are not UTF-8 become U+FFFD.
///
/// ```
/// assert_eq!(portcullis_sdk::percent_decode("a%3Db"), "a=b");
/// ```
pub fn percent_decode(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut decoded_any = false;
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let Some(hex) = text.get(index + 1..index + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            decoded_any = true;
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    if decoded_any {
        Cow::Owned(String::from_utf8_lossy(&out).into_owned())
    } else {
        Cow::Borrowed(text)
    }
}

/// Decodes standard (`+/`) or URL-safe (`-_`) base64, padding optional.
///
/// `None` when `text` has a byte outside both alphabets or a length no
/// base64 text can have.
///
/// ```
/// assert_eq!(portcullis_sdk::base64_decode("aGk").as_deref(), Some(&b"hi"[..]));
/// assert_eq!(portcullis_sdk::base64_decode("a$b="), None);
/// ```
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(byte: u8) -> Option<u32> {
        Some(match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    }
    let digits = text.trim_end_matches('=').as_bytes();
    if digits.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut bits = 0u32;
        for (i, &byte) in chunk.iter().enumerate() {
            bits |= value(byte)? << (18 - 6 * i);
        }
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_escapes() {
        assert_eq!(percent_decode("a%3Db%zz"), "a=b%zz");
        assert!(matches!(percent_decode("plain"), Cow::Borrowed("plain")));
        assert!(matches!(percent_decode("100%"), Cow::Borrowed("100%")));
    }

    #[test]
    fn both_alphabets_with_and_without_padding() {
        assert_eq!(base64_decode("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64_decode("aGVsbG8").as_deref(), Some(&b"hello"[..]));
        assert_eq!(
            base64_decode("-_-_").as_deref(),
            base64_decode("+/+/").as_deref()
        );
        assert_eq!(
            base64_decode("abcde"),
            None,
            "no base64 text has 4n+1 digits"
        );
    }
}
