//! Tenancy services: plain async functions over the tenant guard. Resolvers call these
//! and do nothing else.

pub mod api_keys;
pub mod auth;
pub mod company;
pub mod credentials;
pub mod onboarding;
pub mod plans;
pub mod platform;
pub mod prune;
mod scope;
pub mod team;
pub mod usage;
pub use ils_common::validate;

use crate::model::{PLATFORM_ADMIN_ROLE, UserStatus};
use crate::tokens::{TokenSettings, digest, random_secret};
use ils_entity::{company as company_e, refresh_token, user};
use ils_kernel::{AppError, AppResult, Role, Tx};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter};
use uuid::Uuid;

/// A signed-in session as handed to the client.
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub user: user::Model,
    pub company: Option<company_e::Model>,
}

pub fn roles_of(user: &user::Model) -> Vec<Role> {
    Role::parse(&user.role).into_iter().collect()
}

/// Issues an access token and a new refresh token (in `family`, or a new family) for
/// `user`. The transaction's scope must already be that user's.
pub(crate) async fn start_session(
    tx: &Tx,
    tokens: &TokenSettings,
    user: user::Model,
    company: Option<company_e::Model>,
    family: Option<Uuid>,
) -> AppResult<Session> {
    let refresh = random_secret();
    let now = chrono::Utc::now();
    tx.insert(refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user.id),
        family_id: Set(family.unwrap_or_else(Uuid::now_v7)),
        token_hash: Set(digest(&refresh)),
        expires_at: Set(now + tokens.refresh_ttl),
        used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
    })
    .await?;
    let platform_admin = user.is_platform_admin && user.role == PLATFORM_ADMIN_ROLE;
    let access = tokens.issue_access(user.id, user.company_id, &roles_of(&user), platform_admin)?;
    Ok(Session {
        access_token: access,
        refresh_token: refresh,
        expires_in: tokens.access_ttl.as_secs() as i64,
        user,
        company,
    })
}

/// The calling user's own row and company, in one statement.
pub(crate) async fn load_user_and_company(
    tx: &Tx,
    user_id: Uuid,
) -> AppResult<(user::Model, Option<company_e::Model>)> {
    tx.select_also::<user::Entity, company_e::Entity>()
        .filter(user::Column::Id.eq(user_id))
        .one(tx.conn())
        .await?
        .filter(|(u, _)| u.status == UserStatus::Active)
        .ok_or_else(|| AppError::Unauthenticated("this account is not active".into()))
}

pub use ils_kernel::authz::{
    require_member, require_platform_admin, require_role, require_user_role,
};
