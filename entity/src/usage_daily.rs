use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// What one caller of a company (`key:<uuid>` or `user:<uuid>`) asked of the API in one
/// day (UTC) with one operation: requests, cost points (query complexity), requests the
/// rate limits refused, and requests that ended with errors. Counted by each server
/// process and added here every few seconds; the company's admins read it (`usage`), a
/// partner's key its own rows.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_daily")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub day: Date,
    pub caller: String,
    pub operation: String,
    pub requests: i64,
    pub cost: i64,
    pub refusals: i64,
    pub errors: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId)
    }
}
