//! Event type names and the patterns that select them (`order.*`, `*`), for handlers,
//! subscriptions and webhooks alike.

use crate::{AppError, AppResult};

/// Checks event type patterns given by a client: exact types (`api_key.created`), families
/// (`order.*`) or `*`; at most 50. `field` is the argument path for the error.
pub fn check_patterns(patterns: &[String], field: &str) -> AppResult<()> {
    if patterns.is_empty() {
        return Err(AppError::bad_input(
            field,
            "name at least one event type (or \"*\")",
        ));
    }
    if patterns.len() > 50 {
        return Err(AppError::bad_input(field, "at most 50 event types"));
    }
    for t in patterns {
        let ok = !t.is_empty()
            && t.len() <= 100
            && t.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._*".contains(c))
            && (!t.contains('*') || t == "*" || (t.ends_with(".*") && t.matches('*').count() == 1));
        if !ok {
            return Err(AppError::bad_input(
                field,
                format!("{t:?} is not an event type, a family such as \"order.*\", or \"*\""),
            ));
        }
    }
    Ok(())
}

/// `*` matches everything, `order.*` every type under `order.`, anything else itself.
pub fn type_matches(pattern: &str, event_type: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some("") => true,
        Some(prefix) => event_type.starts_with(prefix),
        None => pattern == event_type,
    }
}
