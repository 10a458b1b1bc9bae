use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// One line of a purchase order: a supplier catalog item, the buyer's product it is
/// received as, quantities and the agreed unit price (ten-thousandths).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "purchase_order_lines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub order_id: Uuid,
    pub company_id: Uuid,
    pub supplier_company_id: Option<Uuid>,
    pub catalog_item_id: Uuid,
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub received_quantity: i64,
    /// Why the purchasing agent drafted the line (JSON: its numbers and a sentence); none
    /// on a person's line.
    #[sea_orm(column_type = "Text", nullable)]
    pub rationale: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId).with_party(Column::SupplierCompanyId)
    }
}
