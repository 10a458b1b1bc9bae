//! Text search over a table's lower-cased `search_text` column: PostgreSQL full-text search
//! (prefix matches of every word, served by a GIN index), SQLite a substring match of
//! every word. Both are case-insensitive and need every word.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, IntoCondition, SimpleExpr};
use sea_orm::{Condition, DbBackend};

/// The words of a text, lower-cased: runs of letters and digits. Searches and the stored
/// `search_text` split the same way, so PostgreSQL's parser only ever sees plain words
/// (it would keep `1.67` whole but split `sl-000001` into `sl` and `-000001`).
fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
}

/// The words of a search: at most 10.
pub fn words(text: &str) -> Vec<String> {
    tokens(text).take(10).collect()
}

/// A condition matching rows whose `search_text` holds every word of `text`; `None` when
/// `text` has no words.
pub fn condition(backend: DbBackend, text: &str) -> Option<Condition> {
    let words = words(text);
    if words.is_empty() {
        return None;
    }
    Some(match backend {
        DbBackend::Postgres => {
            let query = words
                .iter()
                .map(|w| format!("{w}:*"))
                .collect::<Vec<_>>()
                .join(" & ");
            // sea-query numbers PostgreSQL placeholders `$1`; the other branch uses none.
            Expr::cust_with_values(
                "to_tsvector('simple', search_text) @@ to_tsquery('simple', $1)",
                [query],
            )
            .into_condition()
        }
        _ => words
            .iter()
            .fold(Condition::all(), |all, w| all.add(contains(w))),
    })
}

fn contains(word: &str) -> SimpleExpr {
    // Words are alphanumeric, so there is nothing for LIKE to escape.
    Expr::col(Alias::new("search_text")).like(format!("%{word}%"))
}

/// `column` equals `value` in any case, both sides lowered by the database (SQLite's
/// `lower` folds ASCII only, so Rust must not fold one side further than SQL folds the
/// other).
pub fn equals_any_case(column: impl sea_orm::sea_query::IntoColumnRef, value: &str) -> SimpleExpr {
    Expr::expr(Func::lower(Expr::col(column))).eq(Func::lower(Expr::val(value.to_owned())))
}

/// The `search_text` column for a row: the words of its searchable parts.
pub fn text_of<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    parts
        .into_iter()
        .flat_map(tokens)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_alphanumeric_and_lower_case() {
        assert_eq!(words("Free-Form  LAB!"), vec!["free", "form", "lab"]);
        assert!(words(" %_' ").is_empty());
    }

    #[test]
    fn stored_text_is_plain_words_so_a_whole_sku_finds_its_row() {
        let stored = text_of(["NW-DAILY-860-142-M225-30", "Index 1.67 lens"]);
        assert_eq!(stored, "nw daily 860 142 m225 30 index 1 67 lens");
        for w in words("nw-daily-860-142-m225-30 1.67") {
            assert!(stored.split(' ').any(|s| s.starts_with(&w)), "{w}");
        }
    }

    #[test]
    fn no_words_no_condition() {
        assert!(condition(DbBackend::Sqlite, "--").is_none());
        assert!(condition(DbBackend::Postgres, "lab").is_some());
    }
}
