//! Reconciliation: discrepancies, the report, running one and approving a correction.

use crate::graphql::loaded;
use crate::graphql::locations::Location;
use crate::graphql::products::Product;
use crate::model::{DISCREPANCY, DiscrepancyStatus};
use crate::service::reconcile::{self, Discrepancy};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_kernel::{id, request_parts};

#[derive(Clone)]
pub struct StockDiscrepancy(pub Discrepancy);

/// A stock level that disagrees with its ledger, found by reconciliation. Nothing is
/// corrected until a manager approves the correcting ADJUSTMENT, which brings the ledger
/// to the balance (the stock people have acted on).
#[Object]
impl StockDiscrepancy {
    /// The discrepancy's global ID.
    async fn id(&self) -> ID {
        id::encode(DISCREPANCY, self.0.row.id)
    }
    /// The product whose stock disagrees.
    async fn product(&self) -> Result<Product> {
        Ok(Product(
            loaded(&self.0.product, "a discrepancy's product")?.clone(),
        ))
    }
    /// Where its stock disagrees.
    async fn location(&self) -> Result<Location> {
        Ok(loaded(&self.0.location, "a discrepancy's location")?
            .clone()
            .into())
    }
    /// On hand as the stock level says, in units (what approval keeps).
    async fn balance_on_hand(&self) -> i64 {
        self.0.row.balance_on_hand
    }
    /// On hand as the ledger adds up, in units.
    async fn ledger_on_hand(&self) -> i64 {
        self.0.row.ledger_on_hand
    }
    /// Reserved as the stock level says, in units.
    async fn balance_reserved(&self) -> i64 {
        self.0.row.balance_reserved
    }
    /// Reserved as the ledger adds up, in units.
    async fn ledger_reserved(&self) -> i64 {
        self.0.row.ledger_reserved
    }
    /// Where the discrepancy stands.
    async fn status(&self) -> DiscrepancyStatus {
        self.0.row.status
    }
    /// When a reconciliation last found it (as it is now).
    async fn found_at(&self) -> DateTime<Utc> {
        self.0.row.found_at
    }
    /// When it was approved or found resolved; null while OPEN.
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.resolved_at
    }
}

/// What a reconciliation found.
#[derive(SimpleObject)]
pub struct ReconciliationReport {
    /// Stock levels compared with their ledger.
    pub balances_checked: i64,
    /// Every stock level that disagrees now (open discrepancies, new or earlier).
    pub discrepancies: Vec<StockDiscrepancy>,
}

/// What `reconcileInventory` gives back.
#[derive(SimpleObject)]
pub struct ReconcileInventoryPayload {
    /// What the reconciliation found.
    pub reconciliation_report: ReconciliationReport,
}

/// What `approveStockDiscrepancy` takes.
#[derive(InputObject)]
pub struct ApproveStockDiscrepancyInput {
    /// The OPEN discrepancy whose correction you approve (a `StockDiscrepancy` ID).
    pub id: ID,
}

/// What `approveStockDiscrepancy` gives back.
#[derive(SimpleObject)]
pub struct ApproveStockDiscrepancyPayload {
    /// The discrepancy, APPROVED.
    pub stock_discrepancy: StockDiscrepancy,
}

#[derive(Default)]
pub struct ReconcileQuery;

#[Object]
impl ReconcileQuery {
    /// Your open discrepancies between stock levels and the ledger, oldest first.
    async fn stock_discrepancies(&self, ctx: &Context<'_>) -> Result<Vec<StockDiscrepancy>> {
        let (tenant, db) = request_parts(ctx)?;
        let found = reconcile::open(db, tenant).await?;
        Ok(found.into_iter().map(StockDiscrepancy).collect())
    }
}

#[derive(Default)]
pub struct ReconcileMutation;

#[Object]
impl ReconcileMutation {
    /// Recomputes every stock level from the ledger now (admins and managers) and reports
    /// the disagreements; nothing is corrected without approval.
    async fn reconcile_inventory(&self, ctx: &Context<'_>) -> Result<ReconcileInventoryPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let (checked, found) = reconcile::reconcile_now(db, tenant).await?;
        Ok(ReconcileInventoryPayload {
            reconciliation_report: ReconciliationReport {
                balances_checked: checked,
                discrepancies: found.into_iter().map(StockDiscrepancy).collect(),
            },
        })
    }

    /// Approves the correcting ADJUSTMENT of an open discrepancy (admins and managers);
    /// CONFLICT when the stock changed since it was found (reconcile again).
    async fn approve_stock_discrepancy(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The discrepancy to approve.")] input: ApproveStockDiscrepancyInput,
    ) -> Result<ApproveStockDiscrepancyPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let discrepancy_id = id::decode(DISCREPANCY, &input.id, "input.id")?;
        let found = reconcile::approve(db, tenant, discrepancy_id).await?;
        Ok(ApproveStockDiscrepancyPayload {
            stock_discrepancy: StockDiscrepancy(found),
        })
    }
}
