//! A purchase order's statuses and the limits on its lines.
#[allow(unused_imports)]
use super::*;

pub const PURCHASE_ORDER: &str = "PurchaseOrder";
pub const LINE: &str = "PurchaseOrderLine";

/// The most units one line may order.
pub(crate) const MAX_LINE_QUANTITY: i64 = 1_000_000;
/// The most lines one order may have.
pub(crate) const MAX_LINES: usize = 200;

ils_kernel::string_enum!(
    /// Where a purchase order stands.
    PurchaseOrderStatus {
        Draft = "DRAFT",
        Submitted = "SUBMITTED",
        Acknowledged = "ACKNOWLEDGED",
        Rejected = "REJECTED",
        PartiallyReceived = "PARTIALLY_RECEIVED",
        Received = "RECEIVED",
        Cancelled = "CANCELLED",
    }
);
