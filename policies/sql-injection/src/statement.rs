//! Just enough SQL reading to tell what a statement does to the data.
//!
//! This is not a parser: it drops comments and string literals, splits on
//! semicolons and looks at the keywords. That is enough to tell a `SELECT`
//! from a `DROP TABLE`, and a `DELETE` with a `WHERE` clause from one
//! without.

/// What one statement does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Reads only (`SELECT`, `EXPLAIN`, `SHOW`…), or nothing we recognise.
    Read,
    /// Adds or changes rows, schema or grants, within bounds.
    Write,
    /// `DELETE` or `UPDATE` with no `WHERE` clause: every row.
    Unbounded(&'static str),
    /// `DROP` or `TRUNCATE`: whole objects or all their rows.
    Destructive(&'static str),
}

/// One statement: its effect and its first words, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement {
    /// What it does.
    pub(crate) effect: Effect,
    /// Its first few words, lower-cased, for quoting in a reason.
    pub(crate) opening: String,
}

/// Verbs that change data, schema or permissions.
const WRITE_VERBS: &[&str] = &[
    "insert", "update", "delete", "drop", "truncate", "alter", "create", "replace", "merge",
    "upsert", "grant", "revoke", "rename", "attach", "detach", "reindex", "comment", "call",
];

/// The statements of `sql`, in order.
pub(crate) fn statements(sql: &str) -> Vec<Statement> {
    split(&strip_comments_and_strings(&sql.to_lowercase()))
        .into_iter()
        .filter_map(|text| {
            let words: Vec<&str> = text
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .collect();
            let verb = main_verb(&words)?;
            let has_where = words.contains(&"where");
            let effect = match verb {
                "drop" => Effect::Destructive("drops"),
                "truncate" => Effect::Destructive("truncates"),
                "delete" if !has_where => Effect::Unbounded("deletes every row"),
                "update" if !has_where => Effect::Unbounded("updates every row"),
                verb if WRITE_VERBS.contains(&verb) => Effect::Write,
                _ => Effect::Read,
            };
            Some(Statement {
                effect,
                opening: words.iter().take(6).copied().collect::<Vec<_>>().join(" "),
            })
        })
        .collect()
}

/// The verb that decides what a statement does: its first word, or for a
/// `WITH` statement the first data-changing verb after the common table
/// expressions.
fn main_verb<'a>(words: &[&'a str]) -> Option<&'a str> {
    let first = *words.first()?;
    if first != "with" {
        return Some(first);
    }
    Some(
        words
            .iter()
            .copied()
            .find(|w| matches!(*w, "insert" | "update" | "delete" | "merge"))
            .unwrap_or("select"),
    )
}

/// `sql` with comments removed and the contents of string literals and
/// quoted identifiers blanked, so that neither can hide or fake a keyword
/// or a semicolon.
fn strip_comments_and_strings(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '-' if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                out.push(' ');
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut previous = ' ';
                for c in chars.by_ref() {
                    if previous == '*' && c == '/' {
                        break;
                    }
                    previous = c;
                }
                out.push(' ');
            }
            '\'' | '"' | '`' => {
                for inner in chars.by_ref() {
                    if inner == c {
                        break;
                    }
                }
                out.push_str(" '' ");
            }
            c => out.push(c),
        }
    }
    out
}

/// Splits on semicolons, dropping empty statements.
fn split(sql: &str) -> Vec<&str> {
    sql.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effects(sql: &str) -> Vec<Effect> {
        statements(sql).into_iter().map(|s| s.effect).collect()
    }

    #[test]
    fn reads_are_reads() {
        assert_eq!(effects("SELECT * FROM t WHERE a = 1"), [Effect::Read]);
        assert_eq!(
            effects("WITH x AS (SELECT 1) SELECT * FROM x"),
            [Effect::Read]
        );
        assert_eq!(effects("-- just a comment"), []);
    }

    #[test]
    fn drops_and_truncates_are_destructive() {
        assert_eq!(
            effects("DROP TABLE IF EXISTS a; drop table b;"),
            [Effect::Destructive("drops"), Effect::Destructive("drops")]
        );
        assert_eq!(effects("TRUNCATE logs"), [Effect::Destructive("truncates")]);
    }

    #[test]
    fn deletes_and_updates_without_where_are_unbounded() {
        assert_eq!(
            effects("DELETE FROM users"),
            [Effect::Unbounded("deletes every row")]
        );
        assert_eq!(effects("DELETE FROM users WHERE id = 3"), [Effect::Write]);
        assert_eq!(
            effects("UPDATE users SET admin = true"),
            [Effect::Unbounded("updates every row")]
        );
        assert_eq!(
            effects("WITH old AS (SELECT id FROM t) DELETE FROM t"),
            [Effect::Unbounded("deletes every row")]
        );
    }

    #[test]
    fn comments_and_strings_neither_hide_nor_fake_keywords() {
        assert_eq!(effects("SELECT 'x; DROP TABLE t' AS s"), [Effect::Read]);
        assert_eq!(
            effects("DELETE FROM t /* WHERE id = 1 */"),
            [Effect::Unbounded("deletes every row")]
        );
        assert_eq!(
            effects("DELETE FROM t -- WHERE id = 1\n"),
            [Effect::Unbounded("deletes every row")]
        );
    }

    #[test]
    fn the_opening_quotes_the_first_words() {
        assert_eq!(
            statements("DROP TABLE IF EXISTS Album, Artist, Customer")[0].opening,
            "drop table if exists album artist"
        );
    }
}
