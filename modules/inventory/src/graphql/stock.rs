//! Stock: the ledger's movements, the levels (balances), posting and transferring, and
//! the inventory settings.

use crate::graphql::locations::Location;
use crate::graphql::products::Product;
use crate::ledger::MovementKind;
use crate::model::{BALANCE, LOCATION, MOVEMENT, PRODUCT};
use crate::service::stock::{self, Level, NewMovement, NewTransfer};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_common::catalog::draft::price_to_decimal;
use ils_entity::stock_movement as movement;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::{id, request_parts};
use rust_decimal::Decimal;

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
pub struct StockLevel(pub Level);

impl AsMut<Level> for StockLevel {
    fn as_mut(&mut self) -> &mut Level {
        &mut self.0
    }
}

#[Object]
impl StockLevel {
    async fn id(&self) -> ID {
        id::encode(BALANCE, self.0.row.id)
    }
    async fn product(&self) -> Option<Product> {
        self.0.product.clone().map(Product)
    }
    async fn location(&self) -> Option<Location> {
        self.0.location.clone().map(Location::from)
    }
    async fn on_hand(&self) -> i64 {
        self.0.row.on_hand
    }
    async fn reserved(&self) -> i64 {
        self.0.row.reserved
    }
    /// On hand less reserved.
    async fn available(&self) -> i64 {
        self.0.row.on_hand - self.0.row.reserved
    }
    /// The moving average cost of a unit.
    async fn average_cost(&self) -> Decimal {
        price_to_decimal(self.0.row.avg_cost)
    }
    /// On hand at the average cost.
    async fn value(&self) -> Option<Decimal> {
        price_to_decimal(self.0.row.avg_cost).checked_mul(Decimal::from(self.0.row.on_hand))
    }
    /// At or below the product's reorder threshold.
    async fn low(&self) -> bool {
        self.0.row.low
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.row.updated_at
    }
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
    ) -> Result<Page<StockLevel>> {
        let (tenant, db) = request_parts(ctx)?;
        let f = filter.unwrap_or_default();
        let (location, product) = (f.location_id.as_ref(), f.product_id.as_ref());
        let low_only = f.low_only == Some(true);
        let page = PageArgs::new(ctx, first, after, last, before);
        Ok(stock::levels(db, tenant, location, product, low_only, page, StockLevel).await?)
    }

    /// Products whose available stock is at or below their reorder point or minimum.
    async fn low_stock(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Page<StockLevel>> {
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
    ) -> Result<Page<StockMovement>> {
        let (tenant, db) = request_parts(ctx)?;
        let f = filter.unwrap_or_default();
        let (product, location) = (f.product_id.as_ref(), f.location_id.as_ref());
        let kinds = f.kinds.as_deref();
        let page = PageArgs::new(ctx, first, after, last, before);
        Ok(stock::movements(db, tenant, product, location, kinds, page, StockMovement).await?)
    }

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
        input: MovementInput,
    ) -> Result<StockMovement> {
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
        Ok(StockMovement(
            stock::post_movement(db, tenant, input).await?,
        ))
    }

    /// Moves stock between two of your locations: both halves or neither.
    async fn transfer_stock(
        &self,
        ctx: &Context<'_>,
        input: TransferInput,
    ) -> Result<Vec<StockMovement>> {
        let (tenant, db) = request_parts(ctx)?;
        let input = NewTransfer {
            product_id: input.product_id,
            from_location_id: input.from_location_id,
            to_location_id: input.to_location_id,
            quantity: input.quantity,
            reference: input.reference,
        };
        let moved = stock::transfer(db, tenant, input).await?;
        Ok(moved.into_iter().map(StockMovement).collect())
    }

    /// Company admins and managers.
    async fn update_inventory_settings(
        &self,
        ctx: &Context<'_>,
        allow_negative_stock: bool,
    ) -> Result<InventorySettings> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(InventorySettings {
            allow_negative_stock: stock::allow_negative(db, tenant, allow_negative_stock).await?,
        })
    }
}
