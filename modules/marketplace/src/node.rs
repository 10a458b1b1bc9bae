//! Resolving the marketplace's objects by global ID, through the guard: what a `node`
//! query may return is exactly what the module's own queries would.

use crate::catalog::import::{Catalog, CatalogImport, IMPORT};
use crate::catalog::items::{self, CatalogItem, ITEM};
use crate::connections::{self, CONNECTION, TradeConnection};
use crate::profile::{MarketplaceProfile, PROFILE};
use ils_entity::marketplace_profile;
use ils_kernel::{AppResult, Db, TenantContext};
use sea_orm::{ColumnTrait, QueryFilter};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Clone)]
pub enum MarketplaceNode {
    Profile(MarketplaceProfile),
    Connection(TradeConnection),
    Item(CatalogItem),
    Import(CatalogImport),
}

pub const TYPES: [&str; 4] = [PROFILE, CONNECTION, ITEM, IMPORT];

/// The rows named by (type, id), in the order asked; `None` where a row does not exist or
/// is not visible. One transaction and one query per type asked for.
pub async fn fetch_many(
    db: &Db,
    ctx: &TenantContext,
    ids: &[(String, Uuid)],
) -> AppResult<Vec<Option<MarketplaceNode>>> {
    let mut out: Vec<Option<MarketplaceNode>> = ids.iter().map(|_| None).collect();
    let Some(me) = ctx.company_id else {
        return Ok(out);
    };
    if !ids.iter().any(|(t, _)| TYPES.contains(&t.as_str())) {
        return Ok(out);
    }
    let wanted = |ty: &str| -> Vec<Uuid> {
        ids.iter()
            .filter(|(t, _)| t == ty)
            .map(|(_, id)| *id)
            .collect()
    };
    let tx = db.tenant(ctx).await?;
    let mut found: HashMap<(&str, Uuid), MarketplaceNode> = HashMap::new();
    let profiles = wanted(PROFILE);
    if !profiles.is_empty() {
        for p in tx
            .select::<marketplace_profile::Entity>()
            .filter(marketplace_profile::Column::CompanyId.is_in(profiles))
            .all(tx.conn())
            .await?
        {
            found.insert(
                (PROFILE, p.company_id),
                MarketplaceNode::Profile(MarketplaceProfile(p)),
            );
        }
    }
    for c in connections::by_ids(&tx, me, wanted(CONNECTION)).await? {
        found.insert((CONNECTION, c.row.id), MarketplaceNode::Connection(c));
    }
    for i in items::by_ids(&tx, me, wanted(ITEM)).await? {
        found.insert((ITEM, i.0.id), MarketplaceNode::Item(i));
    }
    for i in crate::imports::by_ids::<Catalog>(&tx, wanted(IMPORT)).await? {
        found.insert((IMPORT, i.0.id), MarketplaceNode::Import(i));
    }
    tx.commit().await?;
    for (slot, (ty, id)) in out.iter_mut().zip(ids) {
        let key = TYPES.iter().find(|t| **t == ty.as_str());
        if let Some(t) = key {
            *slot = found.get(&(*t, *id)).cloned();
        }
    }
    Ok(out)
}
