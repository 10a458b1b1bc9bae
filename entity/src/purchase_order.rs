use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

crate::string_enum!(
    /// Where a purchase order stands: DRAFT -> SUBMITTED -> ACKNOWLEDGED or REJECTED by the
    /// supplier -> PARTIALLY_RECEIVED -> RECEIVED as the buyer receives stock; the buyer may
    /// cancel until the supplier answers.
    PurchaseOrderStatus {
        /// Being prepared by the buyer; only the buyer sees it. A draft the system made
        /// needs a person's approval before it can be submitted.
        Draft = "DRAFT",
        /// Sent to the supplier, who now sees it and answers it.
        Submitted = "SUBMITTED",
        /// Accepted by the supplier: stock can be received against it.
        Acknowledged = "ACKNOWLEDGED",
        /// Turned down by the supplier (see `rejectReason`). Final.
        Rejected = "REJECTED",
        /// Some stock has arrived, not all of every line yet.
        PartiallyReceived = "PARTIALLY_RECEIVED",
        /// Every line has arrived in full. Final.
        Received = "RECEIVED",
        /// Withdrawn by the buyer before the supplier answered. Final.
        Cancelled = "CANCELLED",
    }
);

/// A purchase order from a buyer (practice or lab) to a supplier: the buyer owns it; the
/// supplier is its other party from submission on (`supplier_company_id` is filled then).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "purchase_orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The buyer.
    pub company_id: Uuid,
    /// The supplier chosen (the buyer's reference to it, before it can see the order).
    pub supplier_id: Uuid,
    /// The supplier as a party: set when submitted.
    pub supplier_company_id: Option<Uuid>,
    pub supplier_name: String,
    pub po_number: String,
    pub status: PurchaseOrderStatus,
    pub version: i32,
    pub currency: String,
    /// Where received stock goes (the buyer's location).
    pub location_id: Uuid,
    /// Drafted by the system (the assistant, the purchasing agent); a person must approve
    /// it before submission.
    pub created_by_system: bool,
    /// Drafted by the purchasing agent (which updates or withdraws only its own drafts).
    pub drafted_by_agent: bool,
    pub approved_by: Option<Uuid>,
    pub approved_at: Option<DateTimeUtc>,
    pub submitted_at: Option<DateTimeUtc>,
    pub supplier_reference: Option<String>,
    pub reject_reason: Option<String>,
    /// The person who cancelled the order (none: not cancelled, or by the system).
    pub cancelled_by: Option<Uuid>,
    /// Why it was cancelled, as the person said.
    pub cancel_reason: Option<String>,
    pub notes: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A purchase order: the buyer owns it; the supplier is the other party once submitted.
impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId).with_party(Column::SupplierCompanyId)
    }
}
