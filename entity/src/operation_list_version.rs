use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// One published version of an operation list: ACTIVE (its documents run) or RETIRED.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operation_list_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub list_id: Uuid,
    /// The list's company (null for a platform list), copied so the walls need no join.
    pub company_id: Option<Uuid>,
    pub version: i32,
    pub status: String,
    pub document_count: i32,
    pub published_by: Option<Uuid>,
    pub published_at: DateTimeUtc,
    pub retired_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        crate::policy::platform_or_owned(Column::CompanyId)
    }
}
