use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// One line of the append-only stock ledger: the signed changes it made to on-hand and
/// reserved stock, and the balance it left.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_movements")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub location_id: Uuid,
    pub product_id: Uuid,
    pub kind: String,
    pub quantity: i64,
    pub reserved_delta: i64,
    pub unit_cost: Option<i64>,
    pub on_hand_after: i64,
    pub avg_cost_after: i64,
    /// The two halves of a transfer share it.
    pub transfer_id: Option<Uuid>,
    pub reference: Option<String>,
    pub note: Option<String>,
    pub actor_user_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId)
    }
}
