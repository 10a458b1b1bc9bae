//! Resolving this module's rows by global ID, through the guard.

use super::types::{API_KEY, ApiKey, COMPANY, Company, INVITATION, Invitation, USER, User};
use ils_entity::{api_key, company, invitation, user};
use ils_kernel::node::{AnyNode, Found, NodeRequest, NodeType};
use ils_kernel::{AppResult, Role};

pub const TYPES: [&str; 4] = [USER, COMPANY, INVITATION, API_KEY];

/// The node types this module resolves.
pub fn node_types() -> Vec<NodeType> {
    vec![
        NodeType::of::<User>(),
        NodeType::of::<Company>().federated(),
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
    let tx = req.db.read(ctx).await?;
    let mut found = Found::default();
    for m in tx.find_many::<user::Entity>(req.ids_of(USER)).await? {
        found.insert(USER, m.id, User(m));
    }
    for m in tx.find_many::<company::Entity>(req.ids_of(COMPANY)).await? {
        found.insert(COMPANY, m.id, Company(m));
    }
    // Invitations and API keys are for company admins, as their lists are.
    let (want_inv, want_keys) = (req.ids_of(INVITATION), req.ids_of(API_KEY));
    let admin = (!want_inv.is_empty() || !want_keys.is_empty())
        && ils_kernel::authz::require_role(&tx, ctx, Role::CompanyAdmin)
            .await
            .is_ok();
    if admin {
        for m in tx.find_many::<invitation::Entity>(want_inv).await? {
            found.insert(INVITATION, m.id, Invitation(m));
        }
        for m in tx.find_many::<api_key::Entity>(want_keys).await? {
            found.insert(API_KEY, m.id, ApiKey(m));
        }
    }
    tx.commit().await?;
    Ok(req.answer(found))
}
