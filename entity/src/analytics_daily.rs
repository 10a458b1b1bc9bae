use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// One figure of a company's dashboards for one day (UTC): a metric (`orders`,
/// `turnaround_days`, …), the dimension it is broken down by (a status, a lab, a reason, a
/// currency; empty when none), the sum of its values and how many contributions make it.
/// Kept by the analytics module's event handler from the orders and purchase orders the
/// company is a party to, and rebuilt from them by `ils analytics rebuild`; a dashboard
/// reads only these rows.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "analytics_daily")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub metric: String,
    pub dim: String,
    pub day: Date,
    pub value: i64,
    pub count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId)
    }
}
