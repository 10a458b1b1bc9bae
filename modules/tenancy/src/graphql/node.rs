//! Resolving this module's rows by global ID, through the guard.

use super::types::{API_KEY, ApiKey, COMPANY, Company, INVITATION, Invitation, USER, User};
use ils_entity::{api_key, company, invitation, user};
use ils_kernel::{AppResult, Db, Guarded, Role, TenantContext, Tx};
use sea_orm::{ColumnTrait, QueryFilter};
use std::collections::HashMap;
use uuid::Uuid;

pub enum TenancyNode {
    User(User),
    Company(Company),
    Invitation(Invitation),
    ApiKey(ApiKey),
}

pub const TYPES: [&str; 4] = [USER, COMPANY, INVITATION, API_KEY];

/// The rows named by global IDs (type name and row id), in the order asked: `None` where
/// a row does not exist or is not visible to the caller (indistinguishable by design).
/// One transaction, and one query per type asked for, however many IDs.
pub async fn fetch_many(
    db: &Db,
    ctx: &TenantContext,
    ids: &[(String, Uuid)],
) -> AppResult<Vec<Option<TenancyNode>>> {
    let wanted = |ty: &str| -> Vec<Uuid> {
        ids.iter()
            .filter(|(t, _)| t == ty)
            .map(|(_, id)| *id)
            .collect()
    };
    let mut out: Vec<Option<TenancyNode>> = ids.iter().map(|_| None).collect();
    if !ids.iter().any(|(t, _)| TYPES.contains(&t.as_str())) {
        return Ok(out);
    }
    let tx = db.tenant(ctx).await?;
    let users = rows::<user::Entity>(&tx, user::Column::Id, wanted(USER), |m| m.id).await?;
    let companies =
        rows::<company::Entity>(&tx, company::Column::Id, wanted(COMPANY), |m| m.id).await?;
    // Invitations and API keys are for company admins, as their lists are.
    let (want_inv, want_keys) = (wanted(INVITATION), wanted(API_KEY));
    let admin = (!want_inv.is_empty() || !want_keys.is_empty())
        && ils_kernel::authz::require_role(&tx, ctx, Role::CompanyAdmin)
            .await
            .is_ok();
    let (mut invitations, mut keys) = (HashMap::new(), HashMap::new());
    if admin {
        invitations =
            rows::<invitation::Entity>(&tx, invitation::Column::Id, want_inv, |m| m.id).await?;
        keys = rows::<api_key::Entity>(&tx, api_key::Column::Id, want_keys, |m| m.id).await?;
    }
    tx.commit().await?;
    for (slot, (ty, id)) in out.iter_mut().zip(ids) {
        *slot = match ty.as_str() {
            USER => users.get(id).cloned().map(|m| TenancyNode::User(User(m))),
            COMPANY => companies
                .get(id)
                .cloned()
                .map(|m| TenancyNode::Company(Company(m))),
            INVITATION => invitations
                .get(id)
                .cloned()
                .map(|m| TenancyNode::Invitation(Invitation(m))),
            API_KEY => keys
                .get(id)
                .cloned()
                .map(|m| TenancyNode::ApiKey(ApiKey(m))),
            _ => None,
        };
    }
    Ok(out)
}

/// The visible rows of `E` among `ids`, by id; no query when there are none.
async fn rows<E: Guarded>(
    tx: &Tx,
    col: E::Column,
    ids: Vec<Uuid>,
    id_of: impl Fn(&E::Model) -> Uuid,
) -> AppResult<HashMap<Uuid, E::Model>>
where
    E::Model: Send + Sync,
{
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let found = tx
        .select::<E>()
        .filter(col.is_in(ids))
        .all(tx.conn())
        .await?;
    Ok(found.into_iter().map(|m| (id_of(&m), m)).collect())
}
