//! Posting stock movements: each one, in one transaction, locks its product, applies the
//! ledger's rules to the balance, writes the movement and the new balance, and tells the
//! company when stock crosses its reorder threshold downwards. Reads of stock read the
//! balances, never the ledger.

use crate::ledger::{self, Balance, LedgerError, Movement, MovementKind};
use crate::locations::{LOCATION, Location, location_of};
use crate::products::{PRODUCT, Product};
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_common::catalog::draft::{decimal_to_units, price_to_decimal};
use ils_entity::{inventory_settings as settings, product, stock_balance as balance};
use ils_entity::{stock_location as location, stock_movement as movement};
use ils_kernel::authz::{require_manager, require_member};
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Db, TenantContext, Tx, id, request_parts};
use rust_decimal::Decimal;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, QueryFilter};
use std::collections::HashMap;
use uuid::Uuid;

pub const MOVEMENT: &str = "StockMovement";
pub const BALANCE: &str = "StockLevel";

ils_kernel::domain_event!(LowStock, "inventory.low_stock", admins_only: false {
    product_id: ID,
    sku: String,
    location_id: ID,
    available: i64,
    threshold: i64,
});

/// One movement as a client posts it. Transfers have their own mutation.
#[derive(InputObject)]
pub struct MovementInput {
    pub product_id: ID,
    /// The default location when left out.
    pub location_id: Option<ID>,
    /// RECEIPT, SALE, ADJUSTMENT, BREAKAGE, RETURN, RESERVE or RELEASE.
    pub kind: MovementKind,
    /// Units: more than 0, except an ADJUSTMENT, which is signed.
    pub quantity: i64,
    /// What a unit cost (RECEIPT), at most 4 decimal places.
    pub unit_cost: Option<Decimal>,
    /// Your reference (a sale, a delivery note, a lab job), at most 100 characters.
    pub reference: Option<String>,
    pub note: Option<String>,
}

#[derive(InputObject)]
pub struct TransferInput {
    pub product_id: ID,
    pub from_location_id: ID,
    pub to_location_id: ID,
    /// Units, more than 0.
    pub quantity: i64,
    pub reference: Option<String>,
}

/// One line of the stock ledger.
#[derive(Clone)]
pub struct StockMovement(pub movement::Model);

#[Object]
impl StockMovement {
    async fn id(&self) -> ID {
        id::encode(MOVEMENT, self.0.id)
    }
    async fn kind(&self) -> Option<MovementKind> {
        MovementKind::parse(&self.0.kind)
    }
    async fn product_id(&self) -> ID {
        id::encode(PRODUCT, self.0.product_id)
    }
    async fn location_id(&self) -> ID {
        id::encode(LOCATION, self.0.location_id)
    }
    /// The signed change of on-hand stock.
    async fn quantity(&self) -> i64 {
        self.0.quantity
    }
    /// The signed change of reserved stock.
    async fn reserved_change(&self) -> i64 {
        self.0.reserved_delta
    }
    async fn unit_cost(&self) -> Option<Decimal> {
        self.0.unit_cost.map(price_to_decimal)
    }
    /// On-hand stock after this movement.
    async fn on_hand_after(&self) -> i64 {
        self.0.on_hand_after
    }
    async fn average_cost_after(&self) -> Decimal {
        price_to_decimal(self.0.avg_cost_after)
    }
    /// Shared by the two halves of a transfer.
    async fn transfer_id(&self) -> Option<ID> {
        self.0.transfer_id.map(|t| ID(t.to_string()))
    }
    async fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Stock of one product at one location.
#[derive(Clone)]
pub struct StockLevel {
    pub row: balance::Model,
    pub product: Option<product::Model>,
    pub location: Option<location::Model>,
}

#[Object]
impl StockLevel {
    async fn id(&self) -> ID {
        id::encode(BALANCE, self.row.id)
    }
    async fn product(&self) -> Option<Product> {
        self.product.clone().map(Product)
    }
    async fn location(&self) -> Option<Location> {
        self.location.clone().map(Location::from)
    }
    async fn on_hand(&self) -> i64 {
        self.row.on_hand
    }
    async fn reserved(&self) -> i64 {
        self.row.reserved
    }
    /// On hand less reserved.
    async fn available(&self) -> i64 {
        self.row.on_hand - self.row.reserved
    }
    /// The moving average cost of a unit.
    async fn average_cost(&self) -> Decimal {
        price_to_decimal(self.row.avg_cost)
    }
    /// On hand at the average cost.
    async fn value(&self) -> Option<Decimal> {
        price_to_decimal(self.row.avg_cost).checked_mul(Decimal::from(self.row.on_hand))
    }
    /// At or below the product's reorder threshold.
    async fn low(&self) -> bool {
        self.row.low
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

/// A page of balances with their products and locations: three statements whatever the
/// page size.
async fn with_parts(tx: &Tx, rows: &mut [&mut StockLevel]) -> AppResult<()> {
    let products: HashMap<Uuid, product::Model> = tx
        .select::<product::Entity>()
        .filter(product::Column::Id.is_in(rows.iter().map(|r| r.row.product_id)))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let locations: HashMap<Uuid, location::Model> = tx
        .select::<location::Entity>()
        .filter(location::Column::Id.is_in(rows.iter().map(|r| r.row.location_id)))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|l| (l.id, l))
        .collect();
    for r in rows.iter_mut() {
        r.product = products.get(&r.row.product_id).cloned();
        r.location = locations.get(&r.row.location_id).cloned();
    }
    Ok(())
}

use crate::low::threshold_of;

/// Whether the company lets stock go below zero.
pub async fn allows_negative(tx: &Tx, me: Uuid) -> AppResult<bool> {
    Ok(tx
        .find::<settings::Entity>(me)
        .await?
        .is_some_and(|s| s.allow_negative_stock))
}

/// A refused movement as BAD_USER_INPUT on the caller's `quantity_field` (or its sibling
/// `unitCost` for a cost).
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
    let threshold = threshold_of(product);
    let was_low = current.as_ref().is_some_and(|b| b.low);
    let low = threshold.is_some_and(|t| after.available() <= t);
    match &current {
        Some(b) => {
            tx.update_many::<balance::Entity>(
                vec![
                    (balance::Column::OnHand, Expr::value(after.on_hand)),
                    (balance::Column::Reserved, Expr::value(after.reserved)),
                    (balance::Column::AvgCost, Expr::value(after.avg_cost)),
                    (balance::Column::Low, Expr::value(low)),
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

pub async fn post_movement(
    db: &Db,
    ctx: &TenantContext,
    input: MovementInput,
) -> AppResult<movement::Model> {
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
    let unit_cost = match input.unit_cost {
        None => None,
        Some(_) if !input.kind.takes_cost() => {
            return Err(AppError::bad_input(
                "input.unitCost",
                format!("a {} carries no cost of its own", input.kind.as_str()),
            ));
        }
        Some(c) if c.is_sign_negative() => {
            return Err(AppError::bad_input("input.unitCost", "at least 0"));
        }
        Some(c) if c > Decimal::from(999_999_999) => {
            return Err(AppError::bad_input("input.unitCost", "at most 999,999,999"));
        }
        Some(c) => Some(
            decimal_to_units(c)
                .ok_or_else(|| AppError::bad_input("input.unitCost", "at most 4 decimal places"))?,
        ),
    };
    let reference = text(input.reference, "input.reference", 100)?;
    let note = text(input.note, "input.note", 1000)?;
    let tx = db.tenant(ctx).await?;
    let product = locked_product(&tx, product_id).await?;
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
    Ok(row)
}

/// Moves stock between two of the company's locations: the issue and the receipt (at the
/// source's average cost) are written together or not at all.
pub async fn transfer(
    db: &Db,
    ctx: &TenantContext,
    input: TransferInput,
) -> AppResult<Vec<movement::Model>> {
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
    Ok(vec![out, received])
}

#[derive(InputObject, Default)]
pub struct StockFilter {
    pub location_id: Option<ID>,
    pub product_id: Option<ID>,
    /// Only stock at or below its product's reorder threshold.
    pub low_only: Option<bool>,
}

#[derive(InputObject, Default)]
pub struct MovementFilter {
    pub product_id: Option<ID>,
    pub location_id: Option<ID>,
    pub kinds: Option<Vec<MovementKind>>,
}

#[derive(SimpleObject)]
pub struct InventorySettings {
    /// Whether stock may go below zero (otherwise such a movement is BAD_USER_INPUT).
    pub allow_negative_stock: bool,
}

#[derive(Default)]
pub struct StockQuery;

#[Object]
impl StockQuery {
    /// Your stock, one entry per product and location that has seen a movement.
    async fn stock_levels(
        &self,
        ctx: &Context<'_>,
        filter: Option<StockFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, StockLevel>> {
        let (tenant, db) = request_parts(ctx)?;
        require_member(tenant)?;
        let f = filter.unwrap_or_default();
        let tx = db.tenant(tenant).await?;
        let mut select = tx.select::<balance::Entity>();
        if let Some(l) = &f.location_id {
            select = select.filter(balance::Column::LocationId.eq(id::decode(
                LOCATION,
                l,
                "filter.locationId",
            )?));
        }
        if let Some(p) = &f.product_id {
            select = select.filter(balance::Column::ProductId.eq(id::decode(
                PRODUCT,
                p,
                "filter.productId",
            )?));
        }
        if f.low_only == Some(true) {
            select = select.filter(balance::Column::Low.eq(true));
        }
        let page = PageArgs::new(first, after, last, before);
        let mut conn = paginate(
            tx.conn(),
            select,
            balance::Column::Id,
            page,
            |b| b.id,
            |row| StockLevel {
                row,
                product: None,
                location: None,
            },
        )
        .await?;
        if !conn.edges.is_empty() {
            let mut rows: Vec<&mut StockLevel> =
                conn.edges.iter_mut().map(|e| &mut e.node).collect();
            with_parts(&tx, &mut rows).await?;
        }
        tx.commit().await?;
        Ok(conn)
    }

    /// Products whose available stock is at or below their reorder point or minimum.
    async fn low_stock(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, StockLevel>> {
        self.stock_levels(
            ctx,
            Some(StockFilter {
                low_only: Some(true),
                ..StockFilter::default()
            }),
            first,
            after,
            None,
            None,
        )
        .await
    }

    /// The stock ledger, oldest first (`last: N` for the newest).
    async fn stock_movements(
        &self,
        ctx: &Context<'_>,
        filter: Option<MovementFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, StockMovement>> {
        let (tenant, db) = request_parts(ctx)?;
        require_member(tenant)?;
        let f = filter.unwrap_or_default();
        let tx = db.tenant(tenant).await?;
        let mut select = tx.select::<movement::Entity>();
        if let Some(l) = &f.location_id {
            select = select.filter(movement::Column::LocationId.eq(id::decode(
                LOCATION,
                l,
                "filter.locationId",
            )?));
        }
        if let Some(p) = &f.product_id {
            select = select.filter(movement::Column::ProductId.eq(id::decode(
                PRODUCT,
                p,
                "filter.productId",
            )?));
        }
        if let Some(kinds) = &f.kinds {
            select = select.filter(movement::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())));
        }
        let page = PageArgs::new(first, after, last, before);
        let conn = paginate(
            tx.conn(),
            select,
            movement::Column::Id,
            page,
            |m| m.id,
            StockMovement,
        )
        .await?;
        tx.commit().await?;
        Ok(conn)
    }

    async fn inventory_settings(&self, ctx: &Context<'_>) -> Result<InventorySettings> {
        let (tenant, db) = request_parts(ctx)?;
        let me = require_member(tenant)?;
        let tx = db.tenant(tenant).await?;
        let allow = allows_negative(&tx, me).await?;
        tx.commit().await?;
        Ok(InventorySettings {
            allow_negative_stock: allow,
        })
    }
}

#[derive(Default)]
pub struct StockMutation;

#[Object]
impl StockMutation {
    /// Posts one stock movement (any member). Stock may not go below zero unless your
    /// company allows it; a reservation never exceeds available stock.
    async fn post_stock_movement(
        &self,
        ctx: &Context<'_>,
        input: MovementInput,
    ) -> Result<StockMovement> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(StockMovement(post_movement(db, tenant, input).await?))
    }

    /// Moves stock between two of your locations: both halves or neither.
    async fn transfer_stock(
        &self,
        ctx: &Context<'_>,
        input: TransferInput,
    ) -> Result<Vec<StockMovement>> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(transfer(db, tenant, input)
            .await?
            .into_iter()
            .map(StockMovement)
            .collect())
    }

    /// Company admins and managers.
    async fn update_inventory_settings(
        &self,
        ctx: &Context<'_>,
        allow_negative_stock: bool,
    ) -> Result<InventorySettings> {
        let (tenant, db) = request_parts(ctx)?;
        let tx = db.tenant(tenant).await?;
        let me = require_manager(&tx, tenant).await?;
        let now = Utc::now();
        let n = tx
            .update_many::<settings::Entity>(
                vec![
                    (
                        settings::Column::AllowNegativeStock,
                        Expr::value(allow_negative_stock),
                    ),
                    (settings::Column::UpdatedAt, Expr::value(now)),
                ],
                settings::Column::CompanyId.eq(me),
            )
            .await?;
        if n == 0 {
            tx.insert(settings::ActiveModel {
                company_id: Set(me),
                allow_negative_stock: Set(allow_negative_stock),
                updated_at: Set(now),
            })
            .await?;
        }
        tx.commit().await?;
        Ok(InventorySettings {
            allow_negative_stock,
        })
    }
}
