//! Turning the credentials of a request into a `TenantContext`: the one place a caller's
//! context is made from what it presented.

use crate::model::{CompanyStatus, UserStatus};
use crate::tokens::{TokenSettings, digest};
use ils_entity::{api_key, company, user};
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
    // A key acts for the person who made it, and never for more than they may do now: a
    // deactivated creator's keys stop working, a demoted creator's keys are narrowed to
    // the creator's current role (and widen again if they are promoted back).
    let creator = tx
        .select::<user::Entity>()
        .filter(user::Column::Id.eq(key.created_by))
        .filter(user::Column::CompanyId.eq(key.company_id))
        .one(tx.conn())
        .await?
        .filter(|u| u.status == UserStatus::Active)
        .ok_or_else(invalid)?;
    let role = effective_key_role(&key.role, &creator.role).ok_or_else(invalid)?;
    #[allow(clippy::disallowed_methods)] // the credential flow: a live API key
    let ctx = TenantContext::for_api_key(
        key.company_id,
        key.id,
        key.created_by,
        vec![role],
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

/// The role an API key acts with: its own, or its creator's current role when that is
/// lower (`None` when either is not a role).
pub fn effective_key_role(key_role: &str, creator_role: &str) -> Option<Role> {
    let (key, creator) = (Role::parse(key_role)?, Role::parse(creator_role)?);
    Some(if rank(creator) < rank(key) {
        creator
    } else {
        key
    })
}

/// Company roles from least to most rights.
fn rank(role: Role) -> u8 {
    match role {
        Role::Staff => 0,
        Role::Manager => 1,
        Role::CompanyAdmin => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_acts_with_the_lower_of_its_role_and_its_creators() {
        let r = |k, c| effective_key_role(k, c);
        assert_eq!(
            r("COMPANY_ADMIN", "COMPANY_ADMIN"),
            Some(Role::CompanyAdmin)
        );
        assert_eq!(r("COMPANY_ADMIN", "MANAGER"), Some(Role::Manager));
        assert_eq!(r("MANAGER", "STAFF"), Some(Role::Staff));
        assert_eq!(r("STAFF", "COMPANY_ADMIN"), Some(Role::Staff));
        assert_eq!(r("STAFF", "PLATFORM_ADMIN"), None);
    }
}
