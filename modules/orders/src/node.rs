//! Resolving the orders module's objects by global ID, through the guard and with the same
//! audit as their own queries.

use crate::patients::{PATIENT, Patient, audit_read};
use ils_entity::patient;
use ils_kernel::{AppResult, ClientInfo, Db, TenantContext, id};
use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

#[derive(Clone)]
pub enum OrdersNode {
    Patient(Patient),
}

pub const TYPES: [&str; 1] = [PATIENT];

/// The rows named by (type, id), in the order asked; `None` where a row does not exist or
/// is not visible. Patient reads are audited like `patient(id)`.
pub async fn fetch_many(
    db: &Db,
    ctx: &TenantContext,
    client: &ClientInfo,
    ids: &[(String, Uuid)],
) -> AppResult<Vec<Option<OrdersNode>>> {
    let mut out: Vec<Option<OrdersNode>> = ids.iter().map(|_| None).collect();
    let wanted: Vec<Uuid> = ids
        .iter()
        .filter(|(t, _)| t == PATIENT)
        .map(|(_, id)| *id)
        .collect();
    if wanted.is_empty() || ctx.company_id.is_none() {
        return Ok(out);
    }
    let tx = db.tenant(ctx).await?;
    let found = tx
        .select::<patient::Entity>()
        .filter(patient::Column::Id.is_in(wanted))
        .all(tx.conn())
        .await?;
    let read: Vec<String> = found
        .iter()
        .map(|p| id::encode(PATIENT, p.id).to_string())
        .collect();
    audit_read(&tx, ctx, client, read).await?;
    tx.commit().await?;
    for (slot, (ty, id)) in out.iter_mut().zip(ids) {
        if ty == PATIENT {
            *slot = found
                .iter()
                .find(|p| p.id == *id)
                .cloned()
                .map(|p| OrdersNode::Patient(Patient(p)));
        }
    }
    Ok(out)
}
