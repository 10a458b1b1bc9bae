//! Input rules shared by the tenancy services.

use ils_kernel::{AppError, AppResult};

/// An email address: trimmed and lower-cased, at most 254 characters (RFC 5321's limit),
/// one `@`, a dotted domain, no whitespace and no control characters.
pub fn email(value: &str, field: &str) -> AppResult<String> {
    let invalid = || AppError::bad_input(field, "not a valid email address");
    // Far too long is refused before anything is made of it.
    if value.len() > 4 * 254 {
        return Err(invalid());
    }
    let e = value.trim().to_lowercase();
    let ok = e.chars().count() <= 254
        && !e.chars().any(char::is_control)
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.contains(char::is_whitespace)
                && e.matches('@').count() == 1
        });
    if ok { Ok(e) } else { Err(invalid()) }
}

/// A required text: trimmed, not empty, at most `max` characters, no control characters
/// but line breaks and tabs.
pub fn text(value: &str, field: &str, max: usize) -> AppResult<String> {
    let t = value.trim();
    if t.is_empty() {
        return Err(AppError::bad_input(field, "must not be empty"));
    }
    optional_text(Some(t), field, max).map(|v| v.unwrap_or_default())
}

pub fn optional_text(value: Option<&str>, field: &str, max: usize) -> AppResult<Option<String>> {
    let Some(t) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if t.chars().count() > max {
        return Err(AppError::bad_input(
            field,
            format!("must have at most {max} characters"),
        ));
    }
    // Line breaks and tabs are for the fields meant for several lines; the transport
    // refuses them in every other field (`api/src/text_input.rs`), so here, the second
    // check, only the other control characters are refused.
    if t.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::bad_input(
            field,
            "must not contain control characters",
        ));
    }
    Ok(Some(t.to_owned()))
}

pub fn website(value: Option<&str>, field: &str) -> AppResult<Option<String>> {
    let Some(w) = optional_text(value, field, 300)? else {
        return Ok(None);
    };
    let lower = w.to_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(Some(w)),
        _ => Err(AppError::bad_input(field, "must be an http(s) URL")),
    }
}

pub fn phone(value: Option<&str>, field: &str) -> AppResult<Option<String>> {
    let Some(p) = optional_text(value, field, 40)? else {
        return Ok(None);
    };
    let digits = p.chars().filter(char::is_ascii_digit).count();
    if digits < 5
        || !p
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        return Err(AppError::bad_input(field, "not a valid phone number"));
    }
    Ok(Some(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email(" Ann@Example.COM ", "e").unwrap(), "ann@example.com");
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.com",
            "a@b",
            "a b@c.com",
            "a@b@c.com",
            "a@.com",
            "a\0@b.com",
            "a@b.com\u{7}",
        ] {
            assert!(email(bad, "e").is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(243));
        assert!(email(&long, "e").is_err(), "255 characters");
        assert!(email(&long[1..], "e").is_ok(), "254 characters");
        assert!(email(&"a".repeat(200_000), "e").is_err());
    }

    #[test]
    fn texts_websites_phones() {
        assert!(text("  ", "n", 10).is_err());
        assert!(text("abcdefghijk", "n", 10).is_err());
        assert_eq!(text(" ok ", "n", 10).unwrap(), "ok");
        assert!(website(Some("javascript:alert(1)"), "w").is_err());
        assert!(website(Some("https://brightside.example"), "w").is_ok());
        assert!(phone(Some("+44 (0)20 7946 0000"), "p").is_ok());
        assert!(phone(Some("call me"), "p").is_err());
    }
}
