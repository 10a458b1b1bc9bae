use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// One product in a supplier's catalog.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "catalog_items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The supplier.
    pub company_id: Uuid,
    /// Unique per supplier.
    pub sku: String,
    /// UPC-A, EAN-13, EAN-8 or GTIN-14, digits only, check digit verified.
    pub gtin: Option<String>,
    pub name: String,
    pub brand: Option<String>,
    /// FRAME | SPECTACLE_LENS | LENS_BLANK | CONTACT_LENS | SUNDRY
    pub category: String,
    /// The wholesale price in ten-thousandths of the currency unit: exact, and ordered.
    pub price_units: i64,
    /// ISO 4217, upper case.
    pub currency: String,
    pub min_order_quantity: i32,
    /// The item is sold in multiples of this many units (its pack or carton); the
    /// purchasing agent rounds up to it.
    pub order_multiple: i32,
    pub lead_time_days: i32,
    pub active: bool,
    /// The category's attributes, as JSON.
    #[sea_orm(column_type = "Text")]
    pub attributes: String,
    /// Lower-cased SKU, name and brand, for text search.
    #[sea_orm(column_type = "Text")]
    pub search_text: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A supplier's catalog: its own to change, readable by actively connected companies.
impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId).with_connected_read(Column::CompanyId)
    }
}
