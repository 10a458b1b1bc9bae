//! Role checks against the current state of the database. An access token's role claims
//! can be up to one token lifetime old; a demoted or deactivated user must lose their
//! rights at once, so privileged operations read the acting user's row (one statement, in
//! the operation's own transaction).

use crate::{Actor, AppError, AppResult, Role, TenantContext, Tx};
use ils_entity::user;
use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

const ACTIVE: &str = "ACTIVE";

/// A signed-in company member or API key; returns the acting company.
pub fn require_member(ctx: &TenantContext) -> AppResult<Uuid> {
    if ctx.is_anonymous() {
        return Err(AppError::unauthenticated());
    }
    ctx.company_id()
        .ok_or_else(|| AppError::forbidden("only company members may do this"))
}

/// The acting company, when the actor currently holds `role` in it.
pub async fn require_role(tx: &Tx, ctx: &TenantContext, role: Role) -> AppResult<Uuid> {
    let company = require_member(ctx)?;
    let holds = match ctx.actor() {
        // An API key's role was read from its row when the request authenticated.
        Actor::ApiKey { .. } => ctx.has_role(role),
        Actor::User(id) => {
            let me = current_user(tx, id).await?;
            me.company_id == Some(company) && me.role == role.as_str()
        }
        Actor::Anonymous | Actor::System => false,
    };
    if holds {
        Ok(company)
    } else {
        Err(AppError::forbidden(format!(
            "requires the {} role",
            role.as_str()
        )))
    }
}

/// Passes only a platform admin whose account is still active.
pub async fn require_platform_admin(tx: &Tx, ctx: &TenantContext) -> AppResult<()> {
    let Actor::User(id) = ctx.actor() else {
        return Err(if ctx.is_anonymous() {
            AppError::unauthenticated()
        } else {
            AppError::forbidden("only platform admins may do this")
        });
    };
    if !ctx.is_platform_admin() || !current_user(tx, id).await?.is_platform_admin {
        return Err(AppError::forbidden("only platform admins may do this"));
    }
    Ok(())
}

async fn current_user(tx: &Tx, id: Uuid) -> AppResult<user::Model> {
    tx.select::<user::Entity>()
        .filter(user::Column::Id.eq(id))
        .filter(user::Column::Status.eq(ACTIVE))
        .one(tx.conn())
        .await?
        .ok_or_else(|| AppError::Unauthenticated("this account is not active".into()))
}

/// A company admin (for their own company's rows) or a platform admin (for every
/// company's, where the table's policy lets the platform see them).
pub async fn require_admin_or_platform(tx: &Tx, ctx: &TenantContext) -> AppResult<()> {
    if ctx.is_platform_admin() {
        require_platform_admin(tx, ctx).await
    } else {
        require_role(tx, ctx, Role::CompanyAdmin).await.map(|_| ())
    }
}

/// A person (not an API key) who currently holds `role`: team and key management create
/// people and credentials that outlive any key, so a key may not do them.
pub async fn require_user_role(tx: &Tx, ctx: &TenantContext, role: Role) -> AppResult<Uuid> {
    if matches!(ctx.actor(), Actor::ApiKey { .. }) {
        return Err(AppError::forbidden(
            "API keys cannot manage the team or other keys; sign in as a person",
        ));
    }
    require_role(tx, ctx, role).await
}

/// The acting company, when the actor currently holds one of `roles` in it.
pub async fn require_any_role(tx: &Tx, ctx: &TenantContext, roles: &[Role]) -> AppResult<Uuid> {
    let company = require_member(ctx)?;
    let holds = match ctx.actor() {
        Actor::ApiKey { .. } => roles.iter().any(|r| ctx.has_role(*r)),
        Actor::User(id) => {
            let me = current_user(tx, id).await?;
            me.company_id == Some(company) && roles.iter().any(|r| me.role == r.as_str())
        }
        Actor::Anonymous | Actor::System => false,
    };
    if holds {
        Ok(company)
    } else {
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(AppError::forbidden(format!(
            "requires one of the roles {}",
            names.join(", ")
        )))
    }
}

/// Admins and managers: who may act for the company in trade (connections, catalogs).
pub async fn require_manager(tx: &Tx, ctx: &TenantContext) -> AppResult<Uuid> {
    require_any_role(tx, ctx, &[Role::CompanyAdmin, Role::Manager]).await
}
