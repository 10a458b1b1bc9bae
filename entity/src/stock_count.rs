use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

crate::string_enum!(
    /// Where a stock count stands.
    StockCountStatus {
        /// Counted quantities are being recorded; the location has no other open count.
        Open = "OPEN",
        /// Its differences were written as ADJUSTMENT movements (once). Final.
        Posted = "POSTED",
        /// Dropped without adjusting anything. Final.
        Cancelled = "CANCELLED",
    }
);

/// A stock count of one location: OPEN while quantities are recorded, POSTED once its
/// differences became adjustments (once).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub location_id: Uuid,
    pub status: StockCountStatus,
    pub posted_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId)
    }
}
