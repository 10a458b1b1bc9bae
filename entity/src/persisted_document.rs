use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// One trusted document of a list version, by the SHA-256 of its text (`hash`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "persisted_documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub version_id: Uuid,
    /// The list's company (null for a platform list).
    pub company_id: Option<Uuid>,
    /// Lowercase hex SHA-256 of `body`.
    pub hash: String,
    /// The operation's name (the first named operation).
    pub name: Option<String>,
    /// QUERY, MUTATION or SUBSCRIPTION (of the named or only operation).
    pub kind: String,
    /// The canonical form (whitespace and definition order ignored), for the safelist.
    pub canonical: String,
    pub body: String,
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
