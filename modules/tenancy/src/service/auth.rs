//! Sign-up, log-in, session rotation and log-out.

use super::scope::{assume, open_acting, open_lookup};
use super::{Session, load_user_and_company, roles_of, start_session, validate};
use crate::model::{CompanyStatus, CompanyType, UserStatus};
use crate::password;
use crate::tokens::{TokenSettings, digest};
use ils_entity::{api_key, company, refresh_token, sign_up_request, user};
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

/// How many sign-ups one client address may attempt per `SIGN_UP_WINDOW`
/// (`ILS_SIGN_UPS_PER_ADDRESS`), put in the schema's data by the server.
#[derive(Clone, Copy, Debug)]
pub struct SignUpLimit(pub u64);

impl Default for SignUpLimit {
    fn default() -> Self {
        SignUpLimit(10)
    }
}

pub const SIGN_UP_WINDOW: Duration = Duration::from_secs(60 * 60);

/// Counts a sign-up attempt against the client address (`limit` per hour), before
/// anything else: past the limit, RATE_LIMITED. A burst of sign-ups (which also tells
/// which emails have accounts) is slowed down. The seeding and benchmark commands create
/// companies without it.
pub async fn count_sign_up(
    throttle: &dyn Throttle,
    client: &ClientInfo,
    limit: SignUpLimit,
) -> AppResult<()> {
    let address = client.address.as_deref().unwrap_or("unknown");
    let key = format!("signup:addr:{}", digest(address));
    if throttle.hit(&key, SIGN_UP_WINDOW).await > limit.0 {
        return Err(rate_limited(throttle.count(&key).await.1));
    }
    Ok(())
}

/// How long a sign-up's confirmation token works.
pub const SIGN_UP_TTL: chrono::Duration = chrono::Duration::hours(24);

/// What `signUp` answers, the same whether or not the address already has an account.
pub struct SignUpRequested {
    /// The address the mail went to (as given, trimmed).
    pub email: String,
    /// Seconds a confirmation token works.
    pub expires_in: i64,
}

/// Asks the owner of the email address to confirm a sign-up, and answers alike whether or
/// not the address already has an account: a new address gets a confirmation token
/// (`confirm_sign_up` creates the company), an address with an account gets a notice that
/// someone tried to sign up with it. Both paths validate, hash the password, look the
/// address up and write one transaction (a new address's also stores the request), so
/// the answer is the same and its time nearly so; only the mailbox learns which.
pub async fn request_sign_up(db: &Db, input: SignUp) -> AppResult<SignUpRequested> {
    let NewCompany {
        company_id,
        user_id,
        company_name,
        company_type,
        email,
        password_hash: hash,
        first_name,
        last_name,
    } = NewCompany::checked(input).await?;

    let tx = open_lookup(db, &email).await?;
    let taken = tx
        .select::<user::Entity>()
        .filter(user::Column::Email.eq(&email))
        .one(tx.conn())
        .await?
        .is_some();
    tx.commit().await?;

    // The request belongs to the company its confirmation creates; the mail job too.
    let now = chrono::Utc::now();
    let expires_at = now + SIGN_UP_TTL;
    let tx = open_acting(db, Some(company_id), None).await?;
    let mail = if taken {
        ils_kernel::mail::Mail {
            to: email.clone(),
            subject: "Someone tried to sign up to ILS with your address".into(),
            text: "Someone asked to sign up a new company on ILS with this email address, \
                   which already has an account. Nothing was created.\n\n\
                   If it was you, log in with your password instead (the logIn operation). \
                   If it was not you, you need do nothing."
                .into(),
            link: None,
        }
    } else {
        let token = crate::tokens::random_secret();
        tx.insert(sign_up_request::ActiveModel {
            id: Set(Uuid::now_v7()),
            company_id: sea_orm::ActiveValue::NotSet,
            user_id: Set(user_id),
            company_name: Set(company_name.clone()),
            company_type: Set(company_type.as_str().into()),
            email: Set(email.clone()),
            password_hash: Set(hash),
            first_name: Set(first_name),
            last_name: Set(last_name),
            token_hash: Set(digest(&token)),
            expires_at: Set(expires_at),
            confirmed_at: Set(None),
            created_at: Set(now),
        })
        .await?;
        ils_kernel::mail::Mail {
            to: email.clone(),
            subject: "Confirm your ILS sign-up".into(),
            text: format!(
                "Someone (we hope you) asked to sign up {company_name} on ILS with this email \
                 address.\n\n\
                 Confirm with the confirmSignUp operation and this sign-up token:\n\n{token}\n\n\
                 The token expires on {}. If it was not you, ignore this mail: nothing is \
                 created until the token is used.",
                expires_at.format("%Y-%m-%d %H:%M UTC")
            ),
            link: None,
        }
    };
    ils_kernel::mail::send_later(&tx, &mail).await?;
    tx.commit().await?;
    Ok(SignUpRequested {
        email,
        expires_in: SIGN_UP_TTL.num_seconds(),
    })
}

/// Confirms a sign-up with the token mailed to its address: creates the company and its
/// first admin (once, however often the token is sent) and signs the admin in.
pub async fn confirm_sign_up(db: &Db, tokens: &TokenSettings, token: &str) -> AppResult<Session> {
    let invalid = || {
        AppError::bad_input(
            "input.token",
            "this sign-up token is invalid or has expired",
        )
    };
    let hash = digest(token);
    let tx = open_lookup(db, &hash).await?;
    let request = tx
        .select::<sign_up_request::Entity>()
        .filter(sign_up_request::Column::TokenHash.eq(&hash))
        .one(tx.conn())
        .await?
        .ok_or_else(invalid)?;
    tx.commit().await?;
    let company_type = CompanyType::parse(&request.company_type).ok_or_else(|| {
        AppError::internal(format!("sign-up request of type {}", request.company_type))
    })?;

    let tx = open_acting(db, Some(request.company_id), Some(request.user_id)).await?;
    let now = chrono::Utc::now();
    // Claimed first, so a token makes at most one company.
    let claimed = tx
        .update_many::<sign_up_request::Entity>(
            vec![(sign_up_request::Column::ConfirmedAt, Expr::value(now))],
            Condition::all()
                .add(sign_up_request::Column::Id.eq(request.id))
                .add(sign_up_request::Column::ConfirmedAt.is_null())
                .add(sign_up_request::Column::ExpiresAt.gt(now)),
        )
        .await?;
    if claimed == 0 {
        return Err(invalid());
    }
    let session = create_company(
        &tx,
        tokens,
        NewCompany {
            company_id: request.company_id,
            user_id: request.user_id,
            company_name: request.company_name,
            company_type,
            email: request.email,
            password_hash: request.password_hash,
            first_name: request.first_name,
            last_name: request.last_name,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(session)
}

/// Creates a company and its first admin at once, without a confirmation mail: for the
/// operator's own tools (demo data, the benchmark's seeding), never for the API.
pub async fn register(db: &Db, tokens: &TokenSettings, input: SignUp) -> AppResult<Session> {
    let new = NewCompany::checked(input).await?;
    let tx = open_acting(db, Some(new.company_id), Some(new.user_id)).await?;
    let session = create_company(&tx, tokens, new).await?;
    tx.commit().await?;
    Ok(session)
}

impl NewCompany {
    /// The sign-up's fields checked (BAD_USER_INPUT naming the first bad one), the
    /// password hashed, and new IDs for the company and its admin.
    async fn checked(input: SignUp) -> AppResult<NewCompany> {
        let company_name = validate::text(&input.company_name, "input.companyName", 200)?;
        let email = validate::email(&input.email, "input.email")?;
        let first_name = validate::text(&input.first_name, "input.firstName", 100)?;
        let last_name = validate::text(&input.last_name, "input.lastName", 100)?;
        password::validate(&input.password, "input.password")?;
        Ok(NewCompany {
            company_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            company_name,
            company_type: input.company_type,
            email,
            password_hash: password::hash(&input.password).await?,
            first_name,
            last_name,
        })
    }
}

/// A company about to be created with its first admin, from validated input.
struct NewCompany {
    company_id: Uuid,
    user_id: Uuid,
    company_name: String,
    company_type: CompanyType,
    email: String,
    password_hash: String,
    first_name: String,
    last_name: String,
}

/// Inserts the company, its first user with the COMPANY_ADMIN role, and a session, in `tx`
/// (which acts for that company and user).
async fn create_company(tx: &Tx, tokens: &TokenSettings, new: NewCompany) -> AppResult<Session> {
    let now = chrono::Utc::now();
    let company = tx
        .insert(company::ActiveModel {
            id: Set(new.company_id),
            name: Set(new.company_name),
            company_type: Set(new.company_type.as_str().into()),
            status: Set(crate::model::initial_status(new.company_type)),
            plan: Set(crate::model::initial_plan(new.company_type).as_str().into()),
            rejection_reason: Set(None),
            address: Set(None),
            phone: Set(None),
            website: Set(None),
            opening_hours: Set(None),
            requested_plan: Set(None),
            rate_overrides: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .await?;
    let user = tx
        .insert(new_user(
            new.user_id,
            new.email,
            new.password_hash,
            new.first_name,
            new.last_name,
            Role::CompanyAdmin.as_str(),
        ))
        .await
        .map_err(conflict_on_email)?;
    start_session(tx, tokens, user, Some(company), None).await
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

/// Log-in throttling. An email alone is never locked: a stranger who types a colleague's
/// address five times must not lock the colleague out. Attempts are counted per (email,
/// client address) pair, where the first `FREE_ATTEMPTS` failures cost nothing and every
/// further attempt must wait `FIRST_DELAY`, then twice that, and so on up to `MAX_DELAY`
/// (RATE_LIMITED with `retryAfter`) while the owner, from any other address, logs in as
/// usual. A client address has a generous cap of its own over all emails, checked first.
/// Every key is a SHA-256 digest (of the address, or of the normalised email with the
/// address), so what a caller types never becomes a key of its size in Redis.
pub const FREE_ATTEMPTS: u64 = 5;
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// A pair's failures are forgotten this long after its first one (or at a success).
pub const PAIR_WINDOW: Duration = Duration::from_secs(60 * 60);
pub const MAX_ATTEMPTS_PER_ADDRESS: u64 = 100;
pub const ADDRESS_WINDOW: Duration = Duration::from_secs(15 * 60);

/// How long the pair must wait before its attempt number `attempt` (counting from 1):
/// nothing for the free attempts, then `FIRST_DELAY`, doubling, at most `MAX_DELAY`.
pub fn delay_before(attempt: u64) -> Duration {
    if attempt <= FREE_ATTEMPTS {
        return Duration::ZERO;
    }
    let doublings = (attempt - FREE_ATTEMPTS - 1).min(32) as u32;
    FIRST_DELAY
        .saturating_mul(2u32.saturating_pow(doublings))
        .min(MAX_DELAY)
}

/// The throttle keys of an (email, client address) pair: its failure count and its wait.
struct LogInKeys {
    failures: String,
    wait: String,
}

impl LogInKeys {
    fn new(email: &str, address: &str) -> LogInKeys {
        let pair = digest(&format!("{email}\n{address}"));
        LogInKeys {
            failures: format!("login:fail:{pair}"),
            wait: format!("login:wait:{pair}"),
        }
    }
}

fn rate_limited(retry_after_secs: u64) -> AppError {
    AppError::RateLimited {
        retry_after_secs: retry_after_secs.max(1),
    }
}

pub async fn log_in(
    db: &Db,
    tokens: &TokenSettings,
    throttle: &dyn Throttle,
    client: &ClientInfo,
    email: &str,
    password: &str,
) -> AppResult<Session> {
    let address = client.address.as_deref().unwrap_or("unknown");
    let address_key = format!("login:addr:{}", digest(address));
    // The address first, before anything is keyed by what the caller typed. Counted before
    // the password is checked, so a burst of parallel guesses cannot all slip in under the
    // limit; a success gives its attempt back.
    if throttle.hit(&address_key, ADDRESS_WINDOW).await > MAX_ATTEMPTS_PER_ADDRESS {
        return Err(rate_limited(throttle.count(&address_key).await.1));
    }
    // Then the email's shape (at most 254 characters), before it names any key.
    let email = validate::email(email, "input.email")?;
    let keys = LogInKeys::new(&email, address);
    let attempt = throttle.hit(&keys.failures, PAIR_WINDOW).await;
    let delay = delay_before(attempt);
    // Past the free attempts, each attempt takes the pair's turn for `delay`; a second
    // attempt within it (a retry too soon, or a parallel guess) is refused and not counted.
    if !delay.is_zero() && throttle.hit(&keys.wait, delay).await > 1 {
        throttle.forgive(&keys.failures).await;
        return Err(rate_limited(throttle.count(&keys.wait).await.1));
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
    throttle.clear(&keys.failures).await;
    throttle.clear(&keys.wait).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_after_the_free_attempts_up_to_the_maximum() {
        for attempt in 1..=FREE_ATTEMPTS {
            assert_eq!(delay_before(attempt), Duration::ZERO, "{attempt}");
        }
        let secs = |a| delay_before(a).as_secs();
        assert_eq!(
            (6..=11).map(secs).collect::<Vec<_>>(),
            vec![1, 2, 4, 8, 16, 32]
        );
        assert_eq!(delay_before(16), MAX_DELAY);
        assert_eq!(delay_before(u64::MAX), MAX_DELAY);
    }

    #[test]
    fn throttle_keys_are_digests_of_bounded_size() {
        let long = format!("{}@example.com", "a".repeat(200_000));
        let keys = LogInKeys::new(&long, "203.0.113.7");
        for k in [&keys.failures, &keys.wait] {
            assert!(k.len() < 80, "{k}");
            assert!(!k.contains("aaaa") && !k.contains("203.0"), "{k}");
        }
        // The same email from another address is another pair.
        assert_ne!(
            LogInKeys::new("a@b.example", "203.0.113.7").failures,
            LogInKeys::new("a@b.example", "203.0.113.8").failures
        );
    }
}
