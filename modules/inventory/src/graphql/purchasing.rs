//! Purchase orders: inputs, the order and its lines, the buyer's list and the supplier's
//! inbox, and one resolver per move of the order.

use crate::graphql::locations::Location;
use crate::graphql::products::Product;
use crate::model::{LINE, PURCHASE_ORDER, PurchaseOrderStatus};
use crate::service::purchasing::{self, Line, NewLine, NewOrder, Order, Receipt, StatusChange};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_common::catalog::draft::price_to_decimal;
use ils_common::company::COMPANY;
use ils_common::money::Money;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::{id, request_parts};
use ils_marketplace::catalog::items::ITEM;
use rust_decimal::Decimal;

/// One line of a new purchase order.
#[derive(InputObject, Clone)]
pub struct PurchaseLineInput {
    /// An active item of the supplier's catalog (a `CatalogItem` ID), once per order.
    pub catalog_item_id: ID,
    /// Units, 1..1000000 and at least the item's minimum order quantity.
    pub quantity: i64,
}

/// What `createPurchaseOrder` takes: a draft order to one supplier.
#[derive(InputObject)]
pub struct CreatePurchaseOrderInput {
    /// A supplier your company has an ACTIVE connection with (a `Company` ID).
    pub supplier_id: ID,
    /// Where the stock will be received (a `StockLocation` ID of yours); your default
    /// location when left out.
    pub location_id: Option<ID>,
    /// The lines, 1 to 200, all priced in one currency.
    pub lines: Vec<PurchaseLineInput>,
    /// Notes for the supplier, at most 2000 characters.
    pub notes: Option<String>,
}

/// What `createPurchaseOrder` gives back.
#[derive(SimpleObject)]
pub struct CreatePurchaseOrderPayload {
    /// The new DRAFT order.
    pub purchase_order: PurchaseOrder,
}

impl From<CreatePurchaseOrderInput> for NewOrder {
    fn from(input: CreatePurchaseOrderInput) -> Self {
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

/// Units of one line that arrived.
#[derive(InputObject)]
pub struct ReceiptLineInput {
    /// The order's line (a `PurchaseOrderLine` ID).
    pub line_id: ID,
    /// Units received now, 1..1000000.
    pub quantity: i64,
}

/// Narrows a list of purchase orders.
#[derive(InputObject, Default)]
pub struct PurchaseOrderFilter {
    /// Only orders in one of these statuses.
    pub statuses: Option<Vec<PurchaseOrderStatus>>,
}

#[derive(Clone)]
pub struct PurchaseOrderLine(pub Line);

/// One line of a purchase order: an item of the supplier's catalog at its price when
/// ordered.
#[Object]
impl PurchaseOrderLine {
    /// The line's global ID (name it when receiving).
    async fn id(&self) -> ID {
        id::encode(LINE, self.0.row.id)
    }
    /// The supplier's catalog item ordered (a `CatalogItem` ID, which `node(id:)` loads
    /// for the supplier, and for the buyer while connected and the item is active). An ID,
    /// not the item: the buyer may no longer be able to read it, and inventory refers to
    /// the marketplace's catalog by ID only; `sku` and `name` say what it was.
    async fn catalog_item_id(&self) -> ID {
        id::encode(ITEM, self.0.row.catalog_item_id)
    }
    /// The buyer's product the line is received as; null for the supplier.
    async fn product(&self) -> Option<Product> {
        self.0.product.clone().map(Product)
    }
    /// The item's SKU when ordered.
    async fn sku(&self) -> &str {
        &self.0.row.sku
    }
    /// The item's name when ordered.
    async fn name(&self) -> &str {
        &self.0.row.name
    }
    /// Units ordered.
    async fn quantity(&self) -> i64 {
        self.0.row.quantity
    }
    /// The agreed price of a unit, in the order's currency.
    async fn unit_price(&self) -> Money {
        Money {
            amount: price_to_decimal(self.0.row.unit_price),
            currency: self.0.currency.clone(),
        }
    }
    /// Units received so far.
    async fn received_quantity(&self) -> i64 {
        self.0.row.received_quantity
    }
    /// Why the purchasing agent drafted the line, in numbers and one sentence; null on a
    /// person's line, and for the supplier (it tells the buyer's stock).
    async fn rationale(&self) -> Option<crate::graphql::agent::DraftRationale> {
        self.0.product.as_ref()?;
        let r: crate::service::agent::Rationale =
            serde_json::from_str(self.0.row.rationale.as_deref()?).ok()?;
        Some(r.into())
    }
}

#[derive(Clone)]
pub struct PurchaseOrder(pub Order);

impl AsMut<Order> for PurchaseOrder {
    fn as_mut(&mut self) -> &mut Order {
        &mut self.0
    }
}

/// A purchase order from a buyer (a practice or a lab) to a supplier it is connected with.
/// The buyer owns it; the supplier sees it from submission on.
#[Object]
impl PurchaseOrder {
    /// The order's global ID.
    pub async fn id(&self) -> ID {
        id::encode(PURCHASE_ORDER, self.0.row.id)
    }
    /// The buyer's number for the order (`PO-000001`), counting per buyer.
    async fn po_number(&self) -> &str {
        &self.0.row.po_number
    }
    /// Where the order stands.
    async fn status(&self) -> PurchaseOrderStatus {
        self.0.row.status
    }
    /// The order's version, raised by every change: name it in every change (a stale one
    /// is CONFLICT).
    async fn version(&self) -> i32 {
        self.0.row.version
    }
    /// The buyer (a `Company` ID). An ID, not the company: a company's record is readable
    /// by its own members only, and the supplier reads the order too.
    async fn buyer_id(&self) -> ID {
        id::encode(COMPANY, self.0.row.company_id)
    }
    /// The supplier (a `Company` ID). An ID, not the company: a company's record is
    /// readable by its own members only; `supplierName` names it.
    async fn supplier_id(&self) -> ID {
        id::encode(COMPANY, self.0.row.supplier_id)
    }
    /// The supplier's name when the order was made.
    async fn supplier_name(&self) -> &str {
        &self.0.row.supplier_name
    }
    /// Where the stock will be received; null for the supplier (a buyer's location is
    /// its own).
    async fn location(&self) -> Option<Location> {
        self.0.location.clone().map(Location::from)
    }
    /// The lines, in the order given.
    async fn lines(&self) -> Vec<PurchaseOrderLine> {
        self.0
            .lines
            .iter()
            .map(|l| {
                PurchaseOrderLine(Line {
                    row: l.clone(),
                    currency: self.0.row.currency.clone(),
                    product: self.0.products.get(&l.product_id).cloned(),
                })
            })
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
    /// The ISO 4217 code of the currency every price of the order is in.
    async fn currency(&self) -> &str {
        &self.0.row.currency
    }
    /// Drafted by the system: it needs a person's approval before submission.
    async fn created_by_system(&self) -> bool {
        self.0.row.created_by_system
    }
    /// When a person approved the system's draft; null when not approved (or not needed).
    async fn approved_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.approved_at
    }
    /// When it was sent to the supplier; null while a DRAFT.
    async fn submitted_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.submitted_at
    }
    /// The supplier's own reference, given when acknowledging; null when not given.
    async fn supplier_reference(&self) -> Option<&str> {
        self.0.row.supplier_reference.as_deref()
    }
    /// Why the supplier turned the order down; null unless REJECTED.
    async fn reject_reason(&self) -> Option<&str> {
        self.0.row.reject_reason.as_deref()
    }
    /// Why the buyer cancelled the order, as it said; null otherwise.
    async fn cancel_reason(&self) -> Option<&str> {
        self.0.row.cancel_reason.as_deref()
    }

    /// Whether the order waits for a person's approval: a DRAFT the system made that
    /// nobody approved yet (what `pendingApprovals` lists).
    async fn awaiting_approval(&self) -> bool {
        crate::model::awaiting_approval(&self.0.row)
    }
    /// The buyer's notes for the supplier.
    async fn notes(&self) -> Option<&str> {
        self.0.row.notes.as_deref()
    }
    /// When the order was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.row.created_at
    }
    /// When the order last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.row.updated_at
    }
}

/// Declares a status change's input (the order, the version the caller saw, and what the
/// change carries) and its payload.
macro_rules! status_change {
    ($mutation:literal, $input:ident, $payload:ident { $($(#[$fdoc:meta])* $field:ident: $ty:ty),* $(,)? }) => {
        #[doc = concat!("What `", $mutation, "` takes.")]
        #[derive(InputObject)]
        pub struct $input {
            /// The purchase order (a `PurchaseOrder` ID).
            pub id: ID,
            /// The order's `version` as you saw it: a stale one is CONFLICT.
            pub version: i32,
            $($(#[$fdoc])* pub $field: $ty,)*
        }

        #[doc = concat!("What `", $mutation, "` gives back.")]
        #[derive(SimpleObject)]
        pub struct $payload {
            /// The purchase order after the change.
            pub purchase_order: PurchaseOrder,
        }
    };
}

status_change!(
    "approvePurchaseOrder",
    ApprovePurchaseOrderInput,
    ApprovePurchaseOrderPayload {}
);
status_change!(
    "submitPurchaseOrder",
    SubmitPurchaseOrderInput,
    SubmitPurchaseOrderPayload {}
);
status_change!(
    "acknowledgePurchaseOrder",
    AcknowledgePurchaseOrderInput,
    AcknowledgePurchaseOrderPayload {
        /// Your own reference for the order, at most 100 characters.
        supplier_reference: Option<String>,
    }
);
status_change!(
    "rejectPurchaseOrder",
    RejectPurchaseOrderInput,
    RejectPurchaseOrderPayload {
        /// Why you turn the order down, 1..1000 characters (the buyer reads it).
        reason: String,
    }
);
status_change!(
    "cancelPurchaseOrder",
    CancelPurchaseOrderInput,
    CancelPurchaseOrderPayload {
        /// Why, at most 1000 characters. Declining a draft the purchasing agent made: the
        /// agent leaves its products alone for `agentSettings.declineMemoryDays` and shows
        /// this reason.
        reason: Option<String>,
    }
);
status_change!(
    "receivePurchaseOrder",
    ReceivePurchaseOrderInput,
    ReceivePurchaseOrderPayload {
        /// What arrived: 1 to 200 lines.
        lines: Vec<ReceiptLineInput>,
        /// Whether more than ordered may be received (default false: more is
        /// BAD_USER_INPUT).
        allow_over_receipt: Option<bool>,
    }
);

#[derive(Default)]
pub struct PurchasingQuery;

#[Object]
impl PurchasingQuery {
    /// Your company's purchase orders (as the buyer), oldest first.
    async fn purchase_orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the orders that match (all of them when left out).")] filter: Option<
            PurchaseOrderFilter,
        >,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<PurchaseOrder>> {
        let page = PageArgs::new(ctx, first, after, last, before);
        list(ctx, false, filter, page).await
    }

    /// Purchase orders sent to your company (as the supplier): the inbox, oldest first.
    async fn supplier_purchase_orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the orders that match (all of them when left out).")] filter: Option<
            PurchaseOrderFilter,
        >,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<PurchaseOrder>> {
        let page = PageArgs::new(ctx, first, after, last, before);
        list(ctx, true, filter, page).await
    }

    /// A purchase order of yours, as buyer or supplier; null when you have none with this
    /// ID.
    async fn purchase_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order's ID.")] id: ID,
    ) -> Result<Option<PurchaseOrder>> {
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

/// A status change of the order named by `input.id`, on the version the caller saw.
async fn change(
    ctx: &Context<'_>,
    id: &ID,
    version: i32,
    to: StatusChange,
) -> Result<PurchaseOrder> {
    let (tenant, db) = request_parts(ctx)?;
    let order_id = id::decode(PURCHASE_ORDER, id, "input.id")?;
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
        #[graphql(desc = "The order.")] input: CreatePurchaseOrderInput,
    ) -> Result<CreatePurchaseOrderPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let order = purchasing::create_draft(db, tenant, input.into(), false).await?;
        Ok(CreatePurchaseOrderPayload {
            purchase_order: PurchaseOrder(order),
        })
    }

    /// A person's approval of a draft the system made (admins and managers); it stays a
    /// DRAFT, ready to submit.
    async fn approve_purchase_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order and its version.")] input: ApprovePurchaseOrderInput,
    ) -> Result<ApprovePurchaseOrderPayload> {
        let order = change(ctx, &input.id, input.version, StatusChange::Approve).await?;
        Ok(ApprovePurchaseOrderPayload {
            purchase_order: order,
        })
    }

    /// Sends a draft to its supplier (admins and managers): SUBMITTED. The connection must
    /// still be ACTIVE.
    async fn submit_purchase_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order and its version.")] input: SubmitPurchaseOrderInput,
    ) -> Result<SubmitPurchaseOrderPayload> {
        let order = change(ctx, &input.id, input.version, StatusChange::Submit).await?;
        Ok(SubmitPurchaseOrderPayload {
            purchase_order: order,
        })
    }

    /// The supplier accepts a submitted order (its admins and managers): ACKNOWLEDGED.
    async fn acknowledge_purchase_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order, its version and your reference.")]
        input: AcknowledgePurchaseOrderInput,
    ) -> Result<AcknowledgePurchaseOrderPayload> {
        let to = StatusChange::Acknowledge(input.supplier_reference);
        let order = change(ctx, &input.id, input.version, to).await?;
        Ok(AcknowledgePurchaseOrderPayload {
            purchase_order: order,
        })
    }

    /// The supplier turns a submitted order down, saying why (its admins and managers):
    /// REJECTED.
    async fn reject_purchase_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order, its version and the reason.")] input: RejectPurchaseOrderInput,
    ) -> Result<RejectPurchaseOrderPayload> {
        let to = StatusChange::Reject(input.reason);
        let order = change(ctx, &input.id, input.version, to).await?;
        Ok(RejectPurchaseOrderPayload {
            purchase_order: order,
        })
    }

    /// The buyer withdraws a draft or a submitted order not yet answered (admins and
    /// managers): CANCELLED. This is also how a person declines a draft the purchasing
    /// agent made.
    async fn cancel_purchase_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order and its version.")] input: CancelPurchaseOrderInput,
    ) -> Result<CancelPurchaseOrderPayload> {
        let to = StatusChange::Cancel(input.reason);
        let order = change(ctx, &input.id, input.version, to).await?;
        Ok(CancelPurchaseOrderPayload {
            purchase_order: order,
        })
    }

    /// Stock that arrived for an acknowledged order (any member of the buyer): RECEIPT
    /// movements at the agreed prices into the order's location; PARTIALLY_RECEIVED, or
    /// RECEIVED once every line has arrived in full.
    async fn receive_purchase_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order, its version and what arrived.")]
        input: ReceivePurchaseOrderInput,
    ) -> Result<ReceivePurchaseOrderPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let order_id = id::decode(PURCHASE_ORDER, &input.id, "input.id")?;
        let receipts = input
            .lines
            .into_iter()
            .map(|l| Receipt {
                line_id: l.line_id,
                quantity: l.quantity,
            })
            .collect();
        let over = input.allow_over_receipt.unwrap_or(false);
        let order =
            purchasing::receive(db, tenant, order_id, input.version, receipts, over).await?;
        Ok(ReceivePurchaseOrderPayload {
            purchase_order: PurchaseOrder(order),
        })
    }
}
