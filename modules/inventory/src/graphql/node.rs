//! Resolving the inventory module's objects by global ID, through the guard.

use crate::graphql::import::ProductImport;
use crate::graphql::products::Product;
use crate::graphql::purchasing::PurchaseOrder;
use crate::model::{IMPORT, PRODUCT, PURCHASE_ORDER};
use crate::service::import::Products;
use crate::service::{products, purchasing};
use ils_kernel::AppResult;
use ils_kernel::node::{AnyNode, Found, NodeRequest, NodeType};

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
    let tx = req.db.tenant(req.tenant).await?;
    let mut found = Found::default();
    for p in products::by_ids(&tx, req.ids_of(PRODUCT)).await? {
        found.insert(PRODUCT, p.id, Product(p));
    }
    for order in purchasing::by_ids(&tx, req.ids_of(PURCHASE_ORDER)).await? {
        found.insert(PURCHASE_ORDER, order.row.id, PurchaseOrder(order));
    }
    for i in ils_common::imports::by_ids::<Products>(&tx, req.ids_of(IMPORT)).await? {
        found.insert(IMPORT, i.0.id, i);
    }
    tx.commit().await?;
    Ok(req.answer(found))
}
