//! Inventory services: plain async functions over the tenant guard, and the job kinds.
//! Resolvers call these and do nothing else; nothing here knows GraphQL beyond the
//! `Connection` that pagination returns (built by the caller's mapping) and the global
//! `ID`s that inputs carry (decoded here, so each refusal names its input path).

pub mod counts;
pub mod export;
pub mod import;
pub mod locations;
pub mod planning;
pub mod products;
pub mod purchasing;
pub mod reconcile;
pub mod stock;

use async_graphql::ID;
use ils_entity::company;
use ils_kernel::authz::require_member;
use ils_kernel::{AppError, AppResult, Db, TenantContext, Tx, id};
use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

/// A read by global ID (any member): what `load` makes of the row, or `None` when the ID
/// names nothing of the caller's.
pub(crate) async fn by_global_id<T>(
    db: &Db,
    ctx: &TenantContext,
    type_name: &str,
    given: &ID,
    load: impl AsyncFnOnce(&Tx, Uuid) -> AppResult<T>,
) -> AppResult<Option<T>> {
    require_member(ctx)?;
    let row_id = id::decode(type_name, given, "id")?;
    let tx = db.tenant(ctx).await?;
    let found = match load(&tx, row_id).await {
        Ok(row) => Some(row),
        Err(AppError::NotFound) => None,
        Err(e) => return Err(e),
    };
    tx.commit().await?;
    Ok(found)
}

/// Locks the company's own row for this transaction: what is made once per company (its
/// default location) or numbered per company (its purchase orders) is made one at a time.
pub(crate) async fn lock_company(tx: &Tx, me: Uuid) -> AppResult<()> {
    tx.lock_for_update(
        tx.select::<company::Entity>()
            .filter(company::Column::Id.eq(me)),
    )
    .one(tx.conn())
    .await?;
    Ok(())
}
