//! Amounts of money as the API shows them.

use async_graphql::SimpleObject;
use rust_decimal::Decimal;

/// An amount of money: an exact decimal and its ISO 4217 currency.
#[derive(SimpleObject, Clone)]
pub struct Money {
    pub amount: Decimal,
    pub currency: String,
}
