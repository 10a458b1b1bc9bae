//! The team: invitations, members, roles. Only company admins manage it, and a company
//! always keeps at least one active admin.

use super::auth::{conflict_on_email, new_user};
use super::scope::{open_acting, open_lookup};
use super::{Session, require_member, require_role, require_user_role, start_session, validate};
use crate::model::UserStatus;
use crate::password;
use crate::tokens::{TokenSettings, digest, random_secret};
use ils_entity::{company, invitation, user};
use ils_kernel::pagination::{Page, PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Db, Role, TenantContext, Tx};
use sea_orm::Condition;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, IntoActiveModel, PaginatorTrait, QueryFilter};
use std::time::Duration;
use uuid::Uuid;

pub const INVITATION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

pub async fn invite(
    db: &Db,
    ctx: &TenantContext,
    email: &str,
    role: Role,
) -> AppResult<(invitation::Model, String)> {
    let email = validate::email(email, "input.email")?;
    let inviter = ctx
        .responsible_user()
        .ok_or_else(AppError::unauthenticated)?;
    let token = random_secret();
    let now = chrono::Utc::now();
    let tx = db.tenant(ctx).await?;
    let company = require_user_role(&tx, ctx, Role::CompanyAdmin).await?;
    // The plan counts active users and open invitations: each may become a user.
    let members = async {
        let users = tx
            .select::<user::Entity>()
            .filter(user::Column::Status.eq(UserStatus::Active))
            .count(tx.conn())
            .await?;
        let open = tx
            .select::<invitation::Entity>()
            .filter(invitation::Column::AcceptedAt.is_null())
            .filter(invitation::Column::RevokedAt.is_null())
            .filter(invitation::Column::ExpiresAt.gt(now))
            .count(tx.conn())
            .await?;
        Ok(users + open)
    };
    ils_common::plan::allow_one_more(&tx, company, ils_common::plan::Counted::Users, members)
        .await?;
    let pending = tx
        .select::<invitation::Entity>()
        .filter(invitation::Column::Email.eq(&email))
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::RevokedAt.is_null())
        .filter(invitation::Column::ExpiresAt.gt(now))
        .count(tx.conn())
        .await?;
    if pending > 0 {
        return Err(AppError::Conflict(
            "this email already has a pending invitation".into(),
        ));
    }
    let inv = tx
        .insert(invitation::ActiveModel {
            id: Set(Uuid::now_v7()),
            company_id: sea_orm::ActiveValue::NotSet,
            email: Set(email),
            role: Set(role.as_str().into()),
            token_hash: Set(digest(&token)),
            invited_by: Set(inviter),
            expires_at: Set(now + INVITATION_TTL),
            accepted_at: Set(None),
            revoked_at: Set(None),
            created_at: Set(now),
        })
        .await?;
    tx.emit(
        &crate::events::UserInvited {
            invitation_id: ils_kernel::id::encode(crate::model::INVITATION, inv.id),
            email: inv.email.clone(),
            role: inv.role.clone(),
        },
        &[],
    )
    .await?;
    ils_kernel::mail::send_later(
        &tx,
        &ils_kernel::mail::Mail {
            to: inv.email.clone(),
            subject: "You are invited to ILS".into(),
            text: format!(
                "You have been invited to join your team on ILS as {}.\n\n\
                 Accept with the acceptInvitation operation and this invitation token:\n\n{token}\n\n\
                 The invitation expires on {}.",
                inv.role,
                inv.expires_at.format("%Y-%m-%d %H:%M UTC")
            ),
            link: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((inv, token))
}

pub async fn revoke_invitation(
    db: &Db,
    ctx: &TenantContext,
    id: Uuid,
) -> AppResult<invitation::Model> {
    let tx = db.tenant(ctx).await?;
    require_user_role(&tx, ctx, Role::CompanyAdmin).await?;
    let inv = find_invitation(&tx, id).await?;
    if inv.accepted_at.is_some() {
        return Err(AppError::Conflict(
            "this invitation was already accepted".into(),
        ));
    }
    let mut model = inv.into_active_model();
    model.revoked_at = Set(Some(chrono::Utc::now()));
    let inv = tx.update(model).await?;
    tx.commit().await?;
    Ok(inv)
}

async fn find_invitation(tx: &Tx, id: Uuid) -> AppResult<invitation::Model> {
    tx.get::<invitation::Entity>(id).await
}

pub struct Acceptance {
    pub token: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
}

/// Accepts an invitation: creates the user in the inviting company and signs them in.
pub async fn accept(db: &Db, tokens: &TokenSettings, input: Acceptance) -> AppResult<Session> {
    let first_name = validate::text(&input.first_name, "input.firstName", 100)?;
    let last_name = validate::text(&input.last_name, "input.lastName", 100)?;
    password::validate(&input.password, "input.password")?;
    let invalid =
        || AppError::bad_input("input.token", "this invitation is invalid or has expired");
    let digest = digest(&input.token);
    let tx = open_lookup(db, &digest).await?;
    let inv = tx
        .select::<invitation::Entity>()
        .filter(invitation::Column::TokenHash.eq(&digest))
        .one(tx.conn())
        .await?
        .ok_or_else(invalid)?;
    tx.commit().await?;
    let password_hash = password::hash(&input.password).await?;

    // Claimed first, so an invitation makes at most one account however often it is sent.
    let user_id = Uuid::now_v7();
    let tx = open_acting(db, Some(inv.company_id), Some(user_id)).await?;
    let now = chrono::Utc::now();
    let claimed = tx
        .update_many::<invitation::Entity>(
            vec![(invitation::Column::AcceptedAt, Expr::value(now))],
            Condition::all()
                .add(invitation::Column::Id.eq(inv.id))
                .add(invitation::Column::AcceptedAt.is_null())
                .add(invitation::Column::RevokedAt.is_null())
                .add(invitation::Column::ExpiresAt.gt(now)),
        )
        .await?;
    if claimed == 0 {
        return Err(invalid());
    }
    let user = tx
        .insert(new_user(
            user_id,
            inv.email.clone(),
            password_hash,
            first_name,
            last_name,
            &inv.role,
        ))
        .await
        .map_err(conflict_on_email)?;
    let company = tx
        .select::<company::Entity>()
        .filter(company::Column::Id.eq(inv.company_id))
        .one(tx.conn())
        .await?;
    tx.emit(
        &crate::events::UserJoined {
            user_id: ils_kernel::id::encode(crate::model::USER, user.id),
            email: user.email.clone(),
        },
        &[],
    )
    .await?;
    let session = start_session(&tx, tokens, user, company, None).await?;
    tx.commit().await?;
    Ok(session)
}

pub async fn users<T: async_graphql::OutputType>(
    db: &Db,
    ctx: &TenantContext,
    page: PageArgs,
    map: impl Fn(user::Model) -> T,
) -> AppResult<Page<T>> {
    require_member(ctx)?;
    let tx = db.read(ctx).await?;
    let conn = paginate(
        tx.conn(),
        tx.select_as::<user::Entity>(user::Column::CompanyId),
        user::Column::Id,
        page,
        |u| u.id,
        map,
    )
    .await?;
    tx.commit().await?;
    Ok(conn)
}

pub async fn invitations<T: async_graphql::OutputType>(
    db: &Db,
    ctx: &TenantContext,
    page: PageArgs,
    map: impl Fn(invitation::Model) -> T,
) -> AppResult<Page<T>> {
    let tx = db.read(ctx).await?;
    require_role(&tx, ctx, Role::CompanyAdmin).await?;
    let conn = paginate(
        tx.conn(),
        tx.select::<invitation::Entity>(),
        invitation::Column::Id,
        page,
        |i| i.id,
        map,
    )
    .await?;
    tx.commit().await?;
    Ok(conn)
}

pub async fn change_role(
    db: &Db,
    ctx: &TenantContext,
    user_id: Uuid,
    role: Role,
) -> AppResult<user::Model> {
    let tx = db.tenant(ctx).await?;
    require_user_role(&tx, ctx, Role::CompanyAdmin).await?;
    let target = find_member(&tx, user_id).await?;
    if target.role == Role::CompanyAdmin.as_str() && role != Role::CompanyAdmin {
        ensure_another_admin(&tx, target.id).await?;
    }
    let mut model = target.into_active_model();
    model.role = Set(role.as_str().into());
    model.updated_at = Set(chrono::Utc::now());
    let user = tx.update(model).await?;
    tx.emit(
        &crate::events::UserRoleChanged {
            user_id: ils_kernel::id::encode(crate::model::USER, user.id),
            role: user.role.clone(),
        },
        &[],
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

pub async fn deactivate(db: &Db, ctx: &TenantContext, user_id: Uuid) -> AppResult<user::Model> {
    let tx = db.tenant(ctx).await?;
    require_user_role(&tx, ctx, Role::CompanyAdmin).await?;
    let target = find_member(&tx, user_id).await?;
    if target.role == Role::CompanyAdmin.as_str() && target.status == UserStatus::Active {
        ensure_another_admin(&tx, target.id).await?;
    }
    let mut model = target.into_active_model();
    model.status = Set(UserStatus::Deactivated);
    model.updated_at = Set(chrono::Utc::now());
    let user = tx.update(model).await?;
    tx.emit(
        &crate::events::UserDeactivated {
            user_id: ils_kernel::id::encode(crate::model::USER, user.id),
        },
        &[],
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

async fn find_member(tx: &Tx, id: Uuid) -> AppResult<user::Model> {
    // Only rows of the acting company: a user's own row of another company (a platform
    // admin) is not a team member.
    let company = tx.scope().company().ok_or(AppError::NotFound)?;
    tx.select::<user::Entity>()
        .filter(user::Column::Id.eq(id))
        .filter(user::Column::CompanyId.eq(company))
        .one(tx.conn())
        .await?
        .ok_or(AppError::NotFound)
}

/// Refuses to demote or deactivate the last active admin. The admins are locked first
/// (on PostgreSQL) so two admins demoting each other at once cannot both succeed.
async fn ensure_another_admin(tx: &Tx, leaving: Uuid) -> AppResult<()> {
    let admins = tx
        .lock_for_update(
            tx.select::<user::Entity>()
                .filter(user::Column::Role.eq(Role::CompanyAdmin.as_str()))
                .filter(user::Column::Status.eq(UserStatus::Active)),
        )
        .all(tx.conn())
        .await?;
    if admins.iter().all(|a| a.id == leaving) {
        return Err(AppError::Conflict(
            "a company must keep at least one active admin".into(),
        ));
    }
    Ok(())
}
