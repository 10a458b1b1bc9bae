//! Scalars the API names for what they hold (async-graphql's own names some after Rust
//! types, such as `NaiveDate`).

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;

/// A calendar date without a time or zone: `YYYY-MM-DD`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Date(pub NaiveDate);

/// A calendar date without a time or zone, ISO 8601 `YYYY-MM-DD` (`2026-12-05`).
#[Scalar(
    name = "Date",
    specified_by_url = "https://scalars.graphql.org/andimarek/local-date.html"
)]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| InputValueError::custom("a date is written YYYY-MM-DD")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

impl From<NaiveDate> for Date {
    fn from(d: NaiveDate) -> Self {
        Date(d)
    }
}

impl From<Date> for NaiveDate {
    fn from(d: Date) -> Self {
        d.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_and_write_iso_8601() {
        let d = <Date as ScalarType>::parse(Value::String("2026-12-05".into())).unwrap();
        assert_eq!(d.0, NaiveDate::from_ymd_opt(2026, 12, 5).unwrap());
        assert_eq!(d.to_value(), Value::String("2026-12-05".into()));
        for bad in ["2026-13-01", "05/12/2026", "2026-12-05T00:00:00Z", ""] {
            assert!(
                <Date as ScalarType>::parse(Value::String(bad.into())).is_err(),
                "{bad}"
            );
        }
        assert!(<Date as ScalarType>::parse(Value::Number(20261205.into())).is_err());
    }
}
