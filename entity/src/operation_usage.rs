use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// How often one caller ran one persisted document: per company, API key (the nil UUID
/// for signed-in users) and document hash. Platform admins read every company's, to see
/// whether a platform list version is still in use before retiring it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operation_usage")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub api_key_id: Uuid,
    pub hash: String,
    pub count: i64,
    pub errors: i64,
    pub last_seen_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId).with_platform()
    }
}
