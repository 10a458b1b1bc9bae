//! The order's lifecycle: statuses, who may move an order from which status to which.
#[allow(unused_imports)]
use super::*;

pub const ORDER: &str = "LensOrder";

ils_kernel::string_enum!(
    /// Where a lens order stands. The practice drafts, submits, may cancel before
    /// production, and marks the job ARRIVED and DELIVERED (to the patient); the lab
    /// RECEIVES it (accepts, with its job number and due date), may put it ON_HOLD with a
    /// question or REJECT it, then moves it through production and quality check and SHIPS it.
    OrderStatus {
        Draft = "DRAFT",
        Submitted = "SUBMITTED",
        Received = "RECEIVED",
        OnHold = "ON_HOLD",
        InProduction = "IN_PRODUCTION",
        QualityCheck = "QUALITY_CHECK",
        Shipped = "SHIPPED",
        Arrived = "ARRIVED",
        Delivered = "DELIVERED",
        Cancelled = "CANCELLED",
        Rejected = "REJECTED",
    }
);

ils_kernel::string_enum!(JobType { New = "NEW", Remake = "REMAKE" });

ils_kernel::string_enum!(
    /// Why a job is made again.
    RemakeReason {
        LabError = "LAB_ERROR",
        PractitionerError = "PRACTITIONER_ERROR",
        Warranty = "WARRANTY",
        NonAdapt = "NON_ADAPT",
    }
);

ils_kernel::string_enum!(
    ProductionStage {
        Surfacing = "SURFACING",
        Coating = "COATING",
        Edging = "EDGING",
        Assembly = "ASSEMBLY",
    }
);

/// Which side of an order a company is on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Party {
    Practice,
    Lab,
}

/// Every move each party may make: (from, to, who).
pub(crate) const MOVES: &[(OrderStatus, OrderStatus, Party)] = {
    use OrderStatus::*;
    use Party::*;
    &[
        (Submitted, Cancelled, Practice),
        (Received, Cancelled, Practice),
        (OnHold, Cancelled, Practice),
        (OnHold, Received, Practice), // the practice answers the lab's question
        (Shipped, Arrived, Practice),
        (Arrived, Delivered, Practice),
        (Submitted, Received, Lab),
        (Submitted, Rejected, Lab),
        (Received, Rejected, Lab),
        (Received, OnHold, Lab),
        (Received, InProduction, Lab),
        (InProduction, InProduction, Lab), // the next production stage
        (InProduction, QualityCheck, Lab),
        (QualityCheck, InProduction, Lab), // failed inspection: back to a stage
        (QualityCheck, Shipped, Lab),
    ]
};

/// Where `party` may move an order that is in `from`.
pub fn allowed(from: OrderStatus, party: Party) -> Vec<OrderStatus> {
    MOVES
        .iter()
        .filter(|(f, _, p)| *f == from && *p == party)
        .map(|(_, t, _)| *t)
        .collect()
}

impl OrderStatus {
    /// Whether nothing more happens to an order in this status.
    pub fn finished(self) -> bool {
        matches!(
            self,
            OrderStatus::Delivered | OrderStatus::Cancelled | OrderStatus::Rejected
        )
    }
}
