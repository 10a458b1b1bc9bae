//! GS1 article numbers (GTIN): UPC-A, EAN-13, EAN-8 and GTIN-14, with their check digit.

/// Checks a UPC/EAN/GTIN and returns its digits without spaces or hyphens.
///
/// Accepts 8 (EAN-8), 12 (UPC-A), 13 (EAN-13) or 14 (GTIN-14) digits; spaces and hyphens
/// (as printed under a barcode) are ignored. The last digit must be the GS1 mod-10 check
/// digit. The error is a short message for the user.
pub fn check_gtin(s: &str) -> Result<String, String> {
    let digits: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err("a UPC/EAN has only digits".to_owned());
    }
    if !matches!(digits.len(), 8 | 12 | 13 | 14) {
        return Err("a UPC/EAN has 8, 12, 13 or 14 digits".to_owned());
    }
    let values: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
    let (body, check) = values.split_at(values.len() - 1);
    let expected = check_digit(body);
    if check[0] != expected {
        return Err(format!(
            "not a valid UPC/EAN: check digit should be {expected}"
        ));
    }
    Ok(digits)
}

/// The GS1 mod-10 check digit for the digits before it: weights 3, 1, 3, 1… from the right.
fn check_digit(body: &[u32]) -> u32 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
        .sum();
    (10 - sum % 10) % 10
}

#[cfg(test)]
mod tests {
    use super::check_gtin;

    #[test]
    fn accepts_real_codes_of_every_length() {
        assert_eq!(check_gtin("036000291452"), Ok("036000291452".to_owned()));
        assert_eq!(check_gtin("4006381333931"), Ok("4006381333931".to_owned()));
        assert_eq!(check_gtin("96385074"), Ok("96385074".to_owned()));
        assert_eq!(
            check_gtin("10012345678902"),
            Ok("10012345678902".to_owned())
        );
        assert_eq!(check_gtin("5901234123457"), Ok("5901234123457".to_owned()));
        assert_eq!(
            check_gtin("4000000000000"),
            Err("not a valid UPC/EAN: check digit should be 6".to_owned())
        );
        assert_eq!(check_gtin("4000000000006"), Ok("4000000000006".to_owned()));
        assert_eq!(check_gtin("0000000000000"), Ok("0000000000000".to_owned()));
    }

    #[test]
    fn removes_spaces_and_hyphens() {
        assert_eq!(
            check_gtin("  0 36000 29145 2 "),
            Ok("036000291452".to_owned())
        );
        assert_eq!(
            check_gtin("400-6381-33393-1"),
            Ok("4006381333931".to_owned())
        );
    }

    #[test]
    fn rejects_a_wrong_check_digit() {
        assert_eq!(
            check_gtin("036000291453"),
            Err("not a valid UPC/EAN: check digit should be 2".to_owned())
        );
        assert_eq!(
            check_gtin("4006381333930"),
            Err("not a valid UPC/EAN: check digit should be 1".to_owned())
        );
        assert_eq!(
            check_gtin("96385070"),
            Err("not a valid UPC/EAN: check digit should be 4".to_owned())
        );
        assert_eq!(
            check_gtin("10012345678901"),
            Err("not a valid UPC/EAN: check digit should be 2".to_owned())
        );
    }

    #[test]
    fn rejects_letters_and_wrong_lengths() {
        let only_digits = Err("a UPC/EAN has only digits".to_owned());
        assert_eq!(check_gtin("03600029145A"), only_digits);
        assert_eq!(check_gtin("４００６３８１３３３９３１"), only_digits);
        assert_eq!(check_gtin("4006381.333931"), only_digits);
        let length = Err("a UPC/EAN has 8, 12, 13 or 14 digits".to_owned());
        assert_eq!(check_gtin(""), length);
        assert_eq!(check_gtin("   "), length);
        assert_eq!(check_gtin("1234567"), length);
        assert_eq!(check_gtin("0360002914"), length);
        assert_eq!(check_gtin("100123456789020"), length);
    }
}
