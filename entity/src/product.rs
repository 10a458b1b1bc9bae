use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// A product a company stocks. Money is in ten-thousandths of `currency`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub sku: String,
    pub gtin: Option<String>,
    pub name: String,
    pub brand: Option<String>,
    pub category: String,
    /// The category's attributes (JSON, as the supplier catalog keeps them).
    #[sea_orm(column_type = "Text")]
    pub attributes: String,
    pub cost_units: Option<i64>,
    pub price_units: Option<i64>,
    pub currency: String,
    pub reorder_point: Option<i64>,
    pub min_quantity: Option<i64>,
    pub max_quantity: Option<i64>,
    pub lead_time_days: Option<i32>,
    pub safety_stock: Option<i64>,
    /// A connected supplier's catalog item this product is bought as.
    pub supplier_item_id: Option<Uuid>,
    pub supplier_company_id: Option<Uuid>,
    pub active: bool,
    #[sea_orm(column_type = "Text")]
    pub search_text: String,
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
