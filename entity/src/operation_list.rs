use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// A named list of trusted operations (a partner application, e.g. "acme-pms"). A
/// platform list (`company_id` null) may be granted to any company's API keys; a company's
/// own list only to its own keys.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operation_lists")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Option<Uuid>,
    pub name: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        crate::policy::platform_or_owned(Column::CompanyId)
    }
}
