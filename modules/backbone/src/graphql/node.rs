//! Resolving the backbone's objects by global ID, through the guard: what a `node` query
//! may return is exactly what the module's own lists show the caller (jobs and audit
//! entries: company admins their company's, platform admins every one; webhook endpoints
//! and deliveries: company admins their company's).

use super::audit::{AUDIT_ENTRY, AuditEntry};
use super::jobs::{JOB, Job};
use super::webhooks::{WebhookDelivery, WebhookEndpoint};
use crate::service::webhooks::{DELIVERY, ENDPOINT, deliveries, endpoints};
use crate::service::{audit, jobs};
use ils_kernel::AppResult;
use ils_kernel::node::{AnyNode, Found, NodeRequest, NodeType};

pub const TYPES: [&str; 4] = [JOB, AUDIT_ENTRY, ENDPOINT, DELIVERY];

/// The node types this module resolves.
pub fn node_types() -> Vec<NodeType> {
    vec![
        NodeType::of::<Job>(),
        NodeType::of::<AuditEntry>(),
        NodeType::of::<WebhookEndpoint>(),
        NodeType::of::<WebhookDelivery>(),
    ]
}

/// The rows named by (type, id), in the order asked; `None` where a row does not exist or
/// is not visible to the caller (indistinguishable by design). One transaction, and one
/// query per type asked for (two for deliveries, with their endpoints).
pub async fn fetch_many(req: NodeRequest<'_>) -> AppResult<Vec<Option<AnyNode>>> {
    if !req.asks_for(&TYPES) {
        return Ok(req.none_found());
    }
    let tenant = req.tenant;
    let tx = req.db.read(tenant).await?;
    let mut found = Found::default();
    for j in jobs::by_ids(&tx, tenant, req.ids_of(JOB)).await? {
        found.insert(JOB, j.id, Job::from(j));
    }
    for a in audit::by_ids(&tx, tenant, req.ids_of(AUDIT_ENTRY)).await? {
        found.insert(AUDIT_ENTRY, a.id, AuditEntry::from(a));
    }
    for e in endpoints::by_ids(&tx, tenant, req.ids_of(ENDPOINT)).await? {
        found.insert(ENDPOINT, e.id, WebhookEndpoint::from(e));
    }
    for d in deliveries::by_ids(&tx, tenant, req.ids_of(DELIVERY)).await? {
        found.insert(DELIVERY, d.row.id, WebhookDelivery(d));
    }
    tx.commit().await?;
    Ok(req.answer(found))
}
