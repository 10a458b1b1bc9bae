//! Resolving the inventory module's objects by global ID, through the guard.

use crate::graphql::counts::StockCount;
use crate::graphql::import::ProductImport;
use crate::graphql::locations::Location;
use crate::graphql::products::Product;
use crate::graphql::purchasing::{PurchaseOrder, PurchaseOrderLine};
use crate::graphql::reconcile::StockDiscrepancy;
use crate::graphql::stock::{StockLevel, StockMovement};
use crate::model::{
    BALANCE, COUNT, DISCREPANCY, IMPORT, LINE, LOCATION, MOVEMENT, PRODUCT, PURCHASE_ORDER,
};
use crate::service::import::Products;
use crate::service::{counts, locations, products, purchasing, reconcile, stock};
use ils_kernel::AppResult;
use ils_kernel::node::{AnyNode, Found, NodeRequest, NodeType};

pub const TYPES: [&str; 9] = [
    PRODUCT,
    PURCHASE_ORDER,
    LINE,
    IMPORT,
    LOCATION,
    BALANCE,
    MOVEMENT,
    COUNT,
    DISCREPANCY,
];

/// The node types this module resolves.
pub fn node_types() -> Vec<NodeType> {
    vec![
        NodeType::of::<Product>().federated(),
        NodeType::of::<PurchaseOrder>().federated(),
        NodeType::of::<PurchaseOrderLine>(),
        NodeType::of::<ProductImport>(),
        NodeType::of::<Location>(),
        NodeType::of::<StockLevel>(),
        NodeType::of::<StockMovement>(),
        NodeType::of::<StockCount>(),
        NodeType::of::<StockDiscrepancy>(),
    ]
}

/// The rows named by (type, id), in the order asked; `None` where a row does not exist or
/// is not the caller's. One transaction, and a few statements per type asked for, however
/// many IDs.
pub async fn fetch_many(req: NodeRequest<'_>) -> AppResult<Vec<Option<AnyNode>>> {
    if !req.asks_for(&TYPES) || req.tenant.company_id().is_none() {
        return Ok(req.none_found());
    }
    let tx = req.db.read(req.tenant).await?;
    let mut found = Found::default();
    for p in products::by_ids(&tx, req.ids_of(PRODUCT)).await? {
        found.insert(PRODUCT, p.id, Product(p));
    }
    for order in purchasing::by_ids(&tx, req.ids_of(PURCHASE_ORDER)).await? {
        found.insert(PURCHASE_ORDER, order.row.id, PurchaseOrder(order));
    }
    for line in purchasing::lines_by_ids(&tx, req.ids_of(LINE)).await? {
        found.insert(LINE, line.row.id, PurchaseOrderLine(line));
    }
    for i in ils_common::imports::by_ids::<Products>(&tx, req.ids_of(IMPORT)).await? {
        found.insert(IMPORT, i.0.id, i);
    }
    for l in locations::by_ids(&tx, req.ids_of(LOCATION)).await? {
        found.insert(LOCATION, l.id, Location::from(l));
    }
    for level in stock::levels_by_ids(&tx, req.ids_of(BALANCE)).await? {
        found.insert(BALANCE, level.row.id, StockLevel(level));
    }
    for m in stock::movements_by_ids(&tx, req.ids_of(MOVEMENT)).await? {
        found.insert(MOVEMENT, m.row.id, StockMovement(m));
    }
    for c in counts::by_ids(&tx, req.ids_of(COUNT)).await? {
        found.insert(COUNT, c.row.id, StockCount(c));
    }
    for d in reconcile::by_ids(&tx, req.ids_of(DISCREPANCY)).await? {
        found.insert(DISCREPANCY, d.row.id, StockDiscrepancy(d));
    }
    tx.commit().await?;
    Ok(req.answer(found))
}
