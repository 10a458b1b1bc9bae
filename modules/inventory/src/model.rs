//! The inventory's names and stored vocabularies, shared by the services and the GraphQL
//! types: the names of its objects (which are also their global ID prefixes), the statuses
//! of purchase orders, stock counts and discrepancies (the texts in their columns and the
//! GraphQL enum values), and the moves a purchase order's status may make.

pub use ils_entity::purchase_order::PurchaseOrderStatus;
pub use ils_entity::stock_count::StockCountStatus;
pub use ils_entity::stock_discrepancy::DiscrepancyStatus;

pub const PRODUCT: &str = "Product";
pub const LOCATION: &str = "StockLocation";
pub const MOVEMENT: &str = "StockMovement";
pub const BALANCE: &str = "StockLevel";
pub const COUNT: &str = "StockCount";
pub const DISCREPANCY: &str = "StockDiscrepancy";
pub const PURCHASE_ORDER: &str = "PurchaseOrder";
pub const LINE: &str = "PurchaseOrderLine";
pub const IMPORT: &str = "ProductImport";

/// A change of a purchase order's status: DRAFT -> SUBMITTED -> ACKNOWLEDGED or REJECTED
/// by the supplier -> PARTIALLY_RECEIVED -> RECEIVED as the buyer receives stock; the
/// buyer may cancel until the supplier answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderMove {
    /// A person approves a draft the system made (it stays a DRAFT).
    Approve,
    /// The buyer sends its draft to the supplier.
    Submit,
    /// The supplier accepts a submitted order.
    Acknowledge,
    /// The supplier turns a submitted order down.
    Reject,
    /// The buyer withdraws a draft or a submitted order not yet answered.
    Cancel,
    /// The buyer receives stock for an acknowledged order.
    Receive,
}

impl OrderMove {
    /// Whether the supplier makes this move (the buyer makes every other).
    pub fn by_supplier(self) -> bool {
        matches!(self, Self::Acknowledge | Self::Reject)
    }

    /// The statuses the move starts from.
    pub fn from(self) -> &'static [PurchaseOrderStatus] {
        use PurchaseOrderStatus as S;
        match self {
            Self::Approve | Self::Submit => &[S::Draft],
            Self::Acknowledge | Self::Reject => &[S::Submitted],
            Self::Cancel => &[S::Draft, S::Submitted],
            Self::Receive => &[S::Acknowledged, S::PartiallyReceived],
        }
    }

    /// The status the move leads to; a receipt's depends on whether every line has now
    /// arrived in full (`complete`).
    pub fn to(self, complete: bool) -> PurchaseOrderStatus {
        use PurchaseOrderStatus as S;
        match self {
            Self::Approve => S::Draft,
            Self::Submit => S::Submitted,
            Self::Acknowledge => S::Acknowledged,
            Self::Reject => S::Rejected,
            Self::Cancel => S::Cancelled,
            Self::Receive if complete => S::Received,
            Self::Receive => S::PartiallyReceived,
        }
    }

    /// What a refusal calls the move.
    fn what(self) -> &'static str {
        match self {
            Self::Approve => "approval",
            Self::Submit => "submission",
            Self::Acknowledge | Self::Reject => "an answer",
            Self::Cancel => "cancelling",
            Self::Receive => "receiving",
        }
    }

    /// Whether an order in `status` may make the move; if not, why not.
    pub fn check(self, status: PurchaseOrderStatus) -> Result<(), String> {
        if self.from().contains(&status) {
            return Ok(());
        }
        let list: Vec<&str> = self.from().iter().map(|s| s.as_str()).collect();
        Err(format!(
            "{} needs the order to be {}; it is {}",
            self.what(),
            list.join(" or "),
            status.as_str()
        ))
    }
}

/// Whether `order` waits for a person's approval: a DRAFT the system made that nobody
/// approved yet.
pub fn awaiting_approval(order: &ils_entity::purchase_order::Model) -> bool {
    order.status == PurchaseOrderStatus::Draft
        && order.created_by_system
        && order.approved_at.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use PurchaseOrderStatus as S;

    #[test]
    fn moves_start_where_they_may() {
        assert_eq!(OrderMove::Approve.check(S::Draft), Ok(()));
        assert_eq!(OrderMove::Cancel.check(S::Submitted), Ok(()));
        assert_eq!(OrderMove::Receive.check(S::PartiallyReceived), Ok(()));
        assert_eq!(
            OrderMove::Cancel.check(S::Acknowledged),
            Err("cancelling needs the order to be DRAFT or SUBMITTED; it is ACKNOWLEDGED".into())
        );
        assert_eq!(
            OrderMove::Reject.check(S::Draft),
            Err("an answer needs the order to be SUBMITTED; it is DRAFT".into())
        );
    }

    #[test]
    fn moves_lead_where_they_should() {
        assert_eq!(OrderMove::Approve.to(false), S::Draft);
        assert_eq!(OrderMove::Receive.to(false), S::PartiallyReceived);
        assert_eq!(OrderMove::Receive.to(true), S::Received);
        assert!(OrderMove::Acknowledge.by_supplier() && !OrderMove::Cancel.by_supplier());
    }
}
