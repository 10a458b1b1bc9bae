//! GraphQL's lexical grammar (specification, October 2021, section 2.1 "Source Text"),
//! written out by hand because the safelist compares documents token by token and
//! async-graphql's parser hands out a syntax tree, not tokens. Only lexing: whether the
//! tokens make a valid document is the parser's business.

/// The tokens of `text` in order, each the exact slice of the source it was read from; the
/// ignored tokens (whitespace, line terminators, commas, comments, the byte order mark) are
/// left out. None when `text` does not lex.
///
/// A token is kept as written, not as the value it stands for: `"A"` and `"\u0041"` are
/// different tokens, as are `1.0` and `1.00`. That is on purpose: the safelist accepts a
/// text that is a published document with its layout changed, and a different spelling of
/// a value is more than layout.
pub fn tokens(text: &str) -> Option<Vec<&str>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        i = match b[i] {
            b' ' | b'\t' | b',' | b'\n' | b'\r' => i + 1,
            // U+FEFF, the byte order mark, in UTF-8.
            0xEF if b[i..].starts_with(b"\xEF\xBB\xBF") => i + 3,
            b'#' => {
                let rest = &b[i..];
                i + rest
                    .iter()
                    .position(|&c| c == b'\n' || c == b'\r')
                    .unwrap_or(rest.len())
            }
            b'!' | b'$' | b'&' | b'(' | b')' | b':' | b'=' | b'@' | b'[' | b']' | b'{' | b'|'
            | b'}' => {
                out.push(&text[i..i + 1]);
                i + 1
            }
            b'.' if b[i..].starts_with(b"...") => {
                out.push(&text[i..i + 3]);
                i + 3
            }
            b'"' => {
                let end = string_end(b, i)?;
                out.push(&text[start..end]);
                end
            }
            b'-' | b'0'..=b'9' => {
                let end = number_end(b, i)?;
                out.push(&text[start..end]);
                end
            }
            c if is_name_start(c) => {
                let end = i + b[i..].iter().take_while(|&&c| is_name_continue(c)).count();
                out.push(&text[start..end]);
                end
            }
            _ => return None,
        };
    }
    Some(out)
}

fn is_name_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

fn is_name_continue(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

/// The end of the string value starting at `start` (a `"`): a block string `"""…"""`, in
/// which only `\"""` is an escape and line terminators are allowed, or a one-line string
/// with its escape sequences checked.
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    if b[start..].starts_with(b"\"\"\"") {
        let mut j = start + 3;
        loop {
            let rest = b.get(j..).filter(|r| !r.is_empty())?;
            if rest.starts_with(b"\\\"\"\"") {
                j += 4;
            } else if rest.starts_with(b"\"\"\"") {
                return Some(j + 3);
            } else {
                j += 1;
            }
        }
    }
    let mut j = start + 1;
    loop {
        match *b.get(j)? {
            b'"' => return Some(j + 1),
            b'\n' | b'\r' => return None,
            b'\\' => {
                j += 1;
                match *b.get(j)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => j += 1,
                    b'u' => j = unicode_escape_end(b, j + 1)?,
                    _ => return None,
                }
            }
            _ => j += 1,
        }
    }
}

/// After `\u`: four hex digits, or (since the 2021 specification) `{` hex digits `}`.
fn unicode_escape_end(b: &[u8], j: usize) -> Option<usize> {
    let hex = |k: usize| b.get(k).is_some_and(u8::is_ascii_hexdigit);
    if b.get(j) == Some(&b'{') {
        let digits = (j + 1..).take_while(|&k| hex(k)).count();
        (digits > 0 && b.get(j + 1 + digits) == Some(&b'}')).then_some(j + digits + 2)
    } else {
        (j..j + 4).all(hex).then_some(j + 4)
    }
}

/// The end of the IntValue or FloatValue starting at `start`: an optional minus, `0` or
/// digits not starting with `0`, then an optional fraction and exponent. A number may not
/// run straight into a digit, `.` or a name (`01`, `1.2.3`, `1a` are not two tokens).
fn number_end(b: &[u8], start: usize) -> Option<usize> {
    let digit = |k: usize| b.get(k).is_some_and(u8::is_ascii_digit);
    let digits_from = |k: usize| (k..).take_while(|&k| digit(k)).count();
    let mut j = start;
    if b[j] == b'-' {
        j += 1;
    }
    match b.get(j)? {
        b'0' => j += 1,
        b'1'..=b'9' => j += digits_from(j),
        _ => return None,
    }
    if b.get(j) == Some(&b'.') {
        let n = digits_from(j + 1);
        if n == 0 {
            return None;
        }
        j += 1 + n;
    }
    if matches!(b.get(j), Some(b'e' | b'E')) {
        j += 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let n = digits_from(j);
        if n == 0 {
            return None;
        }
        j += n;
    }
    match b.get(j) {
        Some(&c) if c == b'.' || c.is_ascii_digit() || is_name_start(c) => None,
        _ => Some(j),
    }
}

#[cfg(test)]
mod tests {
    use super::tokens;

    fn lex(text: &str) -> Vec<&str> {
        tokens(text).unwrap_or_else(|| panic!("{text:?} should lex"))
    }

    #[test]
    fn punctuators_and_names() {
        assert_eq!(
            lex("! $ & ( ) ... : = @ [ ] { | } _a9 B"),
            [
                "!", "$", "&", "(", ")", "...", ":", "=", "@", "[", "]", "{", "|", "}", "_a9", "B"
            ]
        );
        assert_eq!(lex("...on"), ["...", "on"]);
        assert_eq!(lex("$id:ID!"), ["$", "id", ":", "ID", "!"]);
    }

    #[test]
    fn ignored_tokens_are_left_out() {
        assert_eq!(
            lex("\u{feff}a,,b\t\r\nc # comment, with \"quotes\" { \rd#e"),
            ["a", "b", "c", "d"]
        );
        assert_eq!(lex("# only a comment"), Vec::<&str>::new());
        assert_eq!(lex(""), Vec::<&str>::new());
    }

    #[test]
    fn numbers() {
        assert_eq!(
            lex("0 -0 12 -3 1.5 0.25 1e10 1E+2 -2.5e-3"),
            [
                "0", "-0", "12", "-3", "1.5", "0.25", "1e10", "1E+2", "-2.5e-3"
            ]
        );
        for bad in [
            "01", "-", "-a", "1.", "1.e3", ".5", "1e", "1e+", "1a", "1.2.3", "0x1", "1_",
        ] {
            assert_eq!(tokens(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn strings_keep_their_spelling_and_content() {
        assert_eq!(lex(r#""a, b # c""#), [r#""a, b # c""#]);
        assert_eq!(lex(r#""""#), [r#""""#]);
        assert_eq!(
            lex(r#"x("q\"\\\/\b\f\n\r\t\u00e9\u{1F600}" y)"#),
            ["x", "(", r#""q\"\\\/\b\f\n\r\t\u00e9\u{1F600}""#, "y", ")"]
        );
        assert_eq!(lex("\"é €\""), ["\"é €\""]);
        for bad in [
            "\"open",
            "\"a\nb\"",
            "\"a\rb\"",
            r#""\x""#,
            r#""\u12""#,
            r#""\u{}""#,
            r#""\u{12""#,
            r#""\"#,
        ] {
            assert_eq!(tokens(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn block_strings_keep_whitespace_quotes_and_hashes() {
        let block = "\"\"\"\n  first, # not a comment\n    \"quoted\" \\\"\"\" \\n\n\"\"\"";
        assert_eq!(lex(&format!("a({block}) b")), ["a", "(", block, ")", "b"]);
        assert_eq!(lex(r#""""""" x"#), [r#""""""""#, "x"]);
        assert_eq!(tokens("\"\"\" never closed \"\""), None);
        assert_eq!(tokens(r#"""" escaped end \""""#), None);
    }

    #[test]
    fn other_characters_do_not_lex() {
        for bad in ["a ? b", "a . b", "a .. b", "a; b", "é", "a\u{0}b", "%"] {
            assert_eq!(tokens(bad), None, "{bad:?}");
        }
    }
}
