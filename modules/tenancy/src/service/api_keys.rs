//! API keys for partners: the secret is shown once; only its digest is kept.

use super::{require_role, require_user_role, validate};
use crate::tokens::{digest, random_secret};
use ils_entity::api_key;
use ils_kernel::pagination::{Page, PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Db, Role, TenantContext};
use sea_orm::{ActiveValue::Set, IntoActiveModel};
use uuid::Uuid;

/// Every key starts with this, so a leaked one is easy to find in code and logs.
pub const KEY_PREFIX: &str = "ils_";

pub async fn create(
    db: &Db,
    ctx: &TenantContext,
    name: &str,
    role: Role,
    persisted_only: bool,
) -> AppResult<(api_key::Model, String)> {
    let name = validate::text(name, "input.name", 100)?;
    let creator = ctx
        .responsible_user()
        .ok_or_else(AppError::unauthenticated)?;
    let secret = format!("{KEY_PREFIX}{}", random_secret());
    let tx = db.tenant(ctx).await?;
    require_user_role(&tx, ctx, Role::CompanyAdmin).await?;
    let key = tx
        .insert(api_key::ActiveModel {
            id: Set(Uuid::now_v7()),
            company_id: sea_orm::ActiveValue::NotSet,
            name: Set(name),
            role: Set(role.as_str().into()),
            persisted_only: Set(persisted_only),
            key_prefix: Set(secret.chars().take(KEY_PREFIX.len() + 6).collect()),
            key_hash: Set(digest(&secret)),
            created_by: Set(creator),
            created_at: Set(chrono::Utc::now()),
            last_used_at: Set(None),
            revoked_at: Set(None),
        })
        .await?;
    tx.emit(
        &crate::events::ApiKeyCreated {
            api_key_id: ils_kernel::id::encode(crate::model::API_KEY, key.id),
            name: key.name.clone(),
            role: key.role.clone(),
        },
        &[],
    )
    .await?;
    tx.commit().await?;
    Ok((key, secret))
}

pub async fn list<T: async_graphql::OutputType>(
    db: &Db,
    ctx: &TenantContext,
    page: PageArgs,
    map: impl Fn(api_key::Model) -> T,
) -> AppResult<Page<T>> {
    let tx = db.read(ctx).await?;
    require_role(&tx, ctx, Role::CompanyAdmin).await?;
    let conn = paginate(
        tx.conn(),
        tx.select::<api_key::Entity>(),
        api_key::Column::Id,
        page,
        |k| k.id,
        map,
    )
    .await?;
    tx.commit().await?;
    Ok(conn)
}

pub async fn revoke(db: &Db, ctx: &TenantContext, id: Uuid) -> AppResult<api_key::Model> {
    let tx = db.tenant(ctx).await?;
    require_user_role(&tx, ctx, Role::CompanyAdmin).await?;
    let key = tx.get::<api_key::Entity>(id).await?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let mut model = key.into_active_model();
    model.revoked_at = Set(Some(chrono::Utc::now()));
    let key = tx.update(model).await?;
    tx.emit(
        &crate::events::ApiKeyRevoked {
            api_key_id: ils_kernel::id::encode(crate::model::API_KEY, key.id),
        },
        &[],
    )
    .await?;
    tx.commit().await?;
    Ok(key)
}
