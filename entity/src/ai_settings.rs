use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// A company's assistant settings (absent: the defaults).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ai_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub company_id: Uuid,
    /// Patient names, birth dates and contact details may reach an external model.
    pub share_patient_data: bool,
    /// The company's own monthly limit in micro-units of the price table's currency
    /// (USD): at most the platform's; none means the platform's.
    pub monthly_cap_micros: Option<i64>,
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
