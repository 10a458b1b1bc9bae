use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

crate::string_enum!(
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
    /// Drafted by the system (the assistant); a person must approve it before submission.
    pub created_by_system: bool,
    pub approved_by: Option<Uuid>,
    pub approved_at: Option<DateTimeUtc>,
    pub submitted_at: Option<DateTimeUtc>,
    pub supplier_reference: Option<String>,
    pub reject_reason: Option<String>,
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
