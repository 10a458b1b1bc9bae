use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// A counted quantity of one product in a stock count (the last recording counts);
/// `expected` is the on-hand stock by the books at that recording.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_count_lines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub count_id: Uuid,
    pub company_id: Uuid,
    pub product_id: Uuid,
    pub counted: i64,
    pub expected: Option<i64>,
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
