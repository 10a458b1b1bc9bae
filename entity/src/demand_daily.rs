use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// Units of a product sold at a location on one day (UTC), kept with each sale: the demand
/// history forecasts read.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "demand_daily")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub product_id: Uuid,
    pub location_id: Uuid,
    pub day: Date,
    pub units: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId)
    }
}
