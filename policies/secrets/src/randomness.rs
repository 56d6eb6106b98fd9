//! Whether a string looks generated rather than typed.
//!
//! A credential's random part is what tells a live key from the
//! `ghp_xxxxxxxx`, `AKIAXXXXXXXXXXXXXXXX` or `dapi1234567890…` a README
//! shows. The checks are cheap and explainable: runs of one character,
//! counting sequences, how many distinct characters, and Shannon entropy.

/// Shannon entropy of `text` in bits per character.
pub(crate) fn entropy(text: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut total = 0u32;
    for byte in text.bytes() {
        counts[usize::from(byte)] += 1;
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    let total = f64::from(total);
    counts
        .iter()
        .filter(|&&count| count > 0)
        .map(|&count| {
            let p = f64::from(count) / total;
            -p * p.log2()
        })
        .sum()
}

/// The longest run of one repeated character (`xxxx` is 4).
fn longest_run(text: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    let mut previous = None;
    for byte in text.bytes() {
        run = if Some(byte) == previous { run + 1 } else { 1 };
        previous = Some(byte);
        longest = longest.max(run);
    }
    longest
}

/// The longest run of consecutive characters counting up or down
/// (`123456789`, `abcdef`, `9876`).
fn longest_sequence(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut longest = usize::from(!bytes.is_empty());
    for step in [1i16, -1] {
        let mut run = 1;
        for pair in bytes.windows(2) {
            let next = i16::from(pair[0]) + step == i16::from(pair[1]);
            run = if next && pair[1].is_ascii_alphanumeric() {
                run + 1
            } else {
                1
            };
            longest = longest.max(run);
        }
    }
    longest
}

fn distinct(text: &str) -> usize {
    let mut seen = [false; 256];
    text.bytes().for_each(|byte| seen[usize::from(byte)] = true);
    seen.iter().filter(|&&seen| seen).count()
}

/// Filler: the body of a placeholder such as `xxxxxxxx`, `XXXX-XXXX` or
/// `111111`, or a string of a handful of characters.
///
/// Used for credential formats whose fixed prefix is already evidence: a
/// real key's body never repeats one character six times, and uses at least
/// a fifth of its length in distinct characters (at least 4, and 10 are
/// enough: a long hex key has only 16 to choose from).
pub(crate) fn is_filler(body: &str) -> bool {
    let length = body.len();
    longest_run(body) >= 6 || distinct(body) < (length / 5).clamp(4, 10).min(length)
}

/// What characters a candidate contains.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Classes {
    pub(crate) lower: usize,
    pub(crate) upper: usize,
    pub(crate) digits: usize,
}

impl Classes {
    pub(crate) fn of(text: &str) -> Classes {
        let mut classes = Classes::default();
        for byte in text.bytes() {
            match byte {
                b'a'..=b'z' => classes.lower += 1,
                b'A'..=b'Z' => classes.upper += 1,
                b'0'..=b'9' => classes.digits += 1,
                _ => {}
            }
        }
        classes
    }

    /// How many of lower case, upper case and digits appear.
    pub(crate) fn count(self) -> usize {
        [self.lower, self.upper, self.digits]
            .iter()
            .filter(|&&n| n > 0)
            .count()
    }
}

/// A value assigned to a secret-sounding name that looks generated: at
/// least 8 characters, letters and digits or mixed case, no filler, no
/// counting sequence, and at least 3 bits of entropy per character.
///
/// `notapassword`, `insert_key_here`, `a-fake-tooshort-key` and
/// `dapi123456789012345678…` fail; `8ae31cacf141669ddfb5da` passes.
pub(crate) fn is_generated(value: &str) -> bool {
    value.len() >= 8
        && Classes::of(value).count() >= 2
        && !is_filler(value)
        && longest_sequence(value) < 6
        && entropy(value) >= 3.0
}

/// A free-standing token random enough to be a key on its own, without a
/// name or a known prefix: 32 characters or more, upper and lower case and
/// at least three digits, no filler or sequence, and 4 bits of entropy per
/// character. Identifiers (`getUserByIdHandler2`), commit hashes (lower
/// case hex) and UUIDs fail it; base62 and base64 keys pass.
pub(crate) fn is_random_token(token: &str) -> bool {
    let classes = Classes::of(token);
    token.len() >= 32
        && classes.lower > 0
        && classes.upper > 0
        && classes.digits >= 3
        && !is_filler(token)
        && longest_sequence(token) < 6
        && entropy(token) >= 4.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_uniform_and_constant_strings() {
        assert_eq!(entropy(""), 0.0);
        assert_eq!(entropy("aaaa"), 0.0);
        assert!((entropy("abcd") - 2.0).abs() < 1e-9);
    }

    #[test]
    fn placeholders_are_filler() {
        for body in [
            "xxxxxxxxxxxxxxxxxxxx",
            "XXXXXXXX-XXXXXXXXXX",
            "111111111111",
            "abab",
        ] {
            assert!(is_filler(body), "{body}");
        }
        let long_hex = "9f3a0c7e1b5d2846".repeat(12);
        for body in [
            "q8Lm2ZrT0vWx9Kc3Yb7N",
            "deadbeefcafe0042",
            long_hex.as_str(),
        ] {
            assert!(!is_filler(body), "{body}");
        }
    }

    #[test]
    fn counting_sequences_are_found() {
        assert_eq!(longest_sequence("x123456789y"), 9);
        assert_eq!(longest_sequence("zyxwv"), 5);
        assert_eq!(longest_sequence("a1b2"), 1);
    }

    #[test]
    fn generated_values() {
        for value in ["8ae31cacf141669ddfb5da", "Tr0ub4dor&3x!", "su9OL59biWiJu7"] {
            assert!(is_generated(value), "{value}");
        }
        for value in [
            "notapassword",
            "insert_key_here",
            "changeme",
            "abc123",
            "dapi0123456789abcdef0123456789fedcba",
            "aaaaaaaa1",
        ] {
            assert!(!is_generated(value), "{value}");
        }
    }

    #[test]
    fn random_tokens() {
        assert!(is_random_token("Zq3vN8xLr2Tb6WcYp0Hs4KdGm7FjQa9E"));
        for token in [
            "3f786850e387550fdab836ed7e6dc881de23001b",
            "getUserByIdAndOrganisationHandlerV2",
            "550e8400-e29b-41d4-a716-446655440000",
            "SGVsbG8gV29ybGQh",
        ] {
            assert!(!is_random_token(token), "{token}");
        }
    }
}
