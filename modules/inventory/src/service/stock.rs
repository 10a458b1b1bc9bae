//! Posting stock movements: each one, in one transaction, locks its product, applies the
//! ledger's rules to the balance, writes the movement and the new balance, and tells the
//! company when stock crosses its reorder threshold downwards. Reads of stock read the
//! balances, never the ledger. Also the company's inventory settings.

use crate::events::{DemandSpike, LowStock};
use crate::ledger::{self, Balance, LedgerError, Movement, MovementKind};
use crate::model::{LOCATION, PRODUCT};
use crate::reorder::ReorderRule;
use crate::service::demand;
use crate::service::locations::location_of;
use async_graphql::ID;
use chrono::Utc;
use ils_common::catalog::draft::decimal_to_units;
use ils_common::money::MoneyInput;
use ils_entity::{inventory_settings as settings, product, stock_balance as balance};
use ils_entity::{stock_location as location, stock_movement as movement};
use ils_kernel::authz::{require_manager, require_member};
use ils_kernel::pagination::Page;
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Db, FieldErrors, TenantContext, Tx, id};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, QueryFilter};
use std::collections::HashMap;
use uuid::Uuid;

/// One movement as a client posts it. Transfers have their own entry point.
pub struct NewMovement {
    pub product_id: ID,
    /// The default location when `None`.
    pub location_id: Option<ID>,
    pub kind: MovementKind,
    pub quantity: i64,
    /// What a unit cost (a RECEIPT), in the product's currency.
    pub unit_cost: Option<MoneyInput>,
    pub reference: Option<String>,
    pub note: Option<String>,
}

/// Stock moved between two of a company's locations.
pub struct NewTransfer {
    pub product_id: ID,
    pub from_location_id: ID,
    pub to_location_id: ID,
    pub quantity: i64,
    pub reference: Option<String>,
}

/// A line of the ledger with its product and location, and the other half of a transfer
/// when read with it (`None`: not a transfer, or not read).
#[derive(Clone)]
pub struct Moved {
    pub row: movement::Model,
    pub product: Option<product::Model>,
    pub location: Option<location::Model>,
    pub counterpart: Option<Box<Moved>>,
}

impl Moved {
    /// The row alone, its parts to be attached.
    pub fn bare(row: movement::Model) -> Moved {
        Moved {
            row,
            product: None,
            location: None,
            counterpart: None,
        }
    }

    fn attach(&mut self, (products, locations): &Parts) {
        self.product = products.get(&self.row.product_id).cloned();
        self.location = locations.get(&self.row.location_id).cloned();
    }
}

/// Stock of one product at one location, with the product and the location when read
/// with them.
#[derive(Clone)]
pub struct Level {
    pub row: balance::Model,
    pub product: Option<product::Model>,
    pub location: Option<location::Model>,
}

impl Level {
    /// The balance's product and location, from `parts`.
    pub(crate) fn attach(&mut self, (products, locations): &Parts) {
        self.product = products.get(&self.row.product_id).cloned();
        self.location = locations.get(&self.row.location_id).cloned();
    }
}

/// The reorder rule the low-stock state follows: the product's own reorder point and
/// minimum (`reorder::ReorderRule`, the rule `reorderSuggestions` decides by too; there
/// is no demand here to compute a reorder point from).
pub fn rule_of(p: &product::Model) -> ReorderRule {
    ReorderRule::new(p.reorder_point, None, p.min_quantity)
}

/// The available stock at or below which a product is low (none: never low).
pub fn threshold_of(p: &product::Model) -> Option<i64> {
    rule_of(p).threshold()
}

/// Re-marks a product's balances low or not after its reorder settings changed (no event:
/// the event is for stock crossing the threshold, not the threshold moving).
pub(crate) async fn refresh_low(tx: &Tx, p: &product::Model) -> AppResult<()> {
    let threshold = threshold_of(p);
    let low: SimpleExpr = match threshold {
        Some(t) => Expr::col(balance::Column::OnHand)
            .sub(Expr::col(balance::Column::Reserved))
            .lte(t),
        None => Expr::value(false),
    };
    tx.update_many::<balance::Entity>(
        vec![(balance::Column::Low, low)],
        balance::Column::ProductId.eq(p.id),
    )
    .await?;
    Ok(())
}

/// Whether the company lets stock go below zero.
pub async fn allows_negative(tx: &Tx, me: Uuid) -> AppResult<bool> {
    Ok(tx
        .find::<settings::Entity>(me)
        .await?
        .is_some_and(|s| s.allow_negative_stock))
}

/// A refused movement as BAD_USER_INPUT on the caller's `quantity_field` (or its sibling
/// `unitCost` for a missing cost).
fn refused(e: LedgerError, quantity_field: &str) -> AppError {
    let field = match e {
        LedgerError::BadCost(_) => match quantity_field.rsplit_once('.') {
            Some((parent, _)) => format!("{parent}.unitCost"),
            None => "unitCost".to_owned(),
        },
        _ => quantity_field.to_owned(),
    };
    AppError::bad_input(&field, e.to_string())
}

fn text(v: Option<String>, field: &str, max: usize) -> AppResult<Option<String>> {
    ils_common::validate::optional_text(v.as_deref(), field, max)
}

/// The product locked for this transaction: movements of one product take turns, so none
/// is lost and every balance equals its ledger.
pub(crate) async fn locked_product(tx: &Tx, product_id: Uuid) -> AppResult<product::Model> {
    tx.lock_for_update(
        tx.select::<product::Entity>()
            .filter(product::Column::Id.eq(product_id)),
    )
    .one(tx.conn())
    .await?
    .ok_or_else(|| AppError::bad_input("input.productId", "no such product of yours"))
}

/// What one movement does to one balance, written: the new balance (made on the first
/// movement), the movement itself, and the low-stock state. The product is locked. A
/// refusal is BAD_USER_INPUT on `quantity_field`, the caller's path of the quantity.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn post(
    tx: &Tx,
    ctx: &TenantContext,
    product: &product::Model,
    location: Uuid,
    m: Movement,
    quantity_field: &str,
    allow_negative: bool,
    transfer: Option<Uuid>,
    reference: Option<String>,
    note: Option<String>,
) -> AppResult<movement::Model> {
    let current = tx
        .select::<balance::Entity>()
        .filter(balance::Column::LocationId.eq(location))
        .filter(balance::Column::ProductId.eq(product.id))
        .one(tx.conn())
        .await?;
    let before = current.as_ref().map_or(Balance::default(), |b| Balance {
        on_hand: b.on_hand,
        reserved: b.reserved,
        avg_cost: b.avg_cost,
    });
    let (after, effect) =
        ledger::apply(&before, &m, allow_negative).map_err(|e| refused(e, quantity_field))?;
    let now = Utc::now();
    // The low-stock state: set on a downward crossing (announced once), cleared when
    // stock is above the threshold again.
    let rule = rule_of(product);
    let threshold = rule.threshold();
    let was_low = current.as_ref().is_some_and(|b| b.low);
    let low = rule.needs_reorder(after.available());
    // A sale adds to its day's demand and may start (or end) a spike, announced once: on
    // the sale that starts it, unless the balance was spiking and still was just before
    // this sale (a spike that faded with no sale is over). Other movements leave the
    // spike state as it is.
    let mut was_spike = current.as_ref().is_some_and(|b| b.spike);
    let spike = match m.kind {
        MovementKind::Sale => {
            let sold = -effect.on_hand;
            demand::record_sale(tx, product.id, location, sold, now).await?;
            let (spike, before) = demand::spike_of(tx, product, location, sold).await?;
            was_spike &= before;
            spike
        }
        _ => None,
    };
    let spiking = match m.kind {
        MovementKind::Sale => spike.is_some(),
        _ => was_spike,
    };
    match &current {
        Some(b) => {
            tx.update_many::<balance::Entity>(
                vec![
                    (balance::Column::OnHand, Expr::value(after.on_hand)),
                    (balance::Column::Reserved, Expr::value(after.reserved)),
                    (balance::Column::AvgCost, Expr::value(after.avg_cost)),
                    (balance::Column::Low, Expr::value(low)),
                    (balance::Column::Spike, Expr::value(spiking)),
                    (balance::Column::UpdatedAt, Expr::value(now)),
                ],
                Condition::all().add(balance::Column::Id.eq(b.id)),
            )
            .await?;
        }
        None => {
            tx.insert(balance::ActiveModel {
                id: Set(Uuid::now_v7()),
                company_id: sea_orm::ActiveValue::NotSet,
                location_id: Set(location),
                product_id: Set(product.id),
                on_hand: Set(after.on_hand),
                reserved: Set(after.reserved),
                avg_cost: Set(after.avg_cost),
                low: Set(low),
                spike: Set(spiking),
                updated_at: Set(now),
            })
            .await?;
        }
    }
    let written = tx
        .insert(movement::ActiveModel {
            id: Set(Uuid::now_v7()),
            company_id: sea_orm::ActiveValue::NotSet,
            location_id: Set(location),
            product_id: Set(product.id),
            kind: Set(m.kind.as_str().to_owned()),
            quantity: Set(effect.on_hand),
            reserved_delta: Set(effect.reserved),
            unit_cost: Set(m.unit_cost),
            on_hand_after: Set(after.on_hand),
            avg_cost_after: Set(after.avg_cost),
            transfer_id: Set(transfer),
            reference: Set(reference),
            note: Set(note),
            actor_user_id: Set(ctx.responsible_user()),
            created_at: Set(now),
        })
        .await?;
    if let Some(s) = spike
        && !was_spike
    {
        let round = demand::hundredths;
        tx.emit(
            &DemandSpike {
                product_id: id::encode(PRODUCT, product.id),
                sku: product.sku.clone(),
                location_id: id::encode(LOCATION, location),
                recent_units: s.recent_units as i64,
                recent_daily_rate: round(s.recent_rate),
                usual_daily_rate: round(s.usual_rate),
                ratio: round(s.ratio),
            },
            &[],
        )
        .await?;
    }
    if low
        && !was_low
        && let Some(t) = threshold
    {
        tx.emit(
            &LowStock {
                product_id: id::encode(PRODUCT, product.id),
                sku: product.sku.clone(),
                location_id: id::encode(LOCATION, location),
                available: after.available(),
                threshold: t,
            },
            &[],
        )
        .await?;
    }
    Ok(written)
}

/// Posts one stock movement (any member). Stock may not go below zero unless the company
/// allows it; a reservation never exceeds available stock. A cost is in the product's
/// currency.
pub async fn post_movement(db: &Db, ctx: &TenantContext, input: NewMovement) -> AppResult<Moved> {
    let me = require_member(ctx)?;
    if matches!(
        input.kind,
        MovementKind::TransferIn | MovementKind::TransferOut
    ) {
        return Err(AppError::bad_input(
            "input.kind",
            "a transfer moves stock between two locations at once: use transferStock",
        ));
    }
    let product_id = id::decode(PRODUCT, &input.product_id, "input.productId")?;
    let cost = match &input.unit_cost {
        None => None,
        Some(_) if !input.kind.takes_cost() => {
            return Err(AppError::bad_input(
                "input.unitCost",
                format!("a {} carries no cost of its own", input.kind.as_str()),
            ));
        }
        Some(m) => {
            let mut errors = FieldErrors::default();
            let Some(cost) = m.check("input.unitCost", false, &mut errors) else {
                return Err(AppError::invalid("", errors.into_vec()));
            };
            Some(cost)
        }
    };
    let unit_cost = match &cost {
        None => None,
        Some(c) if c.amount > Decimal::from(999_999_999) => {
            return Err(AppError::bad_input(
                "input.unitCost.amount",
                "at most 999,999,999",
            ));
        }
        Some(c) => Some(decimal_to_units(c.amount).ok_or_else(|| {
            AppError::bad_input("input.unitCost.amount", "at most 4 decimal places")
        })?),
    };
    let reference = text(input.reference, "input.reference", 100)?;
    let note = text(input.note, "input.note", 1000)?;
    let tx = db.tenant(ctx).await?;
    let product = locked_product(&tx, product_id).await?;
    if let Some(c) = cost.filter(|c| c.currency != product.currency) {
        return Err(AppError::bad_input(
            "input.unitCost.currency",
            format!(
                "the product is kept in {}: give its cost in {} (not {})",
                product.currency, product.currency, c.currency
            ),
        ));
    }
    let location = location_of(&tx, me, input.location_id.as_ref(), "input.locationId").await?;
    let allow = allows_negative(&tx, me).await?;
    let m = Movement {
        kind: input.kind,
        quantity: input.quantity,
        unit_cost,
    };
    let row = post(
        &tx,
        ctx,
        &product,
        location.id,
        m,
        "input.quantity",
        allow,
        None,
        reference,
        note,
    )
    .await?;
    tx.commit().await?;
    Ok(Moved {
        row,
        product: Some(product),
        location: Some(location),
        counterpart: None,
    })
}

/// Moves stock between two of the company's locations: the issue and the receipt (at the
/// source's average cost) are written together or not at all.
pub async fn transfer(db: &Db, ctx: &TenantContext, input: NewTransfer) -> AppResult<Vec<Moved>> {
    let me = require_member(ctx)?;
    let product_id = id::decode(PRODUCT, &input.product_id, "input.productId")?;
    let reference = text(input.reference, "input.reference", 100)?;
    let tx = db.tenant(ctx).await?;
    let product = locked_product(&tx, product_id).await?;
    let from = location_of(
        &tx,
        me,
        Some(&input.from_location_id),
        "input.fromLocationId",
    )
    .await?;
    let to = location_of(&tx, me, Some(&input.to_location_id), "input.toLocationId").await?;
    if from.id == to.id {
        return Err(AppError::bad_input(
            "input.toLocationId",
            "a transfer goes to another location",
        ));
    }
    let allow = allows_negative(&tx, me).await?;
    let transfer_id = Uuid::now_v7();
    let out = post(
        &tx,
        ctx,
        &product,
        from.id,
        Movement {
            kind: MovementKind::TransferOut,
            quantity: input.quantity,
            unit_cost: None,
        },
        "input.quantity",
        allow,
        Some(transfer_id),
        reference.clone(),
        None,
    )
    .await?;
    let received = post(
        &tx,
        ctx,
        &product,
        to.id,
        Movement {
            kind: MovementKind::TransferIn,
            quantity: input.quantity,
            unit_cost: Some(out.avg_cost_after),
        },
        "input.quantity",
        allow,
        Some(transfer_id),
        reference,
        None,
    )
    .await?;
    tx.commit().await?;
    // Each half with its location, and the other half.
    let half = |row: &movement::Model, location: &location::Model| Moved {
        row: row.clone(),
        product: Some(product.clone()),
        location: Some(location.clone()),
        counterpart: None,
    };
    let (mut out_half, mut in_half) = (half(&out, &from), half(&received, &to));
    out_half.counterpart = Some(Box::new(in_half.clone()));
    in_half.counterpart = Some(Box::new(half(&out, &from)));
    Ok(vec![out_half, in_half])
}

/// The company's stock, one entry per product and location that has seen a movement,
/// each with its product and location: three statements whatever the page size. Filters
/// (a location, a product, only stock at or below its threshold) narrow.
pub async fn levels<T: async_graphql::OutputType + AsMut<Level>>(
    db: &Db,
    ctx: &TenantContext,
    location_id: Option<&ID>,
    product_id: Option<&ID>,
    low_only: bool,
    page: PageArgs,
    map: impl Fn(Level) -> T,
) -> AppResult<Page<T>> {
    require_member(ctx)?;
    let tx = db.read(ctx).await?;
    let mut select = tx.select::<balance::Entity>();
    if let Some(l) = location_id {
        let l = id::decode(LOCATION, l, "filter.locationId")?;
        select = select.filter(balance::Column::LocationId.eq(l));
    }
    if let Some(p) = product_id {
        let p = id::decode(PRODUCT, p, "filter.productId")?;
        select = select.filter(balance::Column::ProductId.eq(p));
    }
    if low_only {
        select = select.filter(balance::Column::Low.eq(true));
    }
    let mut conn = paginate(
        tx.conn(),
        select,
        balance::Column::Id,
        page,
        |b| b.id,
        |row| {
            map(Level {
                row,
                product: None,
                location: None,
            })
        },
    )
    .await?;
    if !conn.edges.is_empty() {
        let mut rows: Vec<&mut Level> = conn.edges.iter_mut().map(|e| e.node.as_mut()).collect();
        let products = rows.iter().map(|r| r.row.product_id).collect();
        let locations = rows.iter().map(|r| r.row.location_id).collect();
        let parts = parts(&tx, Some((products, locations))).await?;
        for r in rows.iter_mut() {
            r.attach(&parts);
        }
    }
    tx.commit().await?;
    Ok(conn)
}

/// Products and locations by id.
pub(crate) type Parts = (
    HashMap<Uuid, product::Model>,
    HashMap<Uuid, location::Model>,
);

/// The products and locations named (by their ids), or all of the company's (`None`), in
/// two statements.
pub(crate) async fn parts(tx: &Tx, only: Option<(Vec<Uuid>, Vec<Uuid>)>) -> AppResult<Parts> {
    let mut products = tx.select::<product::Entity>();
    let mut locations = tx.select::<location::Entity>();
    if let Some((p, l)) = only {
        products = products.filter(product::Column::Id.is_in(p));
        locations = locations.filter(location::Column::Id.is_in(l));
    }
    let products = products.all(tx.conn()).await?;
    let locations = locations.all(tx.conn()).await?;
    Ok((
        products.into_iter().map(|p| (p.id, p)).collect(),
        locations.into_iter().map(|l| (l.id, l)).collect(),
    ))
}

/// The stock ledger, oldest first; a product, a location and kinds narrow. Each line
/// comes with its product, location and other half (a transfer's): three statements
/// besides the page's, whatever its size.
pub async fn movements<T: async_graphql::OutputType + AsMut<Moved>>(
    db: &Db,
    ctx: &TenantContext,
    product_id: Option<&ID>,
    location_id: Option<&ID>,
    kinds: Option<&[MovementKind]>,
    page: PageArgs,
    map: impl Fn(Moved) -> T,
) -> AppResult<Page<T>> {
    require_member(ctx)?;
    let tx = db.read(ctx).await?;
    let mut select = tx.select::<movement::Entity>();
    if let Some(l) = location_id {
        let l = id::decode(LOCATION, l, "filter.locationId")?;
        select = select.filter(movement::Column::LocationId.eq(l));
    }
    if let Some(p) = product_id {
        let p = id::decode(PRODUCT, p, "filter.productId")?;
        select = select.filter(movement::Column::ProductId.eq(p));
    }
    if let Some(kinds) = kinds {
        select = select.filter(movement::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())));
    }
    let mut conn = paginate(
        tx.conn(),
        select,
        movement::Column::Id,
        page,
        |m| m.id,
        |row| map(Moved::bare(row)),
    )
    .await?;
    let mut rows: Vec<&mut Moved> = conn.edges.iter_mut().map(|e| e.node.as_mut()).collect();
    complete(&tx, &mut rows).await?;
    tx.commit().await?;
    Ok(conn)
}

/// Each movement's product, location and, for a transfer, its other half (with its
/// location): at most three statements, whatever the number.
async fn complete(tx: &Tx, moved: &mut [&mut Moved]) -> AppResult<()> {
    if moved.is_empty() {
        return Ok(());
    }
    let transfers: Vec<Uuid> = moved.iter().filter_map(|m| m.row.transfer_id).collect();
    let halves = if transfers.is_empty() {
        vec![]
    } else {
        tx.select::<movement::Entity>()
            .filter(movement::Column::TransferId.is_in(transfers))
            .all(tx.conn())
            .await?
    };
    let products = moved.iter().map(|m| m.row.product_id).collect();
    let locations = moved
        .iter()
        .map(|m| m.row.location_id)
        .chain(halves.iter().map(|h| h.location_id))
        .collect();
    let parts = parts(tx, Some((products, locations))).await?;
    for m in moved.iter_mut() {
        m.attach(&parts);
        let Some(transfer) = m.row.transfer_id else {
            continue;
        };
        m.counterpart = halves
            .iter()
            .find(|h| h.transfer_id == Some(transfer) && h.id != m.row.id)
            .map(|h| {
                let mut other = Moved::bare(h.clone());
                other.attach(&parts);
                Box::new(other)
            });
    }
    Ok(())
}

/// The movements among `ids` the caller can see, each with its parts.
pub async fn movements_by_ids(tx: &Tx, ids: Vec<Uuid>) -> AppResult<Vec<Moved>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut moved: Vec<Moved> = tx
        .find_many::<movement::Entity>(ids)
        .await?
        .into_iter()
        .map(Moved::bare)
        .collect();
    complete(tx, &mut moved.iter_mut().collect::<Vec<_>>()).await?;
    Ok(moved)
}

/// The other half of a transfer (any member), with its parts; `None` for a movement that
/// is not a transfer.
pub async fn counterpart(db: &Db, ctx: &TenantContext, m: &Moved) -> AppResult<Option<Moved>> {
    let Some(transfer) = m.row.transfer_id else {
        return Ok(None);
    };
    require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    let mut other: Vec<Moved> = tx
        .select::<movement::Entity>()
        .filter(movement::Column::TransferId.eq(transfer))
        .filter(movement::Column::Id.ne(m.row.id))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(Moved::bare)
        .collect();
    complete(&tx, &mut other.iter_mut().collect::<Vec<_>>()).await?;
    tx.commit().await?;
    Ok(other.into_iter().next())
}

/// The balances among `ids` the caller can see, each with its product and location.
pub async fn levels_by_ids(tx: &Tx, ids: Vec<Uuid>) -> AppResult<Vec<Level>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let rows = tx.find_many::<balance::Entity>(ids).await?;
    let products = rows.iter().map(|r| r.product_id).collect();
    let locations = rows.iter().map(|r| r.location_id).collect();
    let parts = parts(tx, Some((products, locations))).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut level = Level {
                row,
                product: None,
                location: None,
            };
            level.attach(&parts);
            level
        })
        .collect())
}

/// Whether the company lets stock go below zero (any member may ask).
pub async fn negative_allowed(db: &Db, ctx: &TenantContext) -> AppResult<bool> {
    let me = require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    let allow = allows_negative(&tx, me).await?;
    tx.commit().await?;
    Ok(allow)
}

/// Lets stock go below zero or not (admins and managers).
pub async fn allow_negative(db: &Db, ctx: &TenantContext, allow: bool) -> AppResult<bool> {
    let tx = db.tenant(ctx).await?;
    let me = require_manager(&tx, ctx).await?;
    let now = Utc::now();
    let n = tx
        .update_many::<settings::Entity>(
            vec![
                (settings::Column::AllowNegativeStock, Expr::value(allow)),
                (settings::Column::UpdatedAt, Expr::value(now)),
            ],
            settings::Column::CompanyId.eq(me),
        )
        .await?;
    if n == 0 {
        tx.insert(settings::ActiveModel {
            company_id: Set(me),
            allow_negative_stock: Set(allow),
            updated_at: Set(now),
        })
        .await?;
    }
    tx.commit().await?;
    Ok(allow)
}
