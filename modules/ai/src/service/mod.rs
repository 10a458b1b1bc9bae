//! The assistant's work: conversations and their messages (`store`), asking (`ask`), the
//! answer cache (`cache`), spend (`spend`) and the redaction of patient data (`redact`).

pub mod ask;
pub mod cache;
pub mod redact;
pub mod spend;
pub mod store;

/// The normalised form of a question: lower case, words only, single spaces. Two ways of
/// typing the same question meet in the cache.
pub fn normalise(question: &str) -> String {
    question
        .to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '-'))
        .map(|w| w.trim_matches(|c| c == '.' || c == '-'))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn questions_normalise_to_their_words() {
        assert_eq!(
            super::normalise("  Which of my jobs at Clearview are LATE?? "),
            "which of my jobs at clearview are late"
        );
        assert_eq!(
            super::normalise("Who supplies 1.67 blanks?"),
            "who supplies 1.67 blanks"
        );
    }
}
