use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

crate::string_enum!(
    /// Where a connection between two companies stands. Only an ACTIVE connection opens
    /// ordering and the supplier's private catalog.
    ConnectionStatus {
        /// Asked for, waiting for the company asked to accept or reject it.
        Pending = "PENDING",
        /// Accepted: the two companies trade (orders, purchase orders, catalog).
        Active = "ACTIVE",
        /// Declined by the company asked. The requester may ask again.
        Rejected = "REJECTED",
        /// Ended by either company (or withdrawn while pending); either may ask again.
        Ended = "ENDED",
    }
);

/// A connection between two companies (practice to lab, practice to supplier, lab to
/// supplier): one row both parties see. The requester owns it; the responder is the other
/// party. Names and types are copied at request time, since neither side may read the
/// other's company row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "connections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub requester_company_id: Uuid,
    pub responder_company_id: Uuid,
    pub requester_name: String,
    pub requester_type: String,
    pub responder_name: String,
    pub responder_type: String,
    /// The two company ids in order, so a pair has one key whichever side asked: at most
    /// one PENDING or ACTIVE connection per pair (a partial unique index).
    pub pair_key: String,
    /// The connection's status (the column keeps its first name, `state`).
    pub state: ConnectionStatus,
    pub message: Option<String>,
    pub requested_by: Option<Uuid>,
    pub responded_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    pub ended_by_company_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A connection is one row both parties see and change; the requester creates it.
impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::RequesterCompanyId).with_party(Column::ResponderCompanyId)
    }
}
