//! Purchase orders from a buyer (practice or lab) to a supplier it is actively connected
//! with, with lines from that supplier's catalog: drafts (a person's, or the system's,
//! which wait for a person's approval before they can be submitted), submission, the
//! supplier's answer, cancellation, and receipts (RECEIPT movements at the agreed price,
//! so the moving average follows), each a move of [`OrderMove`] on the version the caller
//! saw. One row both parties see once submitted, like a lens order.

use crate::events::{
    PoAcknowledged, PoCancelled, PoReceived, PoRejected, PoSubmitted, change, parties,
};
use crate::ledger::{Movement, MovementKind};
use crate::model::{LINE, OrderMove, PURCHASE_ORDER, PurchaseOrderStatus};
use crate::service::locations::location_of;
use crate::service::stock::{allows_negative, locked_product, parts, post};
use crate::service::{by_global_id, lock_company};
use async_graphql::ID;
use chrono::Utc;
use ils_common::company::{COMPANY, CompanyType};
use ils_common::search;
use ils_entity::{catalog_item, product};
use ils_entity::{purchase_order as po, purchase_order_line as line};
use ils_kernel::authz::{require_manager, require_member};
use ils_kernel::connections::active_partner;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Db, TenantContext, Tx, id};
use ils_marketplace::catalog::items::ITEM;
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, PaginatorTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use uuid::Uuid;

/// The most units one line may order.
pub(crate) const MAX_LINE_QUANTITY: i64 = 1_000_000;
/// The most lines one order may have.
pub(crate) const MAX_LINES: usize = 200;

/// A purchase order with its lines; for the buyer also its location and the lines'
/// products (the supplier cannot read those: `None` and empty).
pub type Order = super::WithLines<po::Model, line::Model>;

impl super::HasLines for po::Model {
    type Line = line::Model;
    fn id(&self) -> Uuid {
        self.id
    }
    fn location_id(&self) -> Uuid {
        self.location_id
    }
    fn product_of(line: &line::Model) -> Uuid {
        line.product_id
    }
}

/// A new order as the buyer (or the system) asks for it.
pub struct NewOrder {
    /// A supplier the buyer has an ACTIVE connection with.
    pub supplier_id: ID,
    /// Where the stock will be received (the default location when `None`).
    pub location_id: Option<ID>,
    pub lines: Vec<NewLine>,
    pub notes: Option<String>,
}

/// One line of a new order: an active item of the supplier's catalog and its units.
pub struct NewLine {
    pub catalog_item_id: ID,
    pub quantity: i64,
}

/// Units of one line that arrived.
pub struct Receipt {
    pub line_id: ID,
    pub quantity: i64,
}

/// A change of an order's status other than a receipt, with what it carries.
pub enum StatusChange {
    Approve,
    Submit,
    /// The supplier's own reference, if it gives one.
    Acknowledge(Option<String>),
    /// Why the supplier turns the order down.
    Reject(String),
    /// Why the buyer withdraws it, if it says (a person declining a system draft: the
    /// purchasing agent leaves its products alone for a while).
    Cancel(Option<String>),
}

impl StatusChange {
    fn step(&self) -> OrderMove {
        match self {
            Self::Approve => OrderMove::Approve,
            Self::Submit => OrderMove::Submit,
            Self::Acknowledge(_) => OrderMove::Acknowledge,
            Self::Reject(_) => OrderMove::Reject,
            Self::Cancel(_) => OrderMove::Cancel,
        }
    }
}

/// The lines of these orders, in one statement.
async fn lines_of(tx: &Tx, orders: &[Uuid]) -> AppResult<HashMap<Uuid, Vec<line::Model>>> {
    let mut out: HashMap<Uuid, Vec<line::Model>> = HashMap::new();
    if orders.is_empty() {
        return Ok(out);
    }
    for l in tx
        .select::<line::Entity>()
        .filter(line::Column::OrderId.is_in(orders.iter().copied()))
        .order_by_asc(line::Column::Id)
        .all(tx.conn())
        .await?
    {
        out.entry(l.order_id).or_default().push(l);
    }
    Ok(out)
}

/// The order as it stands in `tx`, once `tx` has committed.
async fn committed(tx: Tx, order_id: Uuid) -> AppResult<Order> {
    let order = load(&tx, order_id).await?;
    tx.commit().await?;
    Ok(order)
}

async fn load(tx: &Tx, order_id: Uuid) -> AppResult<Order> {
    let row = tx.get::<po::Entity>(order_id).await?;
    complete(tx, vec![row])
        .await?
        .pop()
        .ok_or(AppError::NotFound)
}

/// These orders with their lines and, for the buyer's own, the location and the lines'
/// products: at most three statements, whatever the number.
async fn complete(tx: &Tx, rows: Vec<po::Model>) -> AppResult<Vec<Order>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let lines = lines_of(tx, &ids).await?;
    // What only the buyer reads (the guard would hide it from the supplier anyway).
    let me = tx.scope().company();
    let mine = |r: &&po::Model| Some(r.company_id) == me;
    let products: Vec<Uuid> = rows
        .iter()
        .filter(mine)
        .flat_map(|r| lines.get(&r.id).into_iter().flatten().map(|l| l.product_id))
        .collect();
    let locations: Vec<Uuid> = rows.iter().filter(mine).map(|r| r.location_id).collect();
    let (products, locations) = if locations.is_empty() {
        Default::default()
    } else {
        parts(tx, Some((products, locations))).await?
    };
    Ok(super::with_lines(rows, lines, &products, &locations))
}

/// The orders among `ids` the caller can see, complete.
pub async fn by_ids(tx: &Tx, ids: Vec<Uuid>) -> AppResult<Vec<Order>> {
    let rows = tx.find_many::<po::Entity>(ids).await?;
    complete(tx, rows).await
}

/// An order line with what it is read with: its order's currency and, for the buyer, its
/// product.
#[derive(Clone)]
pub struct Line {
    pub row: line::Model,
    pub currency: String,
    pub product: Option<product::Model>,
}

/// The order lines among `ids` the caller can see (as buyer or supplier), each with its
/// order's currency and, for the buyer, its product.
pub async fn lines_by_ids(tx: &Tx, ids: Vec<Uuid>) -> AppResult<Vec<Line>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let rows = tx.find_many::<line::Entity>(ids).await?;
    let orders = tx
        .select::<po::Entity>()
        .filter(po::Column::Id.is_in(rows.iter().map(|l| l.order_id)))
        .all(tx.conn())
        .await?;
    let currency: HashMap<Uuid, String> = orders.into_iter().map(|o| (o.id, o.currency)).collect();
    let me = tx.scope().company();
    let products: Vec<Uuid> = rows
        .iter()
        .filter(|l| Some(l.company_id) == me)
        .map(|l| l.product_id)
        .collect();
    let products: HashMap<Uuid, product::Model> = if products.is_empty() {
        HashMap::new()
    } else {
        tx.select::<product::Entity>()
            .filter(product::Column::Id.is_in(products))
            .all(tx.conn())
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect()
    };
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Some(Line {
                currency: currency.get(&row.order_id)?.clone(),
                product: products.get(&row.product_id).cloned(),
                row,
            })
        })
        .collect())
}

/// The supplier's name on the ACTIVE connection between `me` and `supplier`, when the
/// supplier side of it is a supplier.
async fn connected_supplier(tx: &Tx, me: Uuid, supplier: Uuid) -> AppResult<Option<String>> {
    active_partner(tx, me, supplier, CompanyType::Supplier.as_str()).await
}

/// The buyer's product for a supplier item: the one linked to it, else a new one made from
/// the item (its SKU, name, category, attributes, the price as cost).
async fn product_for(
    tx: &Tx,
    item: &catalog_item::Model,
    field: &str,
) -> AppResult<product::Model> {
    if let Some(p) = tx
        .select::<product::Entity>()
        .filter(product::Column::SupplierItemId.eq(item.id))
        .one(tx.conn())
        .await?
    {
        // Receipts blend the price into the product's average cost: one currency.
        if p.currency != item.currency {
            return Err(AppError::bad_input(
                field,
                format!(
                    "your product {} is kept in {}, the item is sold in {}",
                    p.sku, p.currency, item.currency
                ),
            ));
        }
        return Ok(p);
    }
    let now = Utc::now();
    tx.insert(product::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: sea_orm::ActiveValue::NotSet,
        sku: Set(item.sku.clone()),
        gtin: Set(item.gtin.clone()),
        name: Set(item.name.clone()),
        brand: Set(item.brand.clone()),
        category: Set(item.category.clone()),
        attributes: Set(item.attributes.clone()),
        cost_units: Set(Some(item.price_units)),
        price_units: Set(None),
        currency: Set(item.currency.clone()),
        reorder_point: Set(None),
        min_quantity: Set(None),
        max_quantity: Set(None),
        lead_time_days: Set(Some(item.lead_time_days)),
        safety_stock: Set(None),
        supplier_item_id: Set(Some(item.id)),
        supplier_company_id: Set(Some(item.company_id)),
        active: Set(true),
        search_text: Set(search::text_of(
            [item.sku.as_str(), item.name.as_str()]
                .into_iter()
                .chain(item.brand.as_deref()),
        )),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .await
    .map_err(|e| match e {
        AppError::Conflict(_) => AppError::bad_input(
            field,
            format!(
                "you have a product with SKU {} that is not linked to this item: link it \
                 (updateProduct with supplierItemId) first",
                item.sku
            ),
        ),
        e => e,
    })
}

/// A new draft for the acting buyer (its admins and managers), lines from the supplier's
/// catalog at its prices; `by_system` marks a draft that waits for a person's approval
/// (the system acts as a member).
pub async fn create_draft(
    db: &Db,
    ctx: &TenantContext,
    input: NewOrder,
    by_system: bool,
) -> AppResult<Order> {
    let tx = db.tenant(ctx).await?;
    let me = if by_system {
        require_member(ctx)?
    } else {
        require_manager(&tx, ctx).await?
    };
    let supplier = id::decode(COMPANY, &input.supplier_id, "input.supplierId")?;
    let Some(supplier_name) = connected_supplier(&tx, me, supplier).await? else {
        return Err(AppError::bad_input(
            "input.supplierId",
            "not a supplier your company has an ACTIVE connection with",
        ));
    };
    if input.lines.is_empty() || input.lines.len() > MAX_LINES {
        return Err(AppError::bad_input(
            "input.lines",
            format!("1 to {MAX_LINES} lines"),
        ));
    }
    let notes = ils_common::validate::optional_text(input.notes.as_deref(), "input.notes", 2000)?;
    // Numbers are taken one at a time per buyer.
    lock_company(&tx, me).await?;
    let location = location_of(&tx, me, input.location_id.as_ref(), "input.locationId").await?;
    let mut currency: Option<String> = None;
    let mut lines = Vec::new();
    for (i, l) in input.lines.iter().enumerate() {
        let field = format!("input.lines.{i}.catalogItemId");
        let item_id = id::decode(ITEM, &l.catalog_item_id, &field)?;
        let item = tx
            .find::<catalog_item::Entity>(item_id)
            .await?
            .filter(|it| it.company_id == supplier && it.active)
            .ok_or_else(|| AppError::bad_input(&field, "not an active item of this supplier"))?;
        let qfield = format!("input.lines.{i}.quantity");
        if !(1..=MAX_LINE_QUANTITY).contains(&l.quantity) {
            return Err(AppError::bad_input(
                &qfield,
                format!("1..{MAX_LINE_QUANTITY}"),
            ));
        }
        if l.quantity < i64::from(item.min_order_quantity) {
            return Err(AppError::bad_input(
                &qfield,
                format!(
                    "the supplier sells {} in at least {}",
                    item.sku, item.min_order_quantity
                ),
            ));
        }
        match &currency {
            None => currency = Some(item.currency.clone()),
            Some(c) if *c != item.currency => {
                return Err(AppError::bad_input(
                    &field,
                    format!(
                        "one order is in one currency ({c}); this item is in {}",
                        item.currency
                    ),
                ));
            }
            _ => {}
        }
        if lines
            .iter()
            .any(|(it, _, _): &(catalog_item::Model, i64, product::Model)| it.id == item.id)
        {
            return Err(AppError::bad_input(
                &field,
                "this item is on the order already",
            ));
        }
        let product = product_for(&tx, &item, &field).await?;
        lines.push((item, l.quantity, product));
    }
    let lines = lines
        .into_iter()
        .map(|(item, quantity, product)| DraftLine {
            item,
            product,
            quantity,
            rationale: None,
        })
        .collect();
    let head = Head {
        supplier,
        supplier_name,
        location: location.id,
        currency: currency.unwrap_or_default(),
        by_system,
        by_agent: false,
        notes,
    };
    let row = insert_order(&tx, me, head, lines).await?;
    committed(tx, row.id).await
}

/// What a new order is, apart from its lines.
pub(crate) struct Head {
    pub supplier: Uuid,
    pub supplier_name: String,
    pub location: Uuid,
    pub currency: String,
    pub by_system: bool,
    /// The purchasing agent's own draft.
    pub by_agent: bool,
    pub notes: Option<String>,
}

/// One line of a draft being written: the supplier's item, the buyer's product it is
/// received as, the units, and (the agent's lines) why.
pub(crate) struct DraftLine {
    pub item: catalog_item::Model,
    pub product: product::Model,
    pub quantity: i64,
    pub rationale: Option<String>,
}

fn line_rows(order: Uuid, lines: &[DraftLine]) -> Vec<line::ActiveModel> {
    lines
        .iter()
        .map(|l| line::ActiveModel {
            id: Set(Uuid::now_v7()),
            order_id: Set(order),
            company_id: sea_orm::ActiveValue::NotSet,
            supplier_company_id: Set(None),
            catalog_item_id: Set(l.item.id),
            product_id: Set(l.product.id),
            sku: Set(l.item.sku.clone()),
            name: Set(l.item.name.clone()),
            quantity: Set(l.quantity),
            unit_price: Set(l.item.price_units),
            received_quantity: Set(0),
            rationale: Set(l.rationale.clone()),
        })
        .collect()
}

/// Writes a new DRAFT with its next number and its lines (the caller holds the
/// company's lock, so numbers are taken one at a time).
pub(crate) async fn insert_order(
    tx: &Tx,
    me: Uuid,
    head: Head,
    lines: Vec<DraftLine>,
) -> AppResult<po::Model> {
    let n = tx
        .select::<po::Entity>()
        .filter(po::Column::CompanyId.eq(me))
        .count(tx.conn())
        .await?;
    let now = Utc::now();
    let row = tx
        .insert(po::ActiveModel {
            id: Set(Uuid::now_v7()),
            company_id: sea_orm::ActiveValue::NotSet,
            supplier_id: Set(head.supplier),
            supplier_company_id: Set(None),
            supplier_name: Set(head.supplier_name),
            po_number: Set(format!("PO-{:06}", n + 1)),
            status: Set(PurchaseOrderStatus::Draft),
            version: Set(1),
            currency: Set(head.currency),
            location_id: Set(head.location),
            created_by_system: Set(head.by_system || head.by_agent),
            drafted_by_agent: Set(head.by_agent),
            approved_by: Set(None),
            approved_at: Set(None),
            submitted_at: Set(None),
            supplier_reference: Set(None),
            reject_reason: Set(None),
            cancelled_by: Set(None),
            cancel_reason: Set(None),
            notes: Set(head.notes),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .await?;
    tx.insert_many::<line::Entity, _>(line_rows(row.id, &lines))
        .await?;
    Ok(row)
}

/// Rewrites the lines of `order`, a system draft nobody approved yet, on the version it
/// was read at: its lines are replaced and its version moves on (CONFLICT when a person
/// approved or changed it meanwhile).
pub(crate) async fn replace_lines(
    tx: &Tx,
    order: &po::Model,
    currency: &str,
    lines: Vec<DraftLine>,
    notes: Option<String>,
) -> AppResult<po::Model> {
    let row = set_status(
        tx,
        order,
        order.version,
        PurchaseOrderStatus::Draft,
        vec![
            (po::Column::Notes, Expr::value(notes)),
            (po::Column::Currency, Expr::value(currency)),
        ],
    )
    .await?;
    tx.delete_many::<line::Entity>()
        .filter(line::Column::OrderId.eq(order.id))
        .exec(tx.conn())
        .await?;
    tx.insert_many::<line::Entity, _>(line_rows(order.id, &lines))
        .await?;
    Ok(row)
}

/// Cancels `order`, a system draft nobody approved, because nothing on it is needed any
/// more (no person cancelled it: nothing is remembered as declined); the buyer hears of it
/// as of any cancellation.
pub(crate) async fn withdraw(tx: &Tx, order: &po::Model, reason: &str) -> AppResult<po::Model> {
    let row = set_status(
        tx,
        order,
        order.version,
        PurchaseOrderStatus::Cancelled,
        vec![(po::Column::CancelReason, Expr::value(reason))],
    )
    .await?;
    tx.emit(&PoCancelled(change(&row)), &parties(&row)).await?;
    Ok(row)
}

/// A draft purchase order made by the system for `company` (the assistant, reorder
/// suggestions): it waits for a person's approval before it can be submitted.
pub async fn system_draft(db: &Db, company: Uuid, input: NewOrder) -> AppResult<Order> {
    #[allow(clippy::disallowed_methods)] // the draft is the company's own, waiting for approval
    let ctx = ils_kernel::system::act_for(
        db,
        company,
        "inventory.system_draft",
        "draft a purchase order for a person to approve",
    )
    .await?;
    create_draft(db, &ctx, input, true).await
}

/// CONFLICT: the order is no longer at the version the caller named.
fn stale(now: &po::Model, version: i32) -> AppError {
    AppError::Conflict(format!(
        "the purchase order changed: it is {} at version {} (you named version {version})",
        now.status.as_str(),
        now.version
    ))
}

/// Applies one status change on the version the caller saw, with extra columns; CONFLICT
/// when the order changed meanwhile.
async fn set_status(
    tx: &Tx,
    row: &po::Model,
    version: i32,
    to: PurchaseOrderStatus,
    mut sets: Vec<(po::Column, SimpleExpr)>,
) -> AppResult<po::Model> {
    sets.push((po::Column::Status, Expr::value(to)));
    sets.push((po::Column::Version, Expr::col(po::Column::Version).add(1)));
    sets.push((po::Column::UpdatedAt, Expr::value(Utc::now())));
    let n = tx
        .update_many::<po::Entity>(
            sets,
            Condition::all()
                .add(po::Column::Id.eq(row.id))
                .add(po::Column::Version.eq(version))
                .add(po::Column::Status.eq(row.status)),
        )
        .await?;
    if n == 0 {
        let now = tx.get::<po::Entity>(row.id).await?;
        return Err(stale(&now, version));
    }
    tx.get::<po::Entity>(row.id).await
}

/// The order as the party making `step` sees it (the buyer, or for an answer the
/// supplier); NOT_FOUND for anyone else.
async fn party_row(tx: &Tx, me: Uuid, order_id: Uuid, step: OrderMove) -> AppResult<po::Model> {
    let row = tx.get::<po::Entity>(order_id).await?;
    let party = if step.by_supplier() {
        row.supplier_company_id
    } else {
        Some(row.company_id)
    };
    if party != Some(me) {
        return Err(AppError::NotFound);
    }
    Ok(row)
}

/// BAD_USER_INPUT on `input.id` when the order's status does not allow `step`.
fn may(row: &po::Model, step: OrderMove) -> AppResult<()> {
    step.check(row.status)
        .map_err(|message| AppError::bad_input("input.id", message))
}

/// One status change of an order on the version the caller saw, by the admins and
/// managers of the party that makes it: a person's approval of the system's draft, the
/// buyer's submission or cancellation, the supplier's answer. Both parties hear of every
/// change but an approval.
pub async fn change_status(
    db: &Db,
    ctx: &TenantContext,
    order_id: Uuid,
    version: i32,
    change_to: StatusChange,
) -> AppResult<Order> {
    let step = change_to.step();
    let tx = db.tenant(ctx).await?;
    let me = require_manager(&tx, ctx).await?;
    let row = party_row(&tx, me, order_id, step).await?;
    may(&row, step)?;
    let sets = match change_to {
        StatusChange::Approve => {
            if row.approved_at.is_some() {
                return Err(AppError::Conflict("the order is approved already".into()));
            }
            let person = ctx
                .responsible_user()
                .ok_or_else(|| AppError::forbidden("a person approves a purchase order"))?;
            vec![
                (po::Column::ApprovedBy, Expr::value(person)),
                (po::Column::ApprovedAt, Expr::value(Utc::now())),
            ]
        }
        StatusChange::Submit => {
            if row.created_by_system && row.approved_at.is_none() {
                return Err(AppError::bad_input(
                    "input.id",
                    "the system drafted this order: a person approves it (approvePurchaseOrder) before it is sent",
                ));
            }
            if connected_supplier(&tx, me, row.supplier_id)
                .await?
                .is_none()
            {
                return Err(AppError::bad_input(
                    "input.id",
                    "your company no longer has an ACTIVE connection with this supplier",
                ));
            }
            vec![
                (po::Column::SupplierCompanyId, Expr::value(row.supplier_id)),
                (po::Column::SubmittedAt, Expr::value(Utc::now())),
            ]
        }
        StatusChange::Acknowledge(reference) => {
            let reference = ils_common::validate::optional_text(
                reference.as_deref(),
                "input.supplierReference",
                100,
            )?;
            vec![(po::Column::SupplierReference, Expr::value(reference))]
        }
        StatusChange::Reject(reason) => {
            let reason = ils_common::validate::text(&reason, "input.reason", 1000)?;
            vec![(po::Column::RejectReason, Expr::value(reason))]
        }
        StatusChange::Cancel(reason) => {
            let reason =
                ils_common::validate::optional_text(reason.as_deref(), "input.reason", 1000)?;
            vec![
                (po::Column::CancelledBy, Expr::value(ctx.responsible_user())),
                (po::Column::CancelReason, Expr::value(reason)),
            ]
        }
    };
    let row = set_status(&tx, &row, version, step.to(false), sets).await?;
    let (said, to) = (change(&row), parties(&row));
    match step {
        OrderMove::Approve | OrderMove::Receive => {}
        OrderMove::Submit => {
            tx.update_many::<line::Entity>(
                vec![(
                    line::Column::SupplierCompanyId,
                    Expr::value(row.supplier_id),
                )],
                line::Column::OrderId.eq(row.id),
            )
            .await?;
            tx.emit(&PoSubmitted(said), &to).await?;
        }
        OrderMove::Acknowledge => {
            tx.emit(&PoAcknowledged(said), &to).await?;
        }
        OrderMove::Reject => {
            tx.emit(&PoRejected(said), &to).await?;
        }
        OrderMove::Cancel => {
            tx.emit(&PoCancelled(said), &to).await?;
        }
    }
    committed(tx, order_id).await
}

/// Stock arriving for an acknowledged order (any member of the buyer): RECEIPT movements
/// at the agreed prices, into the order's location, all in one transaction with the
/// order's new status. More than ordered needs `allow_over_receipt`.
pub async fn receive(
    db: &Db,
    ctx: &TenantContext,
    order_id: Uuid,
    version: i32,
    receipts: Vec<Receipt>,
    allow_over_receipt: bool,
) -> AppResult<Order> {
    let me = require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    let row = party_row(&tx, me, order_id, OrderMove::Receive).await?;
    // A stale version first: the order may have moved on since (received in full, say).
    if row.version != version {
        return Err(stale(&row, version));
    }
    may(&row, OrderMove::Receive)?;
    if receipts.is_empty() || receipts.len() > MAX_LINES {
        return Err(AppError::bad_input(
            "input.lines",
            format!("say what arrived: 1 to {MAX_LINES} lines"),
        ));
    }
    let mut lines = lines_of(&tx, &[row.id])
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    // Products are locked in one order (by id), so two receipts or counts of the same
    // products cannot deadlock each other.
    let mut ids: Vec<Uuid> = lines.iter().map(|l| l.product_id).collect();
    ids.sort();
    ids.dedup();
    let mut products = HashMap::new();
    for p in ids {
        products.insert(p, locked_product(&tx, p).await?);
    }
    let allow_negative = allows_negative(&tx, me).await?;
    for (i, r) in receipts.iter().enumerate() {
        let field = format!("input.lines.{i}");
        let line_id = id::decode(LINE, &r.line_id, &format!("{field}.lineId"))?;
        let Some(l) = lines.iter_mut().find(|l| l.id == line_id) else {
            return Err(AppError::bad_input(
                &format!("{field}.lineId"),
                "not a line of this order",
            ));
        };
        if !(1..=MAX_LINE_QUANTITY).contains(&r.quantity) {
            return Err(AppError::bad_input(
                &format!("{field}.quantity"),
                format!("1..{MAX_LINE_QUANTITY}"),
            ));
        }
        let total = l.received_quantity + r.quantity;
        if total > l.quantity && !allow_over_receipt {
            return Err(AppError::bad_input(
                &format!("{field}.quantity"),
                format!(
                    "{} ordered, {} received so far: receiving {} more than ordered needs allowOverReceipt",
                    l.quantity,
                    l.received_quantity,
                    total - l.quantity
                ),
            ));
        }
        let product = products
            .get(&l.product_id)
            .ok_or_else(|| AppError::internal("a line's product was not locked"))?;
        post(
            &tx,
            ctx,
            product,
            row.location_id,
            Movement {
                kind: MovementKind::Receipt,
                quantity: r.quantity,
                unit_cost: Some(l.unit_price),
            },
            &format!("{field}.quantity"),
            allow_negative,
            None,
            Some(row.po_number.clone()),
            None,
        )
        .await?;
        tx.update_many::<line::Entity>(
            vec![(line::Column::ReceivedQuantity, Expr::value(total))],
            line::Column::Id.eq(l.id),
        )
        .await?;
        l.received_quantity = total;
    }
    let done = lines.iter().all(|l| l.received_quantity >= l.quantity);
    let row = set_status(&tx, &row, version, OrderMove::Receive.to(done), vec![]).await?;
    tx.emit(&PoReceived(change(&row)), &parties(&row)).await?;
    committed(tx, order_id).await
}

/// One of the caller's orders, as buyer or supplier; `None` when it has no such order.
pub async fn get(db: &Db, ctx: &TenantContext, order: &ID) -> AppResult<Option<Order>> {
    by_global_id(db, ctx, PURCHASE_ORDER, order, load).await
}

/// The company's orders as the buyer, or (`as_supplier`) those sent to it, each with its
/// lines; `statuses` narrows.
pub async fn list<T: async_graphql::OutputType + AsMut<Order>>(
    db: &Db,
    ctx: &TenantContext,
    as_supplier: bool,
    statuses: Option<Vec<PurchaseOrderStatus>>,
    page: PageArgs,
    map: impl Fn(Order) -> T,
) -> AppResult<Page<T>> {
    let me = require_member(ctx)?;
    let tx = db.read(ctx).await?;
    let mut select = tx.select::<po::Entity>().filter(if as_supplier {
        po::Column::SupplierCompanyId.eq(me)
    } else {
        po::Column::CompanyId.eq(me)
    });
    if let Some(statuses) = statuses {
        select = select.filter(po::Column::Status.is_in(statuses));
    }
    let mut conn = paginate(
        tx.conn(),
        select,
        po::Column::Id,
        page,
        |r| r.id,
        |row| {
            map(Order {
                row,
                lines: vec![],
                location: None,
                products: HashMap::new(),
            })
        },
    )
    .await?;
    let rows: Vec<po::Model> = conn
        .edges
        .iter_mut()
        .map(|e| e.node.as_mut().row.clone())
        .collect();
    for (e, order) in conn.edges.iter_mut().zip(complete(&tx, rows).await?) {
        *e.node.as_mut() = order;
    }
    tx.commit().await?;
    Ok(conn)
}
