//! What a purchase order looks like to the API: inputs, the order and its lines.
#[allow(unused_imports)]
use super::*;

#[derive(InputObject, Clone)]
pub struct PurchaseLineInput {
    /// An active item of the supplier's catalog.
    pub catalog_item_id: ID,
    /// Units, at least the item's minimum order quantity.
    pub quantity: i64,
}

#[derive(InputObject)]
pub struct PurchaseOrderInput {
    /// A supplier your company has an ACTIVE connection with.
    pub supplier_id: ID,
    /// Where the stock will be received (your default location when left out).
    pub location_id: Option<ID>,
    pub lines: Vec<PurchaseLineInput>,
    pub notes: Option<String>,
}

#[derive(InputObject)]
pub struct ReceiptLineInput {
    pub line_id: ID,
    /// Units received now, more than 0.
    pub quantity: i64,
}

#[derive(Clone)]
pub struct PurchaseOrderLine(pub line::Model, pub String);

#[Object]
impl PurchaseOrderLine {
    async fn id(&self) -> ID {
        id::encode(LINE, self.0.id)
    }
    async fn catalog_item_id(&self) -> ID {
        id::encode(ITEM, self.0.catalog_item_id)
    }
    /// The buyer's product the line is received as (the buyer only).
    async fn product_id(&self, ctx: &Context<'_>) -> Option<ID> {
        let me = ctx
            .data::<TenantContext>()
            .ok()
            .and_then(|t| t.company_id());
        (me == Some(self.0.company_id)).then(|| id::encode(PRODUCT, self.0.product_id))
    }
    async fn sku(&self) -> &str {
        &self.0.sku
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn quantity(&self) -> i64 {
        self.0.quantity
    }
    async fn unit_price(&self) -> Money {
        Money {
            amount: price_to_decimal(self.0.unit_price),
            currency: self.1.clone(),
        }
    }
    async fn received_quantity(&self) -> i64 {
        self.0.received_quantity
    }
}

#[derive(Clone)]
pub struct PurchaseOrder {
    pub row: po::Model,
    pub lines: Vec<line::Model>,
}

#[Object]
impl PurchaseOrder {
    pub async fn id(&self) -> ID {
        id::encode(PURCHASE_ORDER, self.row.id)
    }
    async fn po_number(&self) -> &str {
        &self.row.po_number
    }
    async fn status(&self) -> Option<PurchaseOrderStatus> {
        PurchaseOrderStatus::parse(&self.row.status)
    }
    /// Name it in every change.
    async fn version(&self) -> i32 {
        self.row.version
    }
    async fn buyer_id(&self) -> ID {
        id::encode(COMPANY, self.row.company_id)
    }
    async fn supplier_id(&self) -> ID {
        id::encode(COMPANY, self.row.supplier_id)
    }
    async fn supplier_name(&self) -> &str {
        &self.row.supplier_name
    }
    async fn location_id(&self, ctx: &Context<'_>) -> Option<ID> {
        let me = ctx
            .data::<TenantContext>()
            .ok()
            .and_then(|t| t.company_id());
        (me == Some(self.row.company_id)).then(|| id::encode(LOCATION, self.row.location_id))
    }
    async fn lines(&self) -> Vec<PurchaseOrderLine> {
        self.lines
            .iter()
            .cloned()
            .map(|l| PurchaseOrderLine(l, self.row.currency.clone()))
            .collect()
    }
    /// The sum of the lines at their agreed prices.
    async fn total(&self) -> Money {
        let units: i128 = self
            .lines
            .iter()
            .map(|l| i128::from(l.quantity) * i128::from(l.unit_price))
            .sum();
        Money {
            amount: Decimal::from_i128_with_scale(units, 4),
            currency: self.row.currency.clone(),
        }
    }
    async fn currency(&self) -> &str {
        &self.row.currency
    }
    /// Drafted by the system: it needs a person's approval before submission.
    async fn created_by_system(&self) -> bool {
        self.row.created_by_system
    }
    async fn approved_at(&self) -> Option<DateTime<Utc>> {
        self.row.approved_at
    }
    async fn submitted_at(&self) -> Option<DateTime<Utc>> {
        self.row.submitted_at
    }
    async fn supplier_reference(&self) -> Option<&str> {
        self.row.supplier_reference.as_deref()
    }
    async fn reject_reason(&self) -> Option<&str> {
        self.row.reject_reason.as_deref()
    }
    async fn notes(&self) -> Option<&str> {
        self.row.notes.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}
