use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// A practice's patient: health data, readable only by that practice, every read audited.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "patients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The practice (ECP).
    pub company_id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: Option<Date>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The practice's own reference (its practice-management system's id); what labs see.
    pub external_ref: Option<String>,
    /// Lower-cased names and reference, for search.
    #[sea_orm(column_type = "Text")]
    pub search_text: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Health data: the practice's own, nobody else's (a lab sees an order's patient reference,
/// never these rows).
impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId)
    }
}
