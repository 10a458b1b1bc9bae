use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// A sign-up waiting for its owner to confirm the email address. It names the company and
/// the user that confirming creates (`company_id`, `user_id`), and is owned by that
/// company before the company exists; the token mailed to the address is stored hashed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sign_up_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub user_id: Uuid,
    pub company_name: String,
    pub company_type: String,
    pub email: String,
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub expires_at: DateTimeUtc,
    pub confirmed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId).with_lookup(Column::TokenHash)
    }
}
