//! Turning the credentials of a request into a `TenantContext`: the one place a caller's
//! context is made from what it presented.

use crate::model::CompanyStatus;
use crate::tokens::{TokenSettings, digest};
use ils_entity::{api_key, company};
use ils_kernel::{AppError, AppResult, Db, Role, TenantContext};
use sea_orm::{ActiveValue::Set, ColumnTrait, IntoActiveModel, QueryFilter};

/// A bearer access token: verified without touching the database.
pub fn from_access_token(tokens: &TokenSettings, token: &str) -> AppResult<TenantContext> {
    let claims = tokens.verify_access(token)?;
    #[allow(clippy::disallowed_methods)] // the credential flow: a verified access token
    let ctx = TenantContext::for_user(
        claims.cid,
        claims.sub,
        claims.roles.iter().filter_map(|r| Role::parse(r)).collect(),
        claims.pa,
    );
    Ok(ctx)
}

/// How stale `last_used_at` may get before a request refreshes it (saves a write per call).
const LAST_USED_GRANULARITY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// An API key: looked up by digest; revoked keys and keys of inactive companies fail.
pub async fn from_api_key(db: &Db, secret: &str) -> AppResult<TenantContext> {
    let invalid = || AppError::Unauthenticated("invalid API key".into());
    if !secret.starts_with(super::api_keys::KEY_PREFIX) {
        return Err(invalid());
    }
    let hash = digest(secret);
    let mut tx = super::scope::open_lookup(db, &hash).await?;
    let key = tx
        .select::<api_key::Entity>()
        .filter(api_key::Column::KeyHash.eq(&hash))
        .one(tx.conn())
        .await?
        .filter(|k| k.revoked_at.is_none())
        .ok_or_else(invalid)?;
    super::scope::assume(&mut tx, Some(key.company_id), None).await?;
    let company = tx
        .select::<company::Entity>()
        .filter(company::Column::Id.eq(key.company_id))
        .one(tx.conn())
        .await?
        .ok_or_else(invalid)?;
    if company.status != CompanyStatus::Active {
        return Err(invalid());
    }
    #[allow(clippy::disallowed_methods)] // the credential flow: a live API key
    let ctx = TenantContext::for_api_key(
        key.company_id,
        key.id,
        key.created_by,
        Role::parse(&key.role).into_iter().collect(),
        key.persisted_only,
    );
    let now = chrono::Utc::now();
    if key
        .last_used_at
        .is_none_or(|t| now - t > LAST_USED_GRANULARITY)
    {
        let mut model = key.into_active_model();
        model.last_used_at = Set(Some(now));
        tx.update(model).await?;
    }
    tx.commit().await?;
    Ok(ctx)
}
