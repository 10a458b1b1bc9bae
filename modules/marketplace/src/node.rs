//! Resolving the marketplace's objects by global ID, through the guard: what a `node`
//! query may return is exactly what the module's own queries would.

use crate::catalog::import::{Catalog, CatalogImport, IMPORT};
use crate::catalog::items::{self, CatalogItem, ITEM};
use crate::connections::{self, CONNECTION, TradeConnection};
use crate::profile::{MarketplaceProfile, PROFILE};
use ils_entity::marketplace_profile;
use ils_kernel::AppResult;
use ils_kernel::node::{AnyNode, Found, NodeRequest, NodeType};
use sea_orm::{ColumnTrait, QueryFilter};

pub const TYPES: [&str; 4] = [PROFILE, CONNECTION, ITEM, IMPORT];

/// The node types this module resolves.
pub fn node_types() -> Vec<NodeType> {
    vec![
        NodeType::of::<MarketplaceProfile>(),
        NodeType::of::<TradeConnection>(),
        NodeType::of::<CatalogItem>(),
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
    let tx = req.db.tenant(req.tenant).await?;
    let mut found = Found::default();
    let profiles = req.ids_of(PROFILE);
    if !profiles.is_empty() {
        for p in tx
            .select::<marketplace_profile::Entity>()
            .filter(marketplace_profile::Column::CompanyId.is_in(profiles))
            .all(tx.conn())
            .await?
        {
            found.insert(PROFILE, p.company_id, MarketplaceProfile(p));
        }
    }
    for c in connections::by_ids(&tx, me, req.ids_of(CONNECTION)).await? {
        found.insert(CONNECTION, c.row.id, c);
    }
    for i in items::by_ids(&tx, me, req.ids_of(ITEM)).await? {
        found.insert(ITEM, i.0.id, i);
    }
    for i in crate::imports::by_ids::<Catalog>(&tx, req.ids_of(IMPORT)).await? {
        found.insert(IMPORT, i.0.id, i);
    }
    tx.commit().await?;
    Ok(req.answer(found))
}
