//! Sign-up, log-in, session rotation and log-out.

use super::scope::{assume, open_acting, open_lookup};
use super::{Session, load_user_and_company, roles_of, start_session, validate};
use crate::model::{CompanyStatus, CompanyType, UserStatus};
use crate::password;
use crate::tokens::{TokenSettings, digest};
use ils_entity::{api_key, company, refresh_token, user};
use ils_kernel::throttle::Throttle;
use ils_kernel::{Actor, AppError, AppResult, ClientInfo, Db, Role, TenantContext, Tx};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, QueryFilter};
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
    let tx = open_acting(db, Some(company_id), Some(user_id)).await?;
    let company = tx
        .insert(company::ActiveModel {
            id: Set(company_id),
            name: Set(company_name),
            company_type: Set(input.company_type.as_str().into()),
            status: Set(crate::model::initial_status(input.company_type)),
            plan: Set(crate::model::initial_plan(input.company_type)
                .as_str()
                .into()),
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
        .insert(new_user(
            user_id,
            email,
            hash,
            first_name,
            last_name,
            Role::CompanyAdmin.as_str(),
        ))
        .await
        .map_err(conflict_on_email)?;
    let session = start_session(&tx, tokens, user, Some(company), None).await?;
    tx.commit().await?;
    Ok(session)
}

/// A new active company user; the guard sets `company_id` from the transaction's scope.
pub(crate) fn new_user(
    id: Uuid,
    email: String,
    password_hash: String,
    first: String,
    last: String,
    role: &str,
) -> user::ActiveModel {
    let now = chrono::Utc::now();
    user::ActiveModel {
        id: Set(id),
        company_id: sea_orm::ActiveValue::NotSet,
        email: Set(email),
        password_hash: Set(password_hash),
        first_name: Set(first),
        last_name: Set(last),
        role: Set(role.into()),
        status: Set(UserStatus::Active),
        is_platform_admin: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
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

/// Attempts allowed per email and per client address in one window; past them log-in is
/// refused until the window ends.
pub const MAX_ATTEMPTS_PER_EMAIL: u64 = 5;
pub const MAX_ATTEMPTS_PER_ADDRESS: u64 = 30;
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(15 * 60);

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
    // Counted before the password is checked, so a burst of parallel guesses cannot all
    // slip in under the limit; a success gives its attempt back.
    let by_email = throttle.hit(&email_key, ATTEMPT_WINDOW).await;
    let by_address = throttle.hit(&address_key, ATTEMPT_WINDOW).await;
    for (count, max, key) in [
        (by_email, MAX_ATTEMPTS_PER_EMAIL, &email_key),
        (by_address, MAX_ATTEMPTS_PER_ADDRESS, &address_key),
    ] {
        if count > max {
            return Err(AppError::RateLimited {
                retry_after_secs: throttle.count(key).await.1.max(1),
            });
        }
    }

    // The hash is checked outside any transaction: it is slow on purpose.
    let tx = open_lookup(db, &email).await?;
    let found = tx
        .select::<user::Entity>()
        .filter(user::Column::Email.eq(&email))
        .one(tx.conn())
        .await?;
    tx.commit().await?;
    let verified =
        password::verify(password, found.as_ref().map(|u| u.password_hash.as_str())).await;
    let user = match found {
        Some(u) if verified && u.status == UserStatus::Active => u,
        _ => return Err(AppError::Unauthenticated("wrong email or password".into())),
    };
    throttle.clear(&email_key).await;
    throttle.forgive(&address_key).await;

    let tx = open_acting(db, user.company_id, Some(user.id)).await?;
    let (user, company) = load_user_and_company(&tx, user.id).await?;
    if company
        .as_ref()
        .is_some_and(|c| c.status == CompanyStatus::Rejected)
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
    let token = find_refresh_token(db, &hash)
        .await?
        .ok_or_else(invalid_refresh)?;

    // Acting as the token's user, the claim is the first statement: of two concurrent uses
    // exactly one matches `used_at IS NULL`.
    let mut tx = open_acting(db, None, Some(token.user_id)).await?;
    let now = chrono::Utc::now();
    let claimed = tx
        .update_many::<refresh_token::Entity>(
            vec![(refresh_token::Column::UsedAt, Expr::value(now))],
            Condition::all()
                .add(refresh_token::Column::Id.eq(token.id))
                .add(refresh_token::Column::UsedAt.is_null())
                .add(refresh_token::Column::RevokedAt.is_null())
                .add(refresh_token::Column::ExpiresAt.gt(now)),
        )
        .await?;
    if claimed == 0 {
        let current = tx
            .select::<refresh_token::Entity>()
            .filter(refresh_token::Column::Id.eq(token.id))
            .one(tx.conn())
            .await?;
        if current.is_some_and(|t| t.used_at.is_some() && t.revoked_at.is_none()) {
            revoke_family(&tx, token.family_id).await?;
            tx.commit().await?;
            tracing::warn!(family = %token.family_id, "refresh token reused; family revoked");
        }
        return Err(invalid_refresh());
    }
    let user = tx
        .select::<user::Entity>()
        .filter(user::Column::Id.eq(token.user_id))
        .one(tx.conn())
        .await?
        .ok_or_else(invalid_refresh)?;
    assume(&mut tx, user.company_id, Some(user.id)).await?;
    let (user, company) = load_user_and_company(&tx, user.id)
        .await
        .map_err(|_| invalid_refresh())?;
    if company
        .as_ref()
        .is_some_and(|c| c.status == CompanyStatus::Rejected)
    {
        return Err(invalid_refresh());
    }
    let session = start_session(&tx, tokens, user, company, Some(token.family_id)).await?;
    tx.commit().await?;
    Ok(session)
}

async fn find_refresh_token(db: &Db, hash: &str) -> AppResult<Option<refresh_token::Model>> {
    let tx = open_lookup(db, hash).await?;
    let token = tx
        .select::<refresh_token::Entity>()
        .filter(refresh_token::Column::TokenHash.eq(hash))
        .one(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(token)
}

fn invalid_refresh() -> AppError {
    AppError::Unauthenticated("invalid refresh token".into())
}

async fn revoke_family(tx: &Tx, family: Uuid) -> AppResult<u64> {
    tx.update_many::<refresh_token::Entity>(
        vec![(
            refresh_token::Column::RevokedAt,
            Expr::value(chrono::Utc::now()),
        )],
        Condition::all()
            .add(refresh_token::Column::FamilyId.eq(family))
            .add(refresh_token::Column::RevokedAt.is_null()),
    )
    .await
}

/// Ends the session the refresh token belongs to. Unknown tokens are not an error: the
/// caller wanted that session gone, and it is.
pub async fn log_out(db: &Db, refresh_token: &str) -> AppResult<bool> {
    if let Some(token) = find_refresh_token(db, &digest(refresh_token)).await? {
        let tx = open_acting(db, None, Some(token.user_id)).await?;
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
    tx.update_many::<refresh_token::Entity>(
        vec![(
            refresh_token::Column::RevokedAt,
            Expr::value(chrono::Utc::now()),
        )],
        Condition::all()
            .add(refresh_token::Column::UserId.eq(user))
            .add(refresh_token::Column::RevokedAt.is_null()),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The caller: a signed-in user with their company and roles, or an API key with its
/// company and roles. Anonymous callers are refused (UNAUTHENTICATED).
pub async fn me(db: &Db, ctx: &TenantContext) -> AppResult<Caller> {
    let tx = db.read(ctx).await?;
    let caller = match ctx.actor() {
        Actor::User(user_id) => {
            let (user, company) = load_user_and_company(&tx, user_id).await?;
            Caller {
                roles: roles_of(&user),
                user: Some(user),
                api_key: None,
                company,
            }
        }
        Actor::ApiKey { id, .. } => {
            let key = tx.get::<api_key::Entity>(id).await?;
            let company = match ctx.company_id() {
                Some(c) => Some(tx.get::<company::Entity>(c).await?),
                None => None,
            };
            Caller {
                roles: ctx.roles().to_vec(),
                user: None,
                api_key: Some(key),
                company,
            }
        }
        Actor::Anonymous | Actor::System => return Err(AppError::unauthenticated()),
    };
    tx.commit().await?;
    Ok(caller)
}

/// Who is calling: a signed-in user (with their company, if any) or an API key (with its
/// company), and the roles the request acts with.
pub struct Caller {
    pub user: Option<user::Model>,
    pub api_key: Option<api_key::Model>,
    pub company: Option<company::Model>,
    pub roles: Vec<Role>,
}
