//! Text search over a table's lower-cased `search_text` column: PostgreSQL full-text search
//! (prefix matches of every word, served by a GIN index), SQLite a substring match of
//! every word. Both are case-insensitive and need every word.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, IntoCondition, SimpleExpr};
use sea_orm::{Condition, DbBackend};

/// The words of a search, lower-cased: letters and digits only, at most 10.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(10)
        .map(|w| w.to_lowercase())
        .collect()
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

/// `column` equals `value`, both compared in lower case.
pub fn equals_any_case(column: impl sea_orm::sea_query::IntoColumnRef, value: &str) -> SimpleExpr {
    Expr::expr(Func::lower(Expr::col(column))).eq(value.to_lowercase())
}

/// Lower-cased text for the `search_text` column.
pub fn text_of<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
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
    fn no_words_no_condition() {
        assert!(condition(DbBackend::Sqlite, "--").is_none());
        assert!(condition(DbBackend::Postgres, "lab").is_some());
    }
}
