use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// A company's webhook receiver. The secret signs every delivery, so it is kept (it is
/// shown to the company once, when created or rotated).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub url: String,
    pub description: String,
    /// JSON array of event types; `["*"]` means every event.
    #[sea_orm(column_type = "Text")]
    pub event_types: String,
    pub secret: String,
    pub enabled: bool,
    pub created_at: DateTimeUtc,
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
