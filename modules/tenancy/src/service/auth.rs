//! Sign-up, log-in, session rotation and log-out.

use super::{Session, load_user_and_company, start_session, validate};
use crate::model::{CompanyType, UserStatus};
use crate::password;
use crate::tokens::{TokenSettings, digest};
use ils_entity::{company, refresh_token, user};
use ils_kernel::guard::Scope;
use ils_kernel::throttle::Throttle;
use ils_kernel::{AppError, AppResult, ClientInfo, Db, Role, TenantContext};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter};
use std::time::Duration;
use uuid::Uuid;

pub struct SignUp {
    pub company_name: String,
    pub company_type: CompanyType,
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
}

/// Creates a company, its first user and that user's COMPANY_ADMIN membership in one
/// transaction, and signs the user in.
pub async fn sign_up(db: &Db, tokens: &TokenSettings, input: SignUp) -> AppResult<Session> {
    let company_name = validate::text(&input.company_name, "input.companyName", 200)?;
    let email = validate::email(&input.email, "input.email")?;
    let first_name = validate::text(&input.first_name, "input.firstName", 100)?;
    let last_name = validate::text(&input.last_name, "input.lastName", 100)?;
    password::validate(&input.password, "input.password")?;
    let hash = password::hash(&input.password).await?;

    let (company_id, user_id) = (Uuid::now_v7(), Uuid::now_v7());
    let now = chrono::Utc::now();
    let tx = db
        .open(Scope::acting(Some(company_id), Some(user_id)))
        .await?;
    let company = tx
        .insert(company::ActiveModel {
            id: Set(company_id),
            name: Set(company_name),
            company_type: Set(input.company_type.as_str().into()),
            status: Set(input.company_type.initial_status().as_str().into()),
            plan: Set(input.company_type.initial_plan().as_str().into()),
            rejection_reason: Set(None),
            address: Set(None),
            phone: Set(None),
            website: Set(None),
            opening_hours: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .await?;
    let user = tx
        .insert(user::ActiveModel {
            id: Set(user_id),
            company_id: Set(Some(company_id)),
            email: Set(email),
            password_hash: Set(hash),
            first_name: Set(first_name),
            last_name: Set(last_name),
            role: Set(Role::CompanyAdmin.as_str().into()),
            status: Set(UserStatus::Active.as_str().into()),
            is_platform_admin: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .await
        .map_err(conflict_on_email)?;
    let session = start_session(&tx, tokens, user, Some(company), None).await?;
    tx.commit().await?;
    Ok(session)
}

pub(crate) fn conflict_on_email(e: AppError) -> AppError {
    // The unique index on users.email sees every tenant's rows, even where the guard
    // and row-level security hide them.
    match e {
        AppError::Conflict(_) => {
            AppError::Conflict("an account with this email already exists".into())
        }
        other => other,
    }
}

/// Failures allowed per email and per client address before log-in is refused for the
/// rest of the window.
pub const MAX_FAILURES_PER_EMAIL: u64 = 5;
pub const MAX_FAILURES_PER_ADDRESS: u64 = 30;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

pub async fn log_in(
    db: &Db,
    tokens: &TokenSettings,
    throttle: &dyn Throttle,
    client: &ClientInfo,
    email: &str,
    password: &str,
) -> AppResult<Session> {
    let email = email.trim().to_lowercase();
    let email_key = format!("login:email:{email}");
    let address_key = format!(
        "login:addr:{}",
        client.address.as_deref().unwrap_or("unknown")
    );
    for (key, max) in [
        (&email_key, MAX_FAILURES_PER_EMAIL),
        (&address_key, MAX_FAILURES_PER_ADDRESS),
    ] {
        let (count, retry) = throttle.count(key).await;
        if count >= max {
            return Err(AppError::RateLimited {
                retry_after_secs: retry,
            });
        }
    }

    let mut tx = db.open(Scope::lookup(email.clone())).await?;
    let found = tx
        .select::<user::Entity>()
        .filter(user::Column::Email.eq(&email))
        .one(tx.conn())
        .await?;
    let verified =
        password::verify(password, found.as_ref().map(|u| u.password_hash.as_str())).await;
    let user = match found {
        Some(u) if verified && u.status == UserStatus::Active.as_str() => u,
        _ => {
            throttle.hit(&email_key, FAILURE_WINDOW).await;
            throttle.hit(&address_key, FAILURE_WINDOW).await;
            return Err(AppError::Unauthenticated("wrong email or password".into()));
        }
    };
    throttle.clear(&email_key).await;

    tx.assume(user.company_id, Some(user.id)).await?;
    let (user, company) = load_user_and_company(&tx, user.id).await?;
    if company
        .as_ref()
        .is_some_and(|c| c.status == crate::model::CompanyStatus::Rejected.as_str())
    {
        return Err(AppError::forbidden(
            "this company's registration was rejected",
        ));
    }
    let session = start_session(&tx, tokens, user, company, None).await?;
    tx.commit().await?;
    Ok(session)
}

/// Rotates a refresh token. Presenting one that was already used (a stolen copy, or the
/// legitimate owner after a thief) revokes its whole family.
pub async fn refresh(db: &Db, tokens: &TokenSettings, refresh_token: &str) -> AppResult<Session> {
    let hash = digest(refresh_token);
    let mut tx = db.open(Scope::lookup(hash.clone())).await?;
    let token = tx
        .select::<refresh_token::Entity>()
        .filter(refresh_token::Column::TokenHash.eq(&hash))
        .one(tx.conn())
        .await?
        .ok_or_else(invalid_refresh)?;
    tx.assume(None, Some(token.user_id)).await?;
    let now = chrono::Utc::now();
    if token.revoked_at.is_some() || token.expires_at <= now {
        return Err(invalid_refresh());
    }
    // Claim the token with a conditional update, so two concurrent uses cannot both win.
    let claimed = tx
        .update_many::<refresh_token::Entity>()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(token.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(tx.conn())
        .await?;
    if claimed.rows_affected == 0 {
        revoke_family(&tx, token.family_id).await?;
        tx.commit().await?;
        tracing::warn!(family = %token.family_id, "refresh token reused; family revoked");
        return Err(invalid_refresh());
    }
    let user = tx
        .select::<user::Entity>()
        .filter(user::Column::Id.eq(token.user_id))
        .one(tx.conn())
        .await?
        .ok_or_else(invalid_refresh)?;
    tx.assume(user.company_id, Some(user.id)).await?;
    let (user, company) = load_user_and_company(&tx, user.id).await?;
    let session = start_session(&tx, tokens, user, company, Some(token.family_id)).await?;
    tx.commit().await?;
    Ok(session)
}

fn invalid_refresh() -> AppError {
    AppError::Unauthenticated("invalid refresh token".into())
}

async fn revoke_family(tx: &ils_kernel::Tx, family: Uuid) -> AppResult<()> {
    tx.update_many::<refresh_token::Entity>()
        .col_expr(
            refresh_token::Column::RevokedAt,
            Expr::value(chrono::Utc::now()),
        )
        .filter(refresh_token::Column::FamilyId.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// Ends the session the refresh token belongs to. Unknown tokens are not an error: the
/// caller wanted that session gone, and it is.
pub async fn log_out(db: &Db, refresh_token: &str) -> AppResult<bool> {
    let hash = digest(refresh_token);
    let mut tx = db.open(Scope::lookup(hash.clone())).await?;
    let token = tx
        .select::<refresh_token::Entity>()
        .filter(refresh_token::Column::TokenHash.eq(&hash))
        .one(tx.conn())
        .await?;
    if let Some(token) = token {
        tx.assume(None, Some(token.user_id)).await?;
        revoke_family(&tx, token.family_id).await?;
        tx.commit().await?;
    }
    Ok(true)
}

/// Revokes every refresh token of the calling user. Access tokens already issued stay
/// valid until they expire (at most the access-token lifetime).
pub async fn log_out_everywhere(db: &Db, ctx: &TenantContext) -> AppResult<bool> {
    let user = ctx.user_id().ok_or_else(AppError::unauthenticated)?;
    let tx = db.tenant(ctx).await?;
    tx.update_many::<refresh_token::Entity>()
        .col_expr(
            refresh_token::Column::RevokedAt,
            Expr::value(chrono::Utc::now()),
        )
        .filter(refresh_token::Column::UserId.eq(user))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// The signed-in user, their company and roles; `None` for anonymous callers and API keys.
pub async fn me(
    db: &Db,
    ctx: &TenantContext,
) -> AppResult<Option<(user::Model, Option<company::Model>)>> {
    let Some(user_id) = ctx.user_id() else {
        return Ok(None);
    };
    let tx = db.tenant(ctx).await?;
    let found = load_user_and_company(&tx, user_id).await?;
    tx.commit().await?;
    Ok(Some(found))
}
