//! Conditions that are always true: the heart of `' OR 1=1`.
//!
//! A query language (`status = "open" AND type = "bug"`) and an injection
//! (`' OR 'a'='a`) look alike to a regular expression; what sets the
//! injection apart is that its condition compares a thing with itself. The
//! prefilter finds `OR`/`AND` followed by a comparison, and [`is_tautology`]
//! checks that comparison.

/// The prefilter's regular expression: `OR`/`AND` (or `||`, `&&`) and a
/// comparison, or `OR TRUE`.
pub(crate) const REGEX: &str = concat!(
    r#"(?:\b(?:or|and)|\|\||&&)\s+[(\s]*(?:'[^']*'|"[^"]*"|[\w.]+)\s*(?:<=>|==|=|\blike\b|\bis\b|<>|!=|<|>)"#,
    r#"\s*[(\s]*(?:'[^']*'?|"[^"]*"?|[\w.]+)"#,
    r"|\bor\s+(?:true|not\s+false)\b"
);

/// Whether `matched`, a match of [`REGEX`], is a condition that is always
/// true: `or true`, a value compared equal to itself (`1=1`, `'a'='a'`,
/// `x like x`), or numbers compared truthfully (`2>1`, `1<>2`).
pub(crate) fn is_tautology(matched: &str) -> bool {
    let condition = matched
        .trim_start_matches(|c: char| c.is_alphabetic() || c == '|' || c == '&')
        .trim();
    if condition.starts_with("true") || condition.starts_with("not false") {
        return true;
    }
    for operator in ["<=>", "==", "<>", "!=", "=", " like ", " is ", "<", ">"] {
        let Some((left, right)) = condition.split_once(operator) else {
            continue;
        };
        let (left, right) = (operand(left), operand(right));
        if left.is_empty() || right.is_empty() {
            return false;
        }
        return match operator {
            "<=>" | "==" | "=" | " like " | " is " => left == right,
            _ => match (left.parse::<f64>(), right.parse::<f64>()) {
                (Ok(l), Ok(r)) => match operator {
                    "<" => l < r,
                    ">" => l > r,
                    _ => l != r,
                },
                _ => false,
            },
        };
    }
    false
}

/// An operand without its quotes, brackets and spaces.
fn operand(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '(' | ')'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_comparisons_are_tautologies() {
        for matched in [
            "or 1=1",
            "or '1'='1",
            "or \"1\"=\"1",
            "or x=x",
            "or ('a'='a",
            "|| 1 like 1",
            "or true",
            "or 2>1",
            "and 1<>2",
        ] {
            assert!(is_tautology(matched), "{matched}");
        }
    }

    #[test]
    fn real_conditions_are_not() {
        for matched in [
            "and status = \"done\"",
            "or priority = 'high'",
            "and status != \"open\"",
            "and 5650=convert",
            "or 1>2",
        ] {
            assert!(!is_tautology(matched), "{matched}");
        }
    }
}
