//! Resolving the orders module's objects by global ID, through the guard and with the same
//! audit as their own queries.

use super::orders::LensOrder;
use super::patients::Patient;
use crate::model::{ORDER, PATIENT};
use crate::service::lookup;
use ils_kernel::AppResult;
use ils_kernel::node::{AnyNode, Found, NodeRequest, NodeType};

pub const TYPES: [&str; 2] = [PATIENT, ORDER];

/// The node types this module resolves.
pub fn node_types() -> Vec<NodeType> {
    vec![NodeType::of::<Patient>(), NodeType::of::<LensOrder>()]
}

/// The rows named by (type, id), in the order asked; `None` where a row does not exist or
/// is not visible. Patient reads are audited like `patient(id)`.
pub async fn fetch_many(req: NodeRequest<'_>) -> AppResult<Vec<Option<AnyNode>>> {
    let (patients, orders) = (req.ids_of(PATIENT), req.ids_of(ORDER));
    let Some(me) = req.tenant.company_id() else {
        return Ok(req.none_found());
    };
    if patients.is_empty() && orders.is_empty() {
        return Ok(req.none_found());
    }
    let (patients, orders) =
        lookup::patients_and_orders(req.db, req.tenant, req.client, patients, orders).await?;
    let mut found = Found::default();
    for p in patients {
        found.insert(PATIENT, p.id, Patient(p));
    }
    for row in orders {
        found.insert(ORDER, row.id, LensOrder { row, viewer: me });
    }
    Ok(req.answer(found))
}
