use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// A patient's spectacle prescription, kept as entered and in minus-cylinder form.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "prescriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The practice (ECP).
    pub company_id: Uuid,
    pub patient_id: Uuid,
    /// The prescription as entered (JSON: right, left, PDs).
    #[sea_orm(column_type = "Text")]
    pub rx: String,
    /// The same in minus-cylinder form, as labs work (JSON).
    #[sea_orm(column_type = "Text")]
    pub rx_minus_cyl: String,
    pub issued_on: Option<Date>,
    pub expires_on: Option<Date>,
    pub prescriber: Option<String>,
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
