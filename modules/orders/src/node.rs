//! Resolving the orders module's objects by global ID, through the guard and with the same
//! audit as their own queries.

use crate::orders::{LensOrder, ORDER};
use crate::patients::{PATIENT, Patient, audit_read};
use ils_entity::{lens_order, patient};
use ils_kernel::{AppResult, ClientInfo, Db, TenantContext, id};
use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

#[derive(Clone)]
pub enum OrdersNode {
    Patient(Patient),
    Order(Box<LensOrder>),
}

pub const TYPES: [&str; 2] = [PATIENT, ORDER];

/// The rows named by (type, id), in the order asked; `None` where a row does not exist or
/// is not visible. Patient reads are audited like `patient(id)`.
pub async fn fetch_many(
    db: &Db,
    ctx: &TenantContext,
    client: &ClientInfo,
    ids: &[(String, Uuid)],
) -> AppResult<Vec<Option<OrdersNode>>> {
    let mut out: Vec<Option<OrdersNode>> = ids.iter().map(|_| None).collect();
    let wanted = |ty: &str| -> Vec<Uuid> {
        ids.iter()
            .filter(|(t, _)| t == ty)
            .map(|(_, id)| *id)
            .collect()
    };
    let (patients, orders) = (wanted(PATIENT), wanted(ORDER));
    let Some(me) = ctx.company_id else {
        return Ok(out);
    };
    if patients.is_empty() && orders.is_empty() {
        return Ok(out);
    }
    let tx = db.tenant(ctx).await?;
    let mut found_patients = Vec::new();
    if !patients.is_empty() {
        found_patients = tx
            .select::<patient::Entity>()
            .filter(patient::Column::Id.is_in(patients))
            .all(tx.conn())
            .await?;
        let read: Vec<String> = found_patients
            .iter()
            .map(|p| id::encode(PATIENT, p.id).to_string())
            .collect();
        audit_read(&tx, ctx, client, read).await?;
    }
    let mut found_orders = Vec::new();
    if !orders.is_empty() {
        found_orders = tx
            .select::<lens_order::Entity>()
            .filter(lens_order::Column::Id.is_in(orders))
            .all(tx.conn())
            .await?;
        crate::orders::audit_identified(&tx, ctx, client, found_orders.iter()).await?;
    }
    tx.commit().await?;
    for (slot, (ty, id)) in out.iter_mut().zip(ids) {
        *slot = match ty.as_str() {
            PATIENT => found_patients
                .iter()
                .find(|p| p.id == *id)
                .cloned()
                .map(|p| OrdersNode::Patient(Patient(p))),
            ORDER => found_orders
                .iter()
                .find(|o| o.id == *id)
                .cloned()
                .map(|row| OrdersNode::Order(Box::new(LensOrder { row, viewer: me }))),
            _ => None,
        };
    }
    Ok(out)
}
