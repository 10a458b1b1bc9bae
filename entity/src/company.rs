use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

crate::string_enum!(
    /// Where a company's registration stands.
    CompanyStatus {
        /// The company works on ILS: practices from sign-up, labs and suppliers once approved.
        Active = "ACTIVE",
        /// A lab or supplier waiting for the platform's approval: its users can log in and
        /// prepare (such as the marketplace profile), but it is not listed in the directory
        /// and cannot connect or trade yet.
        PendingApproval = "PENDING_APPROVAL",
        /// The platform refused the registration (see `rejectionReason`); its users cannot
        /// log in.
        Rejected = "REJECTED",
    }
);

crate::string_enum!(
    /// What kind of business a company is; it decides what the company can do on ILS.
    CompanyType {
        /// An eye-care practice (optometrist, optician): keeps patients and prescriptions,
        /// sends lens orders to labs, buys from suppliers.
        Ecp = "ECP",
        /// A lens lab: produces practices' lens orders and ships them back; buys from
        /// suppliers.
        Lab = "LAB",
        /// A supplier of frames, lenses, blanks, contact lenses or sundries: publishes a
        /// catalog and answers purchase orders.
        Supplier = "SUPPLIER",
    }
);

/// A tenant: an eye-care practice, a lens lab or a supplier.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "companies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// ECP | LAB | SUPPLIER
    pub company_type: String,
    pub status: CompanyStatus,
    pub plan: String,
    pub rejection_reason: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub opening_hours: Option<String>,
    /// The plan the company asked for, until a platform admin decides.
    pub requested_plan: Option<String>,
    /// Rate budgets other than the plan's, set by platform admins (JSON).
    pub rate_overrides: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::Id).with_platform()
    }
}
