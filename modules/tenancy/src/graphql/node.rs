//! Resolving this module's rows by global ID, through the guard.

use super::types::{API_KEY, ApiKey, COMPANY, Company, INVITATION, Invitation, USER, User};
use ils_entity::{api_key, company, invitation, user};
use ils_kernel::{AppResult, Db, Guarded, TenantContext, Tx};
use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

pub enum TenancyNode {
    User(User),
    Company(Company),
    Invitation(Invitation),
    ApiKey(ApiKey),
}

pub const TYPES: [&str; 4] = [USER, COMPANY, INVITATION, API_KEY];

/// The row named by a global ID, or `None` when it does not exist or is not visible to the
/// caller (the two are indistinguishable by design).
pub async fn fetch(
    db: &Db,
    ctx: &TenantContext,
    type_name: &str,
    id: Uuid,
) -> AppResult<Option<TenancyNode>> {
    if !TYPES.contains(&type_name) {
        return Ok(None);
    }
    let tx = db.tenant(ctx).await?;
    // Invitations and API keys are for company admins, as their lists are.
    let admin = matches!(type_name, INVITATION | API_KEY)
        && ils_kernel::authz::require_role(&tx, ctx, ils_kernel::Role::CompanyAdmin)
            .await
            .is_ok();
    let node = match type_name {
        USER => one::<user::Entity>(&tx, user::Column::Id, id)
            .await?
            .map(|m| TenancyNode::User(User(m))),
        COMPANY => one::<company::Entity>(&tx, company::Column::Id, id)
            .await?
            .map(|m| TenancyNode::Company(Company(m))),
        INVITATION if admin => one::<invitation::Entity>(&tx, invitation::Column::Id, id)
            .await?
            .map(|m| TenancyNode::Invitation(Invitation(m))),
        API_KEY if admin => one::<api_key::Entity>(&tx, api_key::Column::Id, id)
            .await?
            .map(|m| TenancyNode::ApiKey(ApiKey(m))),
        _ => None,
    };
    tx.commit().await?;
    Ok(node)
}

async fn one<E: Guarded>(tx: &Tx, col: E::Column, id: Uuid) -> AppResult<Option<E::Model>>
where
    E::Model: Send + Sync,
{
    Ok(tx.select::<E>().filter(col.eq(id)).one(tx.conn()).await?)
}
