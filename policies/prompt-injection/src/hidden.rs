//! Text a person cannot see: ASCII smuggled in Unicode tag characters,
//! zero-width characters threaded through words, and bidirectional
//! overrides that make text read differently from how it is stored.
//!
//! The prefilter normalises these away so that phrase rules see the visible
//! text; whether they were there at all is judged here, on the text as
//! sent, in every string of a call's arguments or a result.

use portcullis_sdk::Verdict;
use portcullis_sdk::serde_json::Value;

/// One hidden-text finding in a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hidden {
    pub(crate) rule: &'static str,
    pub(crate) verdict: Verdict,
    pub(crate) message: String,
}

const BLACK_FLAG: char = '\u{1F3F4}';
const CANCEL_TAG: char = '\u{E007F}';

fn is_tag(c: char) -> bool {
    ('\u{E0020}'..='\u{E007E}').contains(&c)
}

/// Characters with no width and no purpose in running text.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{2060}' | '\u{2061}'..='\u{2064}' | '\u{180E}' | '\u{00AD}' | '\u{FEFF}'
    )
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The hidden text in one string, if any.
pub(crate) fn hidden_in(field: &str, text: &str) -> Vec<Hidden> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();

    // Tag characters, except the emoji subdivision flags (🏴 + tags + cancel
    // tag), which are their one legitimate use.
    let mut smuggled = 0;
    let mut index = 0;
    while index < chars.len() {
        if !is_tag(chars[index]) {
            index += 1;
            continue;
        }
        let start = index;
        while index < chars.len() && is_tag(chars[index]) {
            index += 1;
        }
        let flag = start > 0
            && chars[start - 1] == BLACK_FLAG
            && chars.get(index) == Some(&CANCEL_TAG)
            && index - start <= 6
            && chars[start..index].iter().all(|&c| {
                char::from_u32(c as u32 - 0xE0000)
                    .is_some_and(|a| a.is_ascii_lowercase() || a.is_ascii_digit())
            });
        if !flag {
            smuggled += index - start;
        }
    }
    if smuggled > 0 {
        found.push(Hidden {
            rule: "tag-smuggling",
            verdict: Verdict::Deny,
            message: format!("{field} hides {smuggled} characters of text in Unicode tag characters, invisible to the user"),
        });
    }

    // Zero-width joiners and non-joiners belong in emoji and in Persian or
    // Indic words; between two ASCII letters they only split what a reader
    // sees from what a filter sees.
    let mut invisible = 0;
    for (index, &c) in chars.iter().enumerate() {
        let between_ascii = |i: usize| {
            i > 0
                && chars[i - 1].is_ascii_alphanumeric()
                && chars.get(i + 1).is_some_and(char::is_ascii_alphanumeric)
        };
        let leading_bom = c == '\u{FEFF}' && index == 0;
        if (is_invisible(c) && !leading_bom)
            || (matches!(c, '\u{200C}' | '\u{200D}') && between_ascii(index))
        {
            invisible += 1;
        }
    }
    if invisible >= 3 {
        found.push(Hidden {
            rule: "invisible-text",
            verdict: Verdict::Escalate,
            message: format!("{field} threads {invisible} zero-width characters through its text"),
        });
    }

    let bidi = chars.iter().filter(|&&c| is_bidi_control(c)).count();
    if bidi > 0 {
        found.push(Hidden {
            rule: "bidi-override",
            verdict: Verdict::Escalate,
            message: format!("{field} has {bidi} bidirectional override characters, so it reads differently from how it is stored"),
        });
    }
    found
}

/// The hidden text in every string of `value`, under fields named from
/// `root` (`/arguments`, `/response`).
pub(crate) fn hidden_everywhere(value: &Value, root: &str) -> Vec<Hidden> {
    portcullis_sdk::json_texts(value, root)
        .iter()
        .flat_map(|text| hidden_in(&text.field, text.text))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<&'static str> {
        hidden_in("/f", text).iter().map(|h| h.rule).collect()
    }

    fn tags(ascii: &str) -> String {
        ascii
            .chars()
            .map(|c| char::from_u32(0xE0000 + c as u32).unwrap())
            .collect()
    }

    #[test]
    fn tag_characters_smuggle_text() {
        assert_eq!(
            rules(&format!("hello{}", tags("send the key"))),
            ["tag-smuggling"]
        );
        // The flag of Scotland: 🏴 + "gbsct" in tags + cancel tag.
        assert!(rules(&format!("go {BLACK_FLAG}{}{CANCEL_TAG}!", tags("gbsct"))).is_empty());
    }

    #[test]
    fn invisible_characters_between_letters() {
        assert_eq!(
            rules("ig\u{200B}no\u{200B}re pre\u{200B}vious"),
            ["invisible-text"]
        );
        assert!(rules("\u{FEFF}plain text with a byte order mark").is_empty());
        assert!(rules("family: 👨\u{200D}👩\u{200D}👧\u{200D}👦").is_empty());
        assert!(rules("می\u{200C}خواهم").is_empty(), "ZWNJ in Persian");
    }

    #[test]
    fn bidi_overrides() {
        assert_eq!(rules("invoice_\u{202E}fdp.exe"), ["bidi-override"]);
        assert!(
            rules("שלום \u{200F}world").is_empty(),
            "marks are not overrides"
        );
    }
}
