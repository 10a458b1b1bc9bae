//! Resolving this module's rows by global ID, through the guard.

use super::types::{API_KEY, ApiKey, COMPANY, Company, INVITATION, Invitation, USER, User};
use ils_entity::{api_key, company, invitation, user};
use ils_kernel::node::{AnyNode, Found, NodeRequest, NodeType};
use ils_kernel::{AppResult, Guarded, Role, Tx};
use sea_orm::{ColumnTrait, QueryFilter};
use std::collections::HashMap;
use uuid::Uuid;

pub const TYPES: [&str; 4] = [USER, COMPANY, INVITATION, API_KEY];

/// The node types this module resolves.
pub fn node_types() -> Vec<NodeType> {
    vec![
        NodeType::of::<User>(),
        NodeType::of::<Company>(),
        NodeType::of::<Invitation>(),
        NodeType::of::<ApiKey>(),
    ]
}

/// The rows named by global IDs (type name and row id), in the order asked: `None` where
/// a row does not exist or is not visible to the caller (indistinguishable by design).
/// One transaction, and one query per type asked for, however many IDs.
pub async fn fetch_many(req: NodeRequest<'_>) -> AppResult<Vec<Option<AnyNode>>> {
    if !req.asks_for(&TYPES) {
        return Ok(req.none_found());
    }
    let ctx = req.tenant;
    let tx = req.db.tenant(ctx).await?;
    let mut found = Found::default();
    for (id, m) in rows::<user::Entity>(&tx, user::Column::Id, req.ids_of(USER), |m| m.id).await? {
        found.insert(USER, id, User(m));
    }
    for (id, m) in
        rows::<company::Entity>(&tx, company::Column::Id, req.ids_of(COMPANY), |m| m.id).await?
    {
        found.insert(COMPANY, id, Company(m));
    }
    // Invitations and API keys are for company admins, as their lists are.
    let (want_inv, want_keys) = (req.ids_of(INVITATION), req.ids_of(API_KEY));
    let admin = (!want_inv.is_empty() || !want_keys.is_empty())
        && ils_kernel::authz::require_role(&tx, ctx, Role::CompanyAdmin)
            .await
            .is_ok();
    if admin {
        for (id, m) in
            rows::<invitation::Entity>(&tx, invitation::Column::Id, want_inv, |m| m.id).await?
        {
            found.insert(INVITATION, id, Invitation(m));
        }
        for (id, m) in
            rows::<api_key::Entity>(&tx, api_key::Column::Id, want_keys, |m| m.id).await?
        {
            found.insert(API_KEY, id, ApiKey(m));
        }
    }
    tx.commit().await?;
    Ok(req.answer(found))
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
