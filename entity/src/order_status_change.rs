use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// One step of a lens order's history: which status, who moved it, when. Both parties of
/// the order see it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_status_changes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub order_id: Uuid,
    /// The practice.
    pub company_id: Uuid,
    pub lab_company_id: Option<Uuid>,
    pub from_status: Option<String>,
    pub to_status: String,
    /// The company that made the move.
    pub actor_company_id: Option<Uuid>,
    pub actor_user_id: Option<Uuid>,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// An order's history: both parties read it; each step names both, copied from the order.
impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::shared(vec![Column::CompanyId, Column::LabCompanyId])
    }
}
