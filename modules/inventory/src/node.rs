//! Resolving the inventory module's objects by global ID, through the guard.

use crate::import::{IMPORT, ProductImport, Products};
use crate::products::{PRODUCT, Product};
use crate::purchasing::{PURCHASE_ORDER, PurchaseOrder};
use ils_entity::{product, purchase_order, purchase_order_line};
use ils_kernel::AppResult;
use ils_kernel::node::{AnyNode, Found, NodeRequest, NodeType};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};

pub const TYPES: [&str; 3] = [PRODUCT, PURCHASE_ORDER, IMPORT];

/// The node types this module resolves.
pub fn node_types() -> Vec<NodeType> {
    vec![
        NodeType::of::<Product>(),
        NodeType::of::<PurchaseOrder>(),
        NodeType::of::<ProductImport>(),
    ]
}

/// The rows named by (type, id), in the order asked; `None` where a row does not exist or
/// is not the caller's.
pub async fn fetch_many(req: NodeRequest<'_>) -> AppResult<Vec<Option<AnyNode>>> {
    if !req.asks_for(&TYPES) || req.tenant.company_id().is_none() {
        return Ok(req.none_found());
    }
    let (products, orders, imports) = (
        req.ids_of(PRODUCT),
        req.ids_of(PURCHASE_ORDER),
        req.ids_of(IMPORT),
    );
    let tx = req.db.tenant(req.tenant).await?;
    let mut found = Found::default();
    if !products.is_empty() {
        for p in tx
            .select::<product::Entity>()
            .filter(product::Column::Id.is_in(products))
            .all(tx.conn())
            .await?
        {
            found.insert(PRODUCT, p.id, Product(p));
        }
    }
    if !orders.is_empty() {
        let found_orders = tx
            .select::<purchase_order::Entity>()
            .filter(purchase_order::Column::Id.is_in(orders.clone()))
            .all(tx.conn())
            .await?;
        let lines = tx
            .select::<purchase_order_line::Entity>()
            .filter(purchase_order_line::Column::OrderId.is_in(orders))
            .order_by_asc(purchase_order_line::Column::Id)
            .all(tx.conn())
            .await?;
        for row in found_orders {
            let order_lines = lines
                .iter()
                .filter(|l| l.order_id == row.id)
                .cloned()
                .collect();
            found.insert(
                PURCHASE_ORDER,
                row.id,
                PurchaseOrder {
                    row,
                    lines: order_lines,
                },
            );
        }
    }
    for i in ils_common::imports::by_ids::<Products>(&tx, imports).await? {
        found.insert(IMPORT, i.0.id, i);
    }
    tx.commit().await?;
    Ok(req.answer(found))
}
