//! Resolving the inventory module's objects by global ID, through the guard.

use crate::import::{IMPORT, ProductImport, Products};
use crate::products::{PRODUCT, Product};
use crate::purchasing::{PURCHASE_ORDER, PurchaseOrder};
use ils_entity::{product, purchase_order, purchase_order_line};
use ils_kernel::{AppResult, Db, TenantContext};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

#[derive(Clone)]
#[allow(clippy::large_enum_variant)] // short-lived resolver values; boxing buys nothing
pub enum InventoryNode {
    Product(Product),
    PurchaseOrder(PurchaseOrder),
    Import(ProductImport),
}

/// The rows named by (type, id), in the order asked; `None` where a row does not exist or
/// is not the caller's.
pub async fn fetch_many(
    db: &Db,
    ctx: &TenantContext,
    ids: &[(String, Uuid)],
) -> AppResult<Vec<Option<InventoryNode>>> {
    let mut out: Vec<Option<InventoryNode>> = ids.iter().map(|_| None).collect();
    let wanted = |ty: &str| -> Vec<Uuid> {
        ids.iter()
            .filter(|(t, _)| t == ty)
            .map(|(_, id)| *id)
            .collect()
    };
    let (products, orders, imports) = (wanted(PRODUCT), wanted(PURCHASE_ORDER), wanted(IMPORT));
    if (products.is_empty() && orders.is_empty() && imports.is_empty()) || ctx.company_id.is_none()
    {
        return Ok(out);
    }
    let tx = db.tenant(ctx).await?;
    let mut found = Vec::new();
    if !products.is_empty() {
        found = tx
            .select::<product::Entity>()
            .filter(product::Column::Id.is_in(products))
            .all(tx.conn())
            .await?;
    }
    let mut found_orders = Vec::new();
    let mut lines = Vec::new();
    if !orders.is_empty() {
        found_orders = tx
            .select::<purchase_order::Entity>()
            .filter(purchase_order::Column::Id.is_in(orders.clone()))
            .all(tx.conn())
            .await?;
        lines = tx
            .select::<purchase_order_line::Entity>()
            .filter(purchase_order_line::Column::OrderId.is_in(orders))
            .order_by_asc(purchase_order_line::Column::Id)
            .all(tx.conn())
            .await?;
    }
    let found_imports = ils_marketplace::imports::by_ids::<Products>(&tx, imports).await?;
    tx.commit().await?;
    for (slot, (ty, id)) in out.iter_mut().zip(ids) {
        *slot = match ty.as_str() {
            PRODUCT => found
                .iter()
                .find(|p| p.id == *id)
                .cloned()
                .map(|p| InventoryNode::Product(Product(p))),
            PURCHASE_ORDER => found_orders
                .iter()
                .find(|o| o.id == *id)
                .cloned()
                .map(|row| {
                    let order_lines = lines
                        .iter()
                        .filter(|l| l.order_id == row.id)
                        .cloned()
                        .collect();
                    InventoryNode::PurchaseOrder(PurchaseOrder {
                        row,
                        lines: order_lines,
                    })
                }),
            IMPORT => found_imports
                .iter()
                .find(|i| i.0.id == *id)
                .cloned()
                .map(InventoryNode::Import),
            _ => None,
        };
    }
    Ok(out)
}
