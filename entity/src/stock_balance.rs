use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// Stock of one product at one location, kept in the transaction of every movement (reads
/// never sum the ledger). Costs in ten-thousandths.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_balances")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub location_id: Uuid,
    pub product_id: Uuid,
    pub on_hand: i64,
    pub reserved: i64,
    pub avg_cost: i64,
    /// At or below the product's threshold since the last downward crossing.
    pub low: bool,
    /// Selling at least three times its usual rate since a sale found it so (announced
    /// once per spike).
    pub spike: bool,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId)
    }
}
