use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

crate::string_enum!(
    /// Where a stock discrepancy stands.
    DiscrepancyStatus {
        /// The balance and its ledger disagree; waiting for a manager's approval of the
        /// correcting ADJUSTMENT.
        Open = "OPEN",
        /// A manager approved the correction: the ledger got an ADJUSTMENT. Final.
        Approved = "APPROVED",
        /// A later reconciliation found the balance and its ledger agreeing again. Final.
        Resolved = "RESOLVED",
    }
);

/// A balance that disagrees with its ledger, found by reconciliation: OPEN until a manager
/// approves the correcting ADJUSTMENT (or it is found to agree again: RESOLVED).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_discrepancies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub location_id: Uuid,
    pub product_id: Uuid,
    pub balance_on_hand: i64,
    pub ledger_on_hand: i64,
    pub balance_reserved: i64,
    pub ledger_reserved: i64,
    pub status: DiscrepancyStatus,
    pub found_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
    pub resolved_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId)
    }
}
