//! Purchase orders: inputs, the order and its lines, the buyer's list and the supplier's
//! inbox, and one resolver per move of the order.

use crate::model::{LINE, LOCATION, PRODUCT, PURCHASE_ORDER, PurchaseOrderStatus};
use crate::service::purchasing::{self, NewLine, NewOrder, Order, Receipt, StatusChange};
use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use ils_common::catalog::draft::price_to_decimal;
use ils_common::company::COMPANY;
use ils_common::money::Money;
use ils_entity::purchase_order_line as line;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::{TenantContext, id, request_parts};
use ils_marketplace::catalog::items::ITEM;
use rust_decimal::Decimal;
use uuid::Uuid;

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

impl From<PurchaseOrderInput> for NewOrder {
    fn from(input: PurchaseOrderInput) -> Self {
        NewOrder {
            supplier_id: input.supplier_id,
            location_id: input.location_id,
            lines: input
                .lines
                .into_iter()
                .map(|l| NewLine {
                    catalog_item_id: l.catalog_item_id,
                    quantity: l.quantity,
                })
                .collect(),
            notes: input.notes,
        }
    }
}

#[derive(InputObject)]
pub struct ReceiptLineInput {
    pub line_id: ID,
    /// Units received now, more than 0.
    pub quantity: i64,
}

#[derive(InputObject, Default)]
pub struct PurchaseOrderFilter {
    pub statuses: Option<Vec<PurchaseOrderStatus>>,
}

/// The caller's company, when the caller is `company`: what only the buyer sees.
fn is_caller(ctx: &Context<'_>, company: Uuid) -> bool {
    let me = ctx
        .data::<TenantContext>()
        .ok()
        .and_then(|t| t.company_id());
    me == Some(company)
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
        is_caller(ctx, self.0.company_id).then(|| id::encode(PRODUCT, self.0.product_id))
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
pub struct PurchaseOrder(pub Order);

impl AsMut<Order> for PurchaseOrder {
    fn as_mut(&mut self) -> &mut Order {
        &mut self.0
    }
}

#[Object]
impl PurchaseOrder {
    pub async fn id(&self) -> ID {
        id::encode(PURCHASE_ORDER, self.0.row.id)
    }
    async fn po_number(&self) -> &str {
        &self.0.row.po_number
    }
    async fn status(&self) -> Option<PurchaseOrderStatus> {
        Some(self.0.row.status)
    }
    /// Name it in every change.
    async fn version(&self) -> i32 {
        self.0.row.version
    }
    async fn buyer_id(&self) -> ID {
        id::encode(COMPANY, self.0.row.company_id)
    }
    async fn supplier_id(&self) -> ID {
        id::encode(COMPANY, self.0.row.supplier_id)
    }
    async fn supplier_name(&self) -> &str {
        &self.0.row.supplier_name
    }
    async fn location_id(&self, ctx: &Context<'_>) -> Option<ID> {
        is_caller(ctx, self.0.row.company_id).then(|| id::encode(LOCATION, self.0.row.location_id))
    }
    async fn lines(&self) -> Vec<PurchaseOrderLine> {
        self.0
            .lines
            .iter()
            .cloned()
            .map(|l| PurchaseOrderLine(l, self.0.row.currency.clone()))
            .collect()
    }
    /// The sum of the lines at their agreed prices.
    async fn total(&self) -> Money {
        let units: i128 = self
            .0
            .lines
            .iter()
            .map(|l| i128::from(l.quantity) * i128::from(l.unit_price))
            .sum();
        Money {
            amount: Decimal::from_i128_with_scale(units, 4),
            currency: self.0.row.currency.clone(),
        }
    }
    async fn currency(&self) -> &str {
        &self.0.row.currency
    }
    /// Drafted by the system: it needs a person's approval before submission.
    async fn created_by_system(&self) -> bool {
        self.0.row.created_by_system
    }
    async fn approved_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.approved_at
    }
    async fn submitted_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.submitted_at
    }
    async fn supplier_reference(&self) -> Option<&str> {
        self.0.row.supplier_reference.as_deref()
    }
    async fn reject_reason(&self) -> Option<&str> {
        self.0.row.reject_reason.as_deref()
    }
    async fn notes(&self) -> Option<&str> {
        self.0.row.notes.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.row.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.row.updated_at
    }
}

#[derive(Default)]
pub struct PurchasingQuery;

#[Object]
impl PurchasingQuery {
    /// Your company's purchase orders (as the buyer).
    async fn purchase_orders(
        &self,
        ctx: &Context<'_>,
        filter: Option<PurchaseOrderFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<PurchaseOrder>> {
        let page = PageArgs::new(ctx, first, after, last, before);
        list(ctx, false, filter, page).await
    }

    /// Purchase orders sent to your company (as the supplier): the inbox.
    async fn supplier_purchase_orders(
        &self,
        ctx: &Context<'_>,
        filter: Option<PurchaseOrderFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<PurchaseOrder>> {
        let page = PageArgs::new(ctx, first, after, last, before);
        list(ctx, true, filter, page).await
    }

    /// A purchase order of yours, as buyer or supplier.
    async fn purchase_order(&self, ctx: &Context<'_>, id: ID) -> Result<Option<PurchaseOrder>> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(purchasing::get(db, tenant, &id).await?.map(PurchaseOrder))
    }
}

/// The buyer's list or the supplier's inbox.
async fn list(
    ctx: &Context<'_>,
    as_supplier: bool,
    filter: Option<PurchaseOrderFilter>,
    page: PageArgs,
) -> Result<Page<PurchaseOrder>> {
    let (tenant, db) = request_parts(ctx)?;
    let statuses = filter.and_then(|f| f.statuses);
    Ok(purchasing::list(db, tenant, as_supplier, statuses, page, PurchaseOrder).await?)
}

/// A status change of the order named by `id`, on the version the caller saw.
async fn change(
    ctx: &Context<'_>,
    id: &ID,
    version: i32,
    to: StatusChange,
) -> Result<PurchaseOrder> {
    let (tenant, db) = request_parts(ctx)?;
    let order_id = id::decode(PURCHASE_ORDER, id, "id")?;
    let order = purchasing::change_status(db, tenant, order_id, version, to).await?;
    Ok(PurchaseOrder(order))
}

#[derive(Default)]
pub struct PurchasingMutation;

#[Object]
impl PurchasingMutation {
    /// A draft purchase order to a supplier you are actively connected to, with lines from
    /// its catalog at its prices (admins and managers). Each line is received as your
    /// product linked to the item, made from the item when you have none.
    async fn create_purchase_order(
        &self,
        ctx: &Context<'_>,
        input: PurchaseOrderInput,
    ) -> Result<PurchaseOrder> {
        let (tenant, db) = request_parts(ctx)?;
        let order = purchasing::create_draft(db, tenant, input.into(), false).await?;
        Ok(PurchaseOrder(order))
    }

    /// A person's approval of a draft the system made (admins and managers).
    async fn approve_purchase_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
    ) -> Result<PurchaseOrder> {
        change(ctx, &id, version, StatusChange::Approve).await
    }

    /// Sends a draft to its supplier (admins and managers).
    async fn submit_purchase_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
    ) -> Result<PurchaseOrder> {
        change(ctx, &id, version, StatusChange::Submit).await
    }

    /// The supplier accepts a submitted order, with its own reference.
    async fn acknowledge_purchase_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        supplier_reference: Option<String>,
    ) -> Result<PurchaseOrder> {
        let to = StatusChange::Acknowledge(supplier_reference);
        change(ctx, &id, version, to).await
    }

    /// The supplier turns a submitted order down, saying why.
    async fn reject_purchase_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        reason: String,
    ) -> Result<PurchaseOrder> {
        change(ctx, &id, version, StatusChange::Reject(reason)).await
    }

    /// The buyer withdraws a draft or a submitted order not yet answered.
    async fn cancel_purchase_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
    ) -> Result<PurchaseOrder> {
        change(ctx, &id, version, StatusChange::Cancel).await
    }

    /// Stock that arrived for an acknowledged order: RECEIPT movements at the agreed
    /// prices; more than ordered only with `allowOverReceipt`.
    async fn receive_purchase_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        lines: Vec<ReceiptLineInput>,
        allow_over_receipt: Option<bool>,
    ) -> Result<PurchaseOrder> {
        let (tenant, db) = request_parts(ctx)?;
        let order_id = id::decode(PURCHASE_ORDER, &id, "id")?;
        let receipts = lines
            .into_iter()
            .map(|l| Receipt {
                line_id: l.line_id,
                quantity: l.quantity,
            })
            .collect();
        let over = allow_over_receipt.unwrap_or(false);
        let order = purchasing::receive(db, tenant, order_id, version, receipts, over).await?;
        Ok(PurchaseOrder(order))
    }
}
