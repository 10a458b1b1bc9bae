//! What the order events say.
#[allow(unused_imports)]
use super::*;

ils_kernel::domain_event!(OrderSubmitted, "order.submitted", admins_only: false, OrderChange);
ils_kernel::domain_event!(OrderStatusChanged, "order.status_changed", admins_only: false, OrderChange);
ils_kernel::domain_event!(OrderShipped, "order.shipped", admins_only: false, OrderChange);
ils_kernel::domain_event!(OrderMeasured, "order.measurements_updated", admins_only: false, OrderChange);

/// What every order event says.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct OrderChange {
    pub order_id: ID,
    pub order_number: String,
    pub status: String,
    pub version: i32,
    pub practice_id: ID,
    pub lab_id: Option<ID>,
    /// What the step said: the question, the answer, the stage, the tracking number, the
    /// reason, as in the order's history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl OrderChange {
    /// What an order event says, whichever of the order events it is; `None` for other
    /// events (and for one this release cannot read, which is logged).
    pub fn of(ev: &ils_kernel::Event) -> Option<OrderChange> {
        use ils_kernel::events::signature;
        ev.read_as(&[
            signature::<OrderSubmitted>(),
            signature::<OrderStatusChanged>(),
            signature::<OrderShipped>(),
            signature::<OrderMeasured>(),
        ])
    }
}

pub(crate) fn order_change(row: &order::Model, note: Option<&str>) -> OrderChange {
    OrderChange {
        order_id: id::encode(ORDER, row.id),
        order_number: row.order_number.clone(),
        status: row.status.clone(),
        version: row.version,
        practice_id: id::encode(COMPANY, row.company_id),
        lab_id: row.lab_company_id.map(|l| id::encode(COMPANY, l)),
        note: note.map(str::to_owned),
    }
}

/// Both parties of an order (for an event's audience).
pub(crate) fn parties(row: &order::Model) -> Vec<Uuid> {
    std::iter::once(row.company_id)
        .chain(row.lab_company_id)
        .collect()
}
