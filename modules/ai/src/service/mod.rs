//! The assistant's work: conversations and their messages (`store`), asking (`ask`), the
//! answer cache (`cache`), spend (`spend`) and the redaction of patient data (`redact`).

pub mod ask;
pub mod cache;
pub mod redact;
pub mod spend;
pub mod store;

/// The normalised form of a question: lower case, runs of white space as one space, and
/// no closing punctuation ("?", "!", "."). Everything else is kept: "+2.00" and "-2.00"
/// are different lenses, so different questions.
pub fn normalise(question: &str) -> String {
    let lower = question.to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    words
        .join(" ")
        .trim_end_matches(|c: char| {
            matches!(c, '?' | '!' | '.' | ',' | ';' | ':') || c.is_whitespace()
        })
        .to_owned()
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
