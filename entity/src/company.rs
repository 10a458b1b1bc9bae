use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

// Where a company's account stands (no doc comment: the GraphQL enum has no description).
crate::string_enum!(CompanyStatus {
    Active = "ACTIVE",
    PendingApproval = "PENDING_APPROVAL",
    Rejected = "REJECTED",
});

/// A tenant: an eye-care practice, a lens lab or a supplier.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "companies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// ECP | LAB | SUPPLIER
    pub company_type: String,
    pub status: CompanyStatus,
    pub plan: String,
    pub rejection_reason: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub opening_hours: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::Id).with_platform()
    }
}
