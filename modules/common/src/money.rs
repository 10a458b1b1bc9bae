//! Amounts of money as the API shows and takes them: an exact decimal and an ISO 4217
//! currency, always together.

use async_graphql::{InputObject, SimpleObject};
use rust_decimal::Decimal;

/// An amount of money: an exact decimal and its ISO 4217 currency.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct Money {
    /// The amount, exact (`12.50`).
    pub amount: Decimal,
    /// The ISO 4217 code of its currency (`EUR`).
    pub currency: String,
}

/// An amount of money given to the API.
#[derive(InputObject, Clone, Debug)]
pub struct MoneyInput {
    /// The amount, exact: a string (`"12.50"`) or a number.
    pub amount: Decimal,
    /// An ISO 4217 currency code (`EUR`, `USD`); case does not matter.
    pub currency: String,
}

impl MoneyInput {
    /// The amount and its currency in canonical form (upper case), or why not: the problems
    /// are added to `errors` at `field.amount` / `field.currency`. A negative amount is
    /// refused unless `negative_ok`.
    pub fn check(
        &self,
        field: &str,
        negative_ok: bool,
        errors: &mut ils_kernel::FieldErrors,
    ) -> Option<Money> {
        let currency = match currency(&self.currency) {
            Ok(c) => Some(c),
            Err(why) => {
                errors.add(format!("{field}.currency"), why);
                None
            }
        };
        if !negative_ok && self.amount.is_sign_negative() && !self.amount.is_zero() {
            errors.add(format!("{field}.amount"), "must not be negative");
            return None;
        }
        currency.map(|currency| Money {
            amount: self.amount,
            currency,
        })
    }
}

/// A currency code as ISO 4217 lists it (active codes), in upper case; or why not.
pub fn currency(code: &str) -> Result<String, &'static str> {
    let code = code.trim().to_ascii_uppercase();
    if code.is_empty() {
        return Err("required");
    }
    match iso_currency::Currency::from_code(&code) {
        Some(_) => Ok(code),
        None => Err("not an ISO 4217 currency code (such as EUR, USD, GBP)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_iso_4217() {
        assert_eq!(currency("eur").unwrap(), "EUR");
        assert_eq!(currency(" USD ").unwrap(), "USD");
        assert_eq!(currency("CHF").unwrap(), "CHF");
        for bad in ["", "EURO", "E1R", "XYZ", "ÉUR", "ABC"] {
            assert!(currency(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn money_input_reports_each_problem_at_its_path() {
        let mut errors = ils_kernel::FieldErrors::default();
        let bad = MoneyInput {
            amount: Decimal::new(-5, 0),
            currency: "EURO".into(),
        };
        assert!(bad.check("input.price", false, &mut errors).is_none());
        let fields: Vec<String> = errors.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["input.price.currency", "input.price.amount"]);
        let mut errors = ils_kernel::FieldErrors::default();
        let good = MoneyInput {
            amount: Decimal::new(1250, 2),
            currency: "eur".into(),
        };
        let money = good.check("input.price", false, &mut errors).unwrap();
        assert_eq!(money.currency, "EUR");
        assert!(errors.is_empty());
    }
}
