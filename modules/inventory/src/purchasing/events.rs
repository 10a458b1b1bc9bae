//! What the purchase order events say, and to whom.
#[allow(unused_imports)]
use super::*;

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

ils_kernel::domain_event!(PoSubmitted, "purchase_order.submitted", admins_only: false, PurchaseOrderChange);
ils_kernel::domain_event!(PoAcknowledged, "purchase_order.acknowledged", admins_only: false, PurchaseOrderChange);
ils_kernel::domain_event!(PoRejected, "purchase_order.rejected", admins_only: false, PurchaseOrderChange);
ils_kernel::domain_event!(PoReceived, "purchase_order.received", admins_only: false, PurchaseOrderChange);
ils_kernel::domain_event!(PoCancelled, "purchase_order.cancelled", admins_only: false, PurchaseOrderChange);

pub(crate) fn change(row: &po::Model) -> PurchaseOrderChange {
    PurchaseOrderChange {
        purchase_order_id: id::encode(PURCHASE_ORDER, row.id),
        po_number: row.po_number.clone(),
        status: row.status.clone(),
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
