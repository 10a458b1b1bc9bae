//! The order's lifecycle: who may move an order from which status to which. The statuses
//! themselves (and the job type, remake reason and production stage) are the order row's
//! columns, declared with it in `ils_entity::lens_order`.

pub use ils_entity::lens_order::{JobType, OrderStatus, ProductionStage, RemakeReason};

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

/// Where the lab may re-measure a job: while it holds it, before quality check.
pub const LAB_MEASURES: [OrderStatus; 3] = [
    OrderStatus::Received,
    OrderStatus::OnHold,
    OrderStatus::InProduction,
];

/// A remake replaces lenses that were made: the original has left the lab.
pub const REMADE_FROM: [OrderStatus; 3] = [
    OrderStatus::Shipped,
    OrderStatus::Arrived,
    OrderStatus::Delivered,
];
