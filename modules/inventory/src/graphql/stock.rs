//! Stock: the ledger's movements, the levels (balances), posting and transferring, and
//! the inventory settings.

use crate::graphql::loaded;
use crate::graphql::locations::Location;
use crate::graphql::products::Product;
use crate::ledger::MovementKind;
use crate::model::{BALANCE, MOVEMENT};
use crate::service::stock::{self, Level, Moved, NewMovement, NewTransfer};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_common::catalog::draft::price_to_decimal;
use ils_common::money::{Money, MoneyInput};
use ils_entity::product;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::{AppError, id, request_parts};
use rust_decimal::Decimal;

/// An amount in ten-thousandths of the product's currency unit, as money.
fn money_of(product: &product::Model, units: i64) -> Money {
    Money {
        amount: price_to_decimal(units),
        currency: product.currency.clone(),
    }
}

/// What `postStockMovement` takes: one movement. Transfers have their own mutation
/// (`transferStock`).
#[derive(InputObject)]
pub struct PostStockMovementInput {
    /// The product that moves (a `Product` ID of yours).
    pub product_id: ID,
    /// Where it moves (a `StockLocation` ID of yours); your default location when left out.
    pub location_id: Option<ID>,
    /// What happened: RECEIPT, SALE, ADJUSTMENT, BREAKAGE, RETURN, RESERVE or RELEASE
    /// (TRANSFER_IN and TRANSFER_OUT are refused: use `transferStock`).
    pub kind: MovementKind,
    /// Units: more than 0, except for an ADJUSTMENT, which is signed (negative takes stock
    /// away).
    pub quantity: i64,
    /// What a unit cost: required for a RECEIPT (it blends into the moving average cost),
    /// refused for every other kind. In the product's currency, at least 0, at most 4
    /// decimal places.
    pub unit_cost: Option<MoneyInput>,
    /// Your reference (a sale, a delivery note, a lab job), at most 100 characters.
    pub reference: Option<String>,
    /// A free note, at most 1000 characters.
    pub note: Option<String>,
}

/// What `postStockMovement` gives back.
#[derive(SimpleObject)]
pub struct PostStockMovementPayload {
    /// The ledger line written, with the stock after it.
    pub stock_movement: StockMovement,
}

/// What `transferStock` takes: stock moved from one of your locations to another.
#[derive(InputObject)]
pub struct TransferStockInput {
    /// The product that moves (a `Product` ID of yours).
    pub product_id: ID,
    /// The location it leaves (a `StockLocation` ID of yours).
    pub from_location_id: ID,
    /// The location it arrives at: another of your locations.
    pub to_location_id: ID,
    /// Units, more than 0.
    pub quantity: i64,
    /// Your reference, at most 100 characters, written on both halves.
    pub reference: Option<String>,
}

/// What `transferStock` gives back.
#[derive(SimpleObject)]
pub struct TransferStockPayload {
    /// The two halves of the transfer: the TRANSFER_OUT at the source first, then the
    /// TRANSFER_IN at the destination (valued at the source's average cost).
    pub stock_movements: Vec<StockMovement>,
}

#[derive(Clone)]
pub struct StockMovement(pub Moved);

impl AsMut<Moved> for StockMovement {
    fn as_mut(&mut self) -> &mut Moved {
        &mut self.0
    }
}

impl StockMovement {
    fn product_row(&self) -> Result<&product::Model> {
        loaded(&self.0.product, "a movement's product")
    }
}

/// One line of the stock ledger: a change of one product's stock at one location. The
/// ledger only grows; a correction is a new line.
#[Object]
impl StockMovement {
    /// The movement's global ID.
    async fn id(&self) -> ID {
        id::encode(MOVEMENT, self.0.row.id)
    }
    /// What happened (a receipt, a sale, half of a transfer, …).
    async fn kind(&self) -> Result<MovementKind> {
        Ok(MovementKind::parse(&self.0.row.kind)
            .ok_or_else(|| AppError::internal("a movement of an unknown kind"))?)
    }
    /// The product whose stock changed.
    async fn product(&self) -> Result<Product> {
        Ok(Product(self.product_row()?.clone()))
    }
    /// Where its stock changed.
    async fn location(&self) -> Result<Location> {
        Ok(loaded(&self.0.location, "a movement's location")?
            .clone()
            .into())
    }
    /// The signed change of on-hand stock, in units (negative: stock left).
    async fn quantity(&self) -> i64 {
        self.0.row.quantity
    }
    /// The signed change of reserved stock, in units (RESERVE and RELEASE; 0 otherwise).
    async fn reserved_change(&self) -> i64 {
        self.0.row.reserved_delta
    }
    /// What a unit cost, in the product's currency: given with a RECEIPT, the source's
    /// average cost for a TRANSFER_IN; null for movements that carry no cost of their own.
    async fn unit_cost(&self) -> Result<Option<Money>> {
        let product = self.product_row()?;
        Ok(self.0.row.unit_cost.map(|u| money_of(product, u)))
    }
    /// On-hand stock at the location after this movement, in units.
    async fn on_hand_after(&self) -> i64 {
        self.0.row.on_hand_after
    }
    /// The moving average cost of a unit at the location after this movement, in the
    /// product's currency.
    async fn average_cost_after(&self) -> Result<Money> {
        Ok(money_of(self.product_row()?, self.0.row.avg_cost_after))
    }
    /// The other half of a transfer (the TRANSFER_IN of a TRANSFER_OUT, and the other way
    /// round); null for a movement that is not part of a transfer.
    async fn counterpart(&self, ctx: &Context<'_>) -> Result<Option<StockMovement>> {
        if let Some(other) = &self.0.counterpart {
            return Ok(Some(StockMovement((**other).clone())));
        }
        let (tenant, db) = request_parts(ctx)?;
        Ok(stock::counterpart(db, tenant, &self.0)
            .await?
            .map(StockMovement))
    }
    /// Your reference (a sale, a delivery note, a purchase order's number, a count).
    async fn reference(&self) -> Option<&str> {
        self.0.row.reference.as_deref()
    }
    /// A free note.
    async fn note(&self) -> Option<&str> {
        self.0.row.note.as_deref()
    }
    /// When the movement was posted.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.row.created_at
    }
}

#[derive(Clone)]
pub struct StockLevel(pub Level);

impl AsMut<Level> for StockLevel {
    fn as_mut(&mut self) -> &mut Level {
        &mut self.0
    }
}

impl StockLevel {
    fn product_row(&self) -> Result<&product::Model> {
        loaded(&self.0.product, "a stock level's product")
    }
}

/// Stock of one product at one location: what is on hand, reserved and available, and
/// its value at the moving average cost.
#[Object]
impl StockLevel {
    /// The stock level's global ID (one per product and location).
    async fn id(&self) -> ID {
        id::encode(BALANCE, self.0.row.id)
    }
    /// The product stocked.
    async fn product(&self) -> Result<Product> {
        Ok(Product(self.product_row()?.clone()))
    }
    /// Where it is stocked.
    async fn location(&self) -> Result<Location> {
        Ok(loaded(&self.0.location, "a stock level's location")?
            .clone()
            .into())
    }
    /// Units on hand (negative only when your company allows negative stock).
    async fn on_hand(&self) -> i64 {
        self.0.row.on_hand
    }
    /// Units on hand set aside for jobs (RESERVE less RELEASE).
    async fn reserved(&self) -> i64 {
        self.0.row.reserved
    }
    /// Units on hand less reserved: what can still be sold or reserved.
    async fn available(&self) -> i64 {
        self.0.row.on_hand - self.0.row.reserved
    }
    /// The moving average cost of a unit, in the product's currency.
    async fn average_cost(&self) -> Result<Money> {
        Ok(money_of(self.product_row()?, self.0.row.avg_cost))
    }
    /// On hand at the average cost, in the product's currency; null when it is too large
    /// to compute exactly.
    async fn value(&self) -> Result<Option<Money>> {
        let product = self.product_row()?;
        Ok(price_to_decimal(self.0.row.avg_cost)
            .checked_mul(Decimal::from(self.0.row.on_hand))
            .map(|amount| Money {
                amount,
                currency: product.currency.clone(),
            }))
    }
    /// Whether available stock is at or below the product's reorder threshold (the larger
    /// of its reorder point and its minimum).
    async fn low(&self) -> bool {
        self.0.row.low
    }
    /// When the stock last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.row.updated_at
    }
}

/// Narrows `stockLevels`: every field given must match.
#[derive(InputObject, Default)]
pub struct StockFilter {
    /// Only stock at this location (a `StockLocation` ID).
    pub location_id: Option<ID>,
    /// Only stock of this product (a `Product` ID).
    pub product_id: Option<ID>,
    /// Only stock at or below its product's reorder threshold (true); left out or false:
    /// all stock.
    pub low_only: Option<bool>,
}

/// Narrows `stockMovements`: every field given must match.
#[derive(InputObject, Default)]
pub struct MovementFilter {
    /// Only movements of this product (a `Product` ID).
    pub product_id: Option<ID>,
    /// Only movements at this location (a `StockLocation` ID).
    pub location_id: Option<ID>,
    /// Only movements of these kinds.
    pub kinds: Option<Vec<MovementKind>>,
}

/// Your company's inventory settings.
#[derive(SimpleObject)]
pub struct InventorySettings {
    /// Whether stock may go below zero (otherwise such a movement is BAD_USER_INPUT).
    pub allow_negative_stock: bool,
}

/// What `updateInventorySettings` takes.
#[derive(InputObject)]
pub struct UpdateInventorySettingsInput {
    /// Whether stock may go below zero.
    pub allow_negative_stock: bool,
}

/// What `updateInventorySettings` gives back.
#[derive(SimpleObject)]
pub struct UpdateInventorySettingsPayload {
    /// The settings now.
    pub inventory_settings: InventorySettings,
}

#[derive(Default)]
pub struct StockQuery;

#[Object]
impl StockQuery {
    /// Your stock, one entry per product and location that has seen a movement, oldest
    /// first.
    async fn stock_levels(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the stock that matches (all of it when left out).")] filter: Option<
            StockFilter,
        >,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<StockLevel>> {
        let (tenant, db) = request_parts(ctx)?;
        let f = filter.unwrap_or_default();
        let (location, product) = (f.location_id.as_ref(), f.product_id.as_ref());
        let low_only = f.low_only == Some(true);
        let page = PageArgs::new(ctx, first, after, last, before);
        Ok(stock::levels(db, tenant, location, product, low_only, page, StockLevel).await?)
    }

    /// Stock whose available units at a location are at or below its product's reorder
    /// point or minimum, whichever is larger (as `stockLevels` with `lowOnly`): the rule
    /// `reorderSuggestions` decides by, with the product's own reorder point.
    async fn low_stock(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Page<StockLevel>> {
        let (tenant, db) = request_parts(ctx)?;
        let page = PageArgs::new(ctx, first, after, None, None);
        Ok(stock::levels(db, tenant, None, None, true, page, StockLevel).await?)
    }

    /// The stock ledger, oldest first (`last: N` for the newest).
    async fn stock_movements(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the movements that match (all of them when left out).")]
        filter: Option<MovementFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<StockMovement>> {
        let (tenant, db) = request_parts(ctx)?;
        let f = filter.unwrap_or_default();
        let (product, location) = (f.product_id.as_ref(), f.location_id.as_ref());
        let kinds = f.kinds.as_deref();
        let page = PageArgs::new(ctx, first, after, last, before);
        Ok(stock::movements(db, tenant, product, location, kinds, page, StockMovement).await?)
    }

    /// Your company's inventory settings (any member).
    async fn inventory_settings(&self, ctx: &Context<'_>) -> Result<InventorySettings> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(InventorySettings {
            allow_negative_stock: stock::negative_allowed(db, tenant).await?,
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
        #[graphql(desc = "The movement.")] input: PostStockMovementInput,
    ) -> Result<PostStockMovementPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let input = NewMovement {
            product_id: input.product_id,
            location_id: input.location_id,
            kind: input.kind,
            quantity: input.quantity,
            unit_cost: input.unit_cost,
            reference: input.reference,
            note: input.note,
        };
        let moved = stock::post_movement(db, tenant, input).await?;
        Ok(PostStockMovementPayload {
            stock_movement: StockMovement(moved),
        })
    }

    /// Moves stock between two of your locations (any member): both halves or neither.
    async fn transfer_stock(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The transfer.")] input: TransferStockInput,
    ) -> Result<TransferStockPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let input = NewTransfer {
            product_id: input.product_id,
            from_location_id: input.from_location_id,
            to_location_id: input.to_location_id,
            quantity: input.quantity,
            reference: input.reference,
        };
        let moved = stock::transfer(db, tenant, input).await?;
        Ok(TransferStockPayload {
            stock_movements: moved.into_iter().map(StockMovement).collect(),
        })
    }

    /// Changes your company's inventory settings (admins and managers).
    async fn update_inventory_settings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The settings.")] input: UpdateInventorySettingsInput,
    ) -> Result<UpdateInventorySettingsPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let allow = stock::allow_negative(db, tenant, input.allow_negative_stock).await?;
        Ok(UpdateInventorySettingsPayload {
            inventory_settings: InventorySettings {
                allow_negative_stock: allow,
            },
        })
    }
}
