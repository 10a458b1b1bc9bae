//! Resolving the orders module's objects by global ID, through the guard and with the same
//! audit as their own queries.

use super::orders::LensOrder;
use super::patients::Patient;
use super::prescriptions::Prescription;
use crate::model::{ORDER, PATIENT, PRESCRIPTION};
use crate::service::lookup;
use ils_kernel::AppResult;
use ils_kernel::node::{AnyNode, Found, NodeRequest, NodeType};
use std::sync::Arc;

pub const TYPES: [&str; 3] = [PATIENT, ORDER, PRESCRIPTION];

/// The node types this module resolves.
pub fn node_types() -> Vec<NodeType> {
    vec![
        NodeType::of::<Patient>(),
        NodeType::of::<LensOrder>().federated(),
        NodeType::of::<Prescription>(),
    ]
}

/// The rows named by (type, id), in the order asked; `None` where a row does not exist or
/// is not visible. Patient and prescription reads are audited like `patientRecord`.
pub async fn fetch_many(req: NodeRequest<'_>) -> AppResult<Vec<Option<AnyNode>>> {
    let Some(me) = req.tenant.company_id() else {
        return Ok(req.none_found());
    };
    if !req.asks_for(&TYPES) {
        return Ok(req.none_found());
    }
    let rows = lookup::nodes(
        req.db,
        req.tenant,
        req.client,
        req.ids_of(PATIENT),
        req.ids_of(ORDER),
        req.ids_of(PRESCRIPTION),
    )
    .await?;
    let mut found = Found::default();
    for p in rows.patients {
        found.insert(PATIENT, p.id, Patient(p));
    }
    let patients = Arc::default();
    for row in rows.orders {
        found.insert(ORDER, row.id, LensOrder::in_batch(row, me, &patients));
    }
    for row in rows.prescriptions {
        found.insert(PRESCRIPTION, row.id, Prescription::new(row));
    }
    Ok(req.answer(found))
}
