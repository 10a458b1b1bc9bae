//! Stock counts: the type, one by ID, start, record, post and cancel.

use crate::model::{COUNT, LOCATION, PRODUCT, StockCountStatus};
use crate::service::counts::{self, Count, Counted};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_kernel::{id, request_parts};

#[derive(InputObject)]
pub struct CountedInput {
    /// The product, or its SKU, or its barcode (GTIN): exactly one.
    pub product_id: Option<ID>,
    pub sku: Option<String>,
    pub barcode: Option<String>,
    /// Units found, 0 or more.
    pub counted: i64,
}

#[derive(SimpleObject, Clone)]
pub struct CountLine {
    pub product_id: ID,
    pub counted: i64,
    /// On hand by the books when the product was first recorded in this count (a later
    /// recording corrects the count, not the moment).
    pub expected: Option<i64>,
    /// Counted less expected: the ADJUSTMENT that posting writes.
    pub difference: Option<i64>,
}

#[derive(Clone)]
pub struct StockCount(pub Count);

#[Object]
impl StockCount {
    async fn id(&self) -> ID {
        id::encode(COUNT, self.0.row.id)
    }
    async fn location_id(&self) -> ID {
        id::encode(LOCATION, self.0.row.location_id)
    }
    async fn status(&self) -> Option<StockCountStatus> {
        Some(self.0.row.status)
    }
    async fn lines(&self) -> Vec<CountLine> {
        self.0
            .lines
            .iter()
            .map(|l| CountLine {
                product_id: id::encode(PRODUCT, l.product_id),
                counted: l.counted,
                expected: l.expected,
                difference: l.expected.map(|e| l.counted - e),
            })
            .collect()
    }
    async fn posted_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.posted_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.row.created_at
    }
}

#[derive(Default)]
pub struct CountsQuery;

#[Object]
impl CountsQuery {
    async fn stock_count(&self, ctx: &Context<'_>, id: ID) -> Result<Option<StockCount>> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(counts::get(db, tenant, &id).await?.map(StockCount))
    }
}

#[derive(Default)]
pub struct CountsMutation;

#[Object]
impl CountsMutation {
    /// Starts counting a location (your default one when left out). A location has one
    /// open count at a time: while one is open, CONFLICT (post or cancel it first).
    async fn start_stock_count(
        &self,
        ctx: &Context<'_>,
        location_id: Option<ID>,
    ) -> Result<StockCount> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(StockCount(
            counts::start(db, tenant, location_id.as_ref()).await?,
        ))
    }

    /// Cancels an open count (admins and managers): nothing is adjusted, and the location
    /// can be counted again.
    async fn cancel_stock_count(&self, ctx: &Context<'_>, id: ID) -> Result<StockCount> {
        let (tenant, db) = request_parts(ctx)?;
        let count_id = id::decode(COUNT, &id, "id")?;
        Ok(StockCount(counts::cancel(db, tenant, count_id).await?))
    }

    /// Records counted quantities (any member); a product's first recording keeps what the
    /// books say at that moment, and recording it again corrects its count.
    async fn record_stock_count(
        &self,
        ctx: &Context<'_>,
        id: ID,
        lines: Vec<CountedInput>,
    ) -> Result<StockCount> {
        let (tenant, db) = request_parts(ctx)?;
        let count_id = id::decode(COUNT, &id, "id")?;
        let lines = lines
            .into_iter()
            .map(|l| Counted {
                product_id: l.product_id,
                sku: l.sku,
                barcode: l.barcode,
                counted: l.counted,
            })
            .collect();
        Ok(StockCount(
            counts::record(db, tenant, count_id, lines).await?,
        ))
    }

    /// Posts a count (admins and managers): each product's difference (counted less what
    /// the books said when it was counted) becomes an ADJUSTMENT movement, all in one
    /// transaction, so sales and receipts since the counting stand; a count is posted once
    /// (again: CONFLICT).
    async fn post_stock_count(&self, ctx: &Context<'_>, id: ID) -> Result<StockCount> {
        let (tenant, db) = request_parts(ctx)?;
        let count_id = id::decode(COUNT, &id, "id")?;
        Ok(StockCount(counts::post_count(db, tenant, count_id).await?))
    }
}
