//! What the order events say: one payload for every order event, with both parties as
//! the audience.

use crate::model::ORDER;
use async_graphql::ID;
use ils_common::company::COMPANY;
use ils_entity::lens_order as order;
use ils_kernel::id;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
        status: row.status.as_str().to_owned(),
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
