//! The inventory module's domain events: low stock and discrepancies for the company,
//! purchase order changes for both its parties. IDs in event data are the same global IDs
//! the GraphQL API returns.

use crate::model::PURCHASE_ORDER;
use async_graphql::ID;
use ils_common::company::COMPANY;
use ils_entity::purchase_order as po;
use ils_kernel::{domain_event, id};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

domain_event!(LowStock, "inventory.low_stock", admins_only: false {
    product_id: ID,
    sku: String,
    location_id: ID,
    available: i64,
    threshold: i64,
});

domain_event!(DemandSpike, "inventory.demand_spike", admins_only: false {
    product_id: ID,
    sku: String,
    location_id: ID,
    recent_units: i64,
    recent_daily_rate: f64,
    usual_daily_rate: f64,
    ratio: f64,
});

domain_event!(DiscrepancyFound, "inventory.discrepancy_found", admins_only: false {
    discrepancy_id: ID,
    product_id: ID,
    location_id: ID,
    difference: i64,
});

/// What every purchase order event says.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PurchaseOrderChange {
    pub purchase_order_id: ID,
    pub po_number: String,
    pub status: String,
    pub version: i32,
    pub buyer_id: ID,
    pub supplier_id: ID,
}

domain_event!(PoSubmitted, "purchase_order.submitted", admins_only: false, PurchaseOrderChange);
domain_event!(PoAcknowledged, "purchase_order.acknowledged", admins_only: false, PurchaseOrderChange);
domain_event!(PoRejected, "purchase_order.rejected", admins_only: false, PurchaseOrderChange);
domain_event!(PoReceived, "purchase_order.received", admins_only: false, PurchaseOrderChange);
domain_event!(PoCancelled, "purchase_order.cancelled", admins_only: false, PurchaseOrderChange);

impl PurchaseOrderChange {
    /// What a purchase order event says, whichever of the status events it is; `None` for
    /// other events (and for one this release cannot read, which is logged).
    pub fn of(ev: &ils_kernel::Event) -> Option<PurchaseOrderChange> {
        use ils_kernel::events::signature;
        ev.read_as(&[
            signature::<PoSubmitted>(),
            signature::<PoAcknowledged>(),
            signature::<PoRejected>(),
            signature::<PoReceived>(),
            signature::<PoCancelled>(),
        ])
    }
}

domain_event!(PoDrafted, "purchase_order.drafted", admins_only: false {
    purchase_order_id: ID,
    po_number: String,
    version: i32,
    supplier_name: String,
    lines: i64,
    total: String,
    currency: String,
    updated: bool,
});

pub(crate) fn change(row: &po::Model) -> PurchaseOrderChange {
    PurchaseOrderChange {
        purchase_order_id: id::encode(PURCHASE_ORDER, row.id),
        po_number: row.po_number.clone(),
        status: row.status.as_str().to_owned(),
        version: row.version,
        buyer_id: id::encode(COMPANY, row.company_id),
        supplier_id: id::encode(COMPANY, row.supplier_id),
    }
}

/// Both parties once submitted; the buyer alone before.
pub(crate) fn parties(row: &po::Model) -> Vec<Uuid> {
    std::iter::once(row.company_id)
        .chain(row.supplier_company_id)
        .collect()
}
