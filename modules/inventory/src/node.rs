//! Resolving the inventory module's objects by global ID, through the guard.

use crate::products::{PRODUCT, Product};
use ils_entity::product;
use ils_kernel::{AppResult, Db, TenantContext};
use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

#[derive(Clone)]
pub enum InventoryNode {
    Product(Product),
}

/// The rows named by (type, id), in the order asked; `None` where a row does not exist or
/// is not the caller's.
pub async fn fetch_many(
    db: &Db,
    ctx: &TenantContext,
    ids: &[(String, Uuid)],
) -> AppResult<Vec<Option<InventoryNode>>> {
    let mut out: Vec<Option<InventoryNode>> = ids.iter().map(|_| None).collect();
    let products: Vec<Uuid> = ids
        .iter()
        .filter(|(t, _)| t == PRODUCT)
        .map(|(_, id)| *id)
        .collect();
    if products.is_empty() || ctx.company_id.is_none() {
        return Ok(out);
    }
    let tx = db.tenant(ctx).await?;
    let found = tx
        .select::<product::Entity>()
        .filter(product::Column::Id.is_in(products))
        .all(tx.conn())
        .await?;
    tx.commit().await?;
    for (slot, (ty, id)) in out.iter_mut().zip(ids) {
        if ty == PRODUCT {
            *slot = found
                .iter()
                .find(|p| p.id == *id)
                .cloned()
                .map(|p| InventoryNode::Product(Product(p)));
        }
    }
    Ok(out)
}
