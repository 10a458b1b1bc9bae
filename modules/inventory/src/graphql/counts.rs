//! Stock counts: the type, one by ID, start, record, post and cancel.

use crate::graphql::loaded;
use crate::graphql::locations::Location;
use crate::graphql::products::Product;
use crate::model::{COUNT, StockCountStatus};
use crate::service::counts::{self, Count, Counted};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_kernel::{AppError, id, request_parts};

/// One product as counted: named by exactly one of `productId`, `sku` or `barcode`.
#[derive(InputObject)]
pub struct CountedInput {
    /// The product (a `Product` ID of yours).
    pub product_id: Option<ID>,
    /// The product's SKU.
    pub sku: Option<String>,
    /// The product's barcode (GTIN); only its digits are read.
    pub barcode: Option<String>,
    /// Units found, 0 or more.
    pub counted: i64,
}

/// One counted product of a stock count.
#[derive(SimpleObject, Clone)]
pub struct CountLine {
    /// The product counted.
    pub product: Product,
    /// Units found (the last recording of the product).
    pub counted: i64,
    /// On hand by the books when the product was first recorded in this count (a later
    /// recording corrects the count, not the moment); null only for lines recorded
    /// before counts kept it, until posted.
    pub expected: Option<i64>,
    /// Counted less expected, in units: the ADJUSTMENT that posting writes; null when
    /// `expected` is.
    pub difference: Option<i64>,
}

#[derive(Clone)]
pub struct StockCount(pub Count);

/// A stock count of one location: quantities are recorded while it is OPEN, and posting
/// turns each product's difference from the books into an ADJUSTMENT.
#[Object]
impl StockCount {
    /// The count's global ID.
    async fn id(&self) -> ID {
        id::encode(COUNT, self.0.row.id)
    }
    /// The location counted.
    async fn location(&self) -> Result<Location> {
        Ok(loaded(&self.0.location, "a count's location")?
            .clone()
            .into())
    }
    /// Where the count stands.
    async fn status(&self) -> StockCountStatus {
        self.0.row.status
    }
    /// The products counted so far, in the order first recorded.
    async fn lines(&self) -> Result<Vec<CountLine>> {
        self.0
            .lines
            .iter()
            .map(|l| {
                let product = self
                    .0
                    .products
                    .get(&l.product_id)
                    .ok_or_else(|| AppError::internal("a count line's product was not read"))?;
                Ok(CountLine {
                    product: Product(product.clone()),
                    counted: l.counted,
                    expected: l.expected,
                    difference: l.expected.map(|e| l.counted - e),
                })
            })
            .collect()
    }
    /// When the count was posted; null until then.
    async fn posted_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.posted_at
    }
    /// When the count was started.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.row.created_at
    }
}

/// What `startStockCount` takes.
#[derive(InputObject, Default)]
pub struct StartStockCountInput {
    /// The location to count (a `StockLocation` ID of yours); your default location when
    /// left out.
    pub location_id: Option<ID>,
}

/// What `startStockCount` gives back.
#[derive(SimpleObject)]
pub struct StartStockCountPayload {
    /// The new, OPEN count.
    pub stock_count: StockCount,
}

/// What `recordStockCount` takes.
#[derive(InputObject)]
pub struct RecordStockCountInput {
    /// The OPEN count (a `StockCount` ID).
    pub id: ID,
    /// The products counted: 1 to 1000 lines.
    pub lines: Vec<CountedInput>,
}

/// What `recordStockCount` gives back.
#[derive(SimpleObject)]
pub struct RecordStockCountPayload {
    /// The count with every line recorded so far.
    pub stock_count: StockCount,
}

/// What `postStockCount` takes.
#[derive(InputObject)]
pub struct PostStockCountInput {
    /// The OPEN count to post (a `StockCount` ID).
    pub id: ID,
}

/// What `postStockCount` gives back.
#[derive(SimpleObject)]
pub struct PostStockCountPayload {
    /// The count, POSTED.
    pub stock_count: StockCount,
}

/// What `cancelStockCount` takes.
#[derive(InputObject)]
pub struct CancelStockCountInput {
    /// The OPEN count to cancel (a `StockCount` ID).
    pub id: ID,
}

/// What `cancelStockCount` gives back.
#[derive(SimpleObject)]
pub struct CancelStockCountPayload {
    /// The count, CANCELLED.
    pub stock_count: StockCount,
}

#[derive(Default)]
pub struct CountsQuery;

#[Object]
impl CountsQuery {
    /// One of your company's stock counts; null when you have none with this ID.
    async fn stock_count(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The count's ID.")] id: ID,
    ) -> Result<Option<StockCount>> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(counts::get(db, tenant, &id).await?.map(StockCount))
    }
}

#[derive(Default)]
pub struct CountsMutation;

#[Object]
impl CountsMutation {
    /// Starts counting a location (any member). A location has one open count at a time:
    /// while one is open, CONFLICT (post or cancel it first).
    async fn start_stock_count(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The location to count.")] input: StartStockCountInput,
    ) -> Result<StartStockCountPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let count = counts::start(db, tenant, input.location_id.as_ref()).await?;
        Ok(StartStockCountPayload {
            stock_count: StockCount(count),
        })
    }

    /// Cancels an open count (admins and managers): nothing is adjusted, and the location
    /// can be counted again.
    async fn cancel_stock_count(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The count to cancel.")] input: CancelStockCountInput,
    ) -> Result<CancelStockCountPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let count_id = id::decode(COUNT, &input.id, "input.id")?;
        Ok(CancelStockCountPayload {
            stock_count: StockCount(counts::cancel(db, tenant, count_id).await?),
        })
    }

    /// Records counted quantities (any member); a product's first recording keeps what the
    /// books say at that moment, and recording it again corrects its count.
    async fn record_stock_count(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The count and what was counted.")] input: RecordStockCountInput,
    ) -> Result<RecordStockCountPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let count_id = id::decode(COUNT, &input.id, "input.id")?;
        let lines = input
            .lines
            .into_iter()
            .map(|l| Counted {
                product_id: l.product_id,
                sku: l.sku,
                barcode: l.barcode,
                counted: l.counted,
            })
            .collect();
        Ok(RecordStockCountPayload {
            stock_count: StockCount(counts::record(db, tenant, count_id, lines).await?),
        })
    }

    /// Posts a count (admins and managers): each product's difference (counted less what
    /// the books said when it was counted) becomes an ADJUSTMENT movement, all in one
    /// transaction, so sales and receipts since the counting stand; a count is posted once
    /// (again: CONFLICT).
    async fn post_stock_count(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The count to post.")] input: PostStockCountInput,
    ) -> Result<PostStockCountPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let count_id = id::decode(COUNT, &input.id, "input.id")?;
        Ok(PostStockCountPayload {
            stock_count: StockCount(counts::post_count(db, tenant, count_id).await?),
        })
    }
}
