//! Resolving the marketplace's objects by global ID, through the guard: what a `node`
//! query may return is exactly what the module's own queries would.

use super::catalog::CatalogItem;
use super::connections::TradeConnection;
use super::import::CatalogImport;
use super::profile::{MarketplaceProfile, PROFILE};
use crate::service::catalog::{self, ITEM};
use crate::service::connections::{self, CONNECTION};
use crate::service::import::{Catalog, IMPORT};
use crate::service::profile;
use ils_kernel::AppResult;
use ils_kernel::node::{AnyNode, Found, NodeRequest, NodeType};

pub const TYPES: [&str; 4] = [PROFILE, CONNECTION, ITEM, IMPORT];

/// The node types this module resolves.
pub fn node_types() -> Vec<NodeType> {
    vec![
        NodeType::of::<MarketplaceProfile>(),
        NodeType::of::<TradeConnection>(),
        NodeType::of::<CatalogItem>().federated(),
        NodeType::of::<CatalogImport>(),
    ]
}

/// The rows named by (type, id), in the order asked; `None` where a row does not exist or
/// is not visible.
pub async fn fetch_many(req: NodeRequest<'_>) -> AppResult<Vec<Option<AnyNode>>> {
    let Some(me) = req.tenant.company_id() else {
        return Ok(req.none_found());
    };
    if !req.asks_for(&TYPES) {
        return Ok(req.none_found());
    }
    let tx = req.db.read(req.tenant).await?;
    let mut found = Found::default();
    for p in profile::by_ids(&tx, req.ids_of(PROFILE)).await? {
        found.insert(PROFILE, p.company_id, MarketplaceProfile(p));
    }
    for c in connections::by_ids(&tx, me, req.ids_of(CONNECTION)).await? {
        found.insert(CONNECTION, c.row.id, TradeConnection(c));
    }
    for i in catalog::by_ids(&tx, me, req.ids_of(ITEM)).await? {
        found.insert(ITEM, i.id, CatalogItem(i));
    }
    for i in crate::imports::by_ids::<Catalog>(&tx, req.ids_of(IMPORT)).await? {
        found.insert(IMPORT, i.0.id, i);
    }
    tx.commit().await?;
    Ok(req.answer(found))
}
