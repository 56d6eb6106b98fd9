//! Reading a line as the one JSON value every parser agrees on.
//!
//! The proxy decides on its own reading of a message and forwards the bytes,
//! so a server that reads the same bytes differently would run something no
//! policy saw. JSON leaves three readings open, and each is closed here:
//! - duplicate member names (the first wins in cJSON, RapidJSON and
//!   `buger/jsonparser`, the last in serde_json): refused, at any depth;
//! - member names that differ only in case where the protocol names a member
//!   (Go's `encoding/json` matches struct fields case-insensitively, with
//!   Unicode folding that takes `ſ` for `s` and the Kelvin sign for `k`):
//!   refused in the envelope and in `params`, see [`case_variant`];
//! - lone UTF-16 surrogate escapes (`"\ud83d"`, which JavaScript's
//!   `JSON.stringify` writes for a split emoji): serde_json refuses them and
//!   other parsers read them in different ways, so each becomes `\ufffd` in
//!   the bytes that are both checked and forwarded, see [`mend_lone_surrogates`].

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `raw` as JSON, refusing an object that names a member twice.
pub(super) fn parse(raw: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Strict>(raw).map(|strict| strict.0)
}

/// A JSON value read with duplicate member names refused.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Strict, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let Strict(member) = map.next_value()?;
            if members.contains_key(&name) {
                return Err(de::Error::custom(format_args!(
                    "the member {name:?} is given twice, and parsers disagree on which one counts"
                )));
            }
            members.insert(name, member);
        }
        Ok(Value::Object(members))
    }
}

/// The first member name of `object` that a case-insensitive reader would
/// take for another: for one of `protocol` (the members the proxy reads at
/// this level, spelled in lowercase, as the protocol spells them) while it
/// is not exactly that member, or for another member of the same object.
/// Returns the name and what it would be read as.
pub(super) fn case_variant<'a>(
    object: &'a Map<String, Value>,
    protocol: &[&'a str],
) -> Option<(&'a str, &'a str)> {
    let mut seen: Vec<(String, &str)> = Vec::with_capacity(object.len());
    for name in object.keys() {
        let folded = fold(name);
        if let Some(member) = protocol
            .iter()
            .find(|member| **member != name && **member == folded)
        {
            return Some((name, member));
        }
        if let Some((_, other)) = seen.iter().find(|(other, _)| *other == folded) {
            return Some((name, other));
        }
        seen.push((folded, name));
    }
    None
}

/// Unicode simple case folding as Go's `strings.EqualFold` applies it, for
/// the letters whose folding `to_lowercase` does not give: `ſ` is `s` and
/// the Kelvin sign is `k`.
fn fold(name: &str) -> String {
    name.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ſ' => 's',
            '\u{212A}' => 'k',
            c => c,
        })
        .collect()
}

/// `raw` with every `\u` escape of a lone UTF-16 surrogate replaced by
/// `\ufffd`; borrowed when there is none.
pub(super) fn mend_lone_surrogates(raw: &[u8]) -> Cow<'_, [u8]> {
    if !raw
        .windows(3)
        .any(|w| w[0] == b'\\' && w[1] == b'u' && matches!(w[2], b'd' | b'D'))
    {
        return Cow::Borrowed(raw);
    }
    let surrogate = |at: usize| -> Option<u16> {
        let hex = raw.get(at..at + 6)?;
        if &hex[..2] != b"\\u" {
            return None;
        }
        let value = u16::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()?;
        (0xD800..=0xDFFF).contains(&value).then_some(value)
    };
    let mut out = Vec::with_capacity(raw.len());
    let mut in_string = false;
    let mut at = 0;
    while at < raw.len() {
        match raw[at] {
            b'"' => {
                in_string = !in_string;
                out.push(b'"');
                at += 1;
            }
            b'\\' if in_string => match surrogate(at) {
                Some(0xD800..=0xDBFF) if surrogate(at + 6).is_some_and(|low| low >= 0xDC00) => {
                    out.extend_from_slice(&raw[at..at + 12]);
                    at += 12;
                }
                Some(_) => {
                    out.extend_from_slice(b"\\ufffd");
                    at += 6;
                }
                None => {
                    let end = (at + 2).min(raw.len());
                    out.extend_from_slice(&raw[at..end]);
                    at = end;
                }
            },
            byte => {
                out.push(byte);
                at += 1;
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_given_twice_is_refused_at_any_depth() {
        assert!(parse(br#"{"a":1,"b":{"c":[1,{"d":2}]}}"#).is_ok());
        for twice in [
            r#"{"name":"fetch","name":"delete_repo"}"#,
            r#"{"params":{"arguments":{"url":"a","url":"b"}}}"#,
            r#"[{"x":1,"x":1}]"#,
        ] {
            let error = parse(twice.as_bytes()).unwrap_err().to_string();
            assert!(error.contains("given twice"), "{twice}: {error}");
        }
    }

    #[test]
    fn numbers_strings_and_nulls_read_as_serde_json_reads_them() {
        let text = r#"{"i":-3,"u":18446744073709551615,"f":2.5,"s":"\u00e9","n":null,"t":true}"#;
        assert_eq!(
            parse(text.as_bytes()).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn case_variants_of_protocol_members_and_of_each_other_are_found() {
        let object = |text: &str| serde_json::from_str::<Map<String, Value>>(text).unwrap();
        let members = ["name", "arguments"];
        assert_eq!(
            case_variant(&object(r#"{"name":"a","arguments":{}}"#), &members),
            None
        );
        assert_eq!(
            case_variant(&object(r#"{"name":"a","Arguments":{}}"#), &members),
            Some(("Arguments", "arguments"))
        );
        assert_eq!(
            case_variant(&object(r#"{"argumentſ":{}}"#), &members),
            Some(("argumentſ", "arguments"))
        );
        assert_eq!(
            case_variant(&object(r#"{"Token":"a","TOKEN":"b"}"#), &members),
            Some(("Token", "TOKEN"))
        );
    }

    #[test]
    fn lone_surrogates_are_mended_and_pairs_and_escaped_backslashes_kept() {
        let mend = |text: &str| {
            String::from_utf8(mend_lone_surrogates(text.as_bytes()).into_owned()).unwrap()
        };
        assert_eq!(mend(r#"{"t":"a\ud83d"}"#), r#"{"t":"a\ufffd"}"#);
        assert_eq!(mend(r#"{"t":"\udc00x"}"#), r#"{"t":"\ufffdx"}"#);
        assert_eq!(mend(r#"{"t":"\ud83d\ude00"}"#), r#"{"t":"\ud83d\ude00"}"#);
        assert_eq!(mend(r#"{"t":"\\ud83d"}"#), r#"{"t":"\\ud83d"}"#);
        assert!(matches!(
            mend_lone_surrogates(br#"{"t":"plain"}"#),
            Cow::Borrowed(_)
        ));
        assert!(parse(mend(r#"{"t":"a\ud83d"}"#).as_bytes()).is_ok());
    }
}
