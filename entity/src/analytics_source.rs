use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// What one source record (a lens order, a purchase order) adds to a company's
/// `analytics_daily` figures now, as JSON. When the record changes, the handler computes its
/// figures afresh and applies only the difference, so an event delivered twice, or late,
/// counts once.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "analytics_sources")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub source_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub facts: String,
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
