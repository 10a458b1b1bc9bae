use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// One audited action: append-only (no API changes or deletes it; on PostgreSQL the
/// server's role has no UPDATE or DELETE on the table, and a trigger refuses both).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Option<Uuid>,
    /// USER, API_KEY, SYSTEM or ANONYMOUS.
    pub actor_kind: String,
    pub actor_user_id: Option<Uuid>,
    pub actor_api_key_id: Option<Uuid>,
    /// The operation (mutation fields, or a named read of patient data).
    pub operation: String,
    /// JSON array of global IDs the operation named or returned.
    #[sea_orm(column_type = "Text")]
    pub target_ids: String,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    /// SUCCESS or FAILURE.
    pub outcome: String,
    pub error_code: Option<String>,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Read through the guard; written only by `audit::record` (append-only).
impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId).with_platform()
    }
}
