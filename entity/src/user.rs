use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

crate::string_enum!(
    /// Whether a user may log in.
    UserStatus {
        /// The user can log in.
        Active = "ACTIVE",
        /// A company admin deactivated the user: they can no longer log in or refresh a
        /// session.
        Deactivated = "DEACTIVATED",
    }
);

/// A person who logs in. A company user belongs to exactly one company (its membership:
/// `company_id` + `role`); a platform admin belongs to none (`company_id` is null).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Option<Uuid>,
    #[sea_orm(unique)]
    pub email: String,
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    /// COMPANY_ADMIN | MANAGER | STAFF, or PLATFORM_ADMIN for the operator
    pub role: String,
    pub status: UserStatus,
    pub is_platform_admin: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::company::Entity",
        from = "Column::CompanyId",
        to = "super::company::Column::Id"
    )]
    Company,
}

impl Related<super::company::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Company.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId)
            .with_own_rows(Column::Id)
            .with_lookup(Column::Email)
    }
}
