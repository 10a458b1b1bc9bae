use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// A company's purchasing agent settings (absent: the defaults, the agent off).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agent_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub company_id: Uuid,
    /// Whether the agent runs every night.
    pub enabled: bool,
    /// The most one draft may be worth, in ten-thousandths of the draft's currency.
    pub max_order_value_units: Option<i64>,
    /// The currency of `max_order_value_units` (a draft in another currency is not made).
    pub max_order_value_currency: Option<String>,
    /// The most units one draft line may order.
    pub max_units_per_line: Option<i64>,
    /// The most new drafts the agent makes in a day (UTC).
    pub max_drafts_per_day: Option<i32>,
    /// Days between two looks at the same product (the review period).
    pub review_days: i32,
    /// Days the agent leaves a product alone after a person declined its draft.
    pub decline_memory_days: i32,
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
