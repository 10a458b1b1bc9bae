//! Resolving the orders module's objects by global ID, through the guard and with the same
//! audit as their own queries.

use crate::orders::{LensOrder, ORDER};
use crate::patients::{PATIENT, Patient, audit_read};
use ils_entity::{lens_order, patient};
use ils_kernel::node::{AnyNode, Found, NodeRequest, NodeType};
use ils_kernel::{AppResult, id};
use sea_orm::{ColumnTrait, QueryFilter};

pub const TYPES: [&str; 2] = [PATIENT, ORDER];

/// The node types this module resolves.
pub fn node_types() -> Vec<NodeType> {
    vec![NodeType::of::<Patient>(), NodeType::of::<LensOrder>()]
}

/// The rows named by (type, id), in the order asked; `None` where a row does not exist or
/// is not visible. Patient reads are audited like `patient(id)`.
pub async fn fetch_many(req: NodeRequest<'_>) -> AppResult<Vec<Option<AnyNode>>> {
    let (ctx, client) = (req.tenant, req.client);
    let (patients, orders) = (req.ids_of(PATIENT), req.ids_of(ORDER));
    let Some(me) = ctx.company_id() else {
        return Ok(req.none_found());
    };
    if patients.is_empty() && orders.is_empty() {
        return Ok(req.none_found());
    }
    let tx = req.db.tenant(ctx).await?;
    let mut found = Found::default();
    if !patients.is_empty() {
        let found_patients = tx
            .select::<patient::Entity>()
            .filter(patient::Column::Id.is_in(patients))
            .all(tx.conn())
            .await?;
        let read: Vec<String> = found_patients
            .iter()
            .map(|p| id::encode(PATIENT, p.id).to_string())
            .collect();
        audit_read(&tx, ctx, client, read).await?;
        for p in found_patients {
            found.insert(PATIENT, p.id, Patient(p));
        }
    }
    if !orders.is_empty() {
        let found_orders = tx
            .select::<lens_order::Entity>()
            .filter(lens_order::Column::Id.is_in(orders))
            .all(tx.conn())
            .await?;
        crate::orders::audit_identified(&tx, ctx, client, found_orders.iter()).await?;
        for row in found_orders {
            found.insert(ORDER, row.id, LensOrder { row, viewer: me });
        }
    }
    tx.commit().await?;
    Ok(req.answer(found))
}
