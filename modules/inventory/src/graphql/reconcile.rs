//! Reconciliation: discrepancies, the report, running one and approving a correction.

use crate::model::{DISCREPANCY, DiscrepancyStatus, LOCATION, PRODUCT};
use crate::service::reconcile::{self, Report};
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_entity::stock_discrepancy as discrepancy;
use ils_kernel::{id, request_parts};

#[derive(Clone)]
pub struct StockDiscrepancy(pub discrepancy::Model);

#[Object]
impl StockDiscrepancy {
    async fn id(&self) -> ID {
        id::encode(DISCREPANCY, self.0.id)
    }
    async fn product_id(&self) -> ID {
        id::encode(PRODUCT, self.0.product_id)
    }
    async fn location_id(&self) -> ID {
        id::encode(LOCATION, self.0.location_id)
    }
    async fn balance_on_hand(&self) -> i64 {
        self.0.balance_on_hand
    }
    /// On hand as the ledger adds up.
    async fn ledger_on_hand(&self) -> i64 {
        self.0.ledger_on_hand
    }
    async fn balance_reserved(&self) -> i64 {
        self.0.balance_reserved
    }
    async fn ledger_reserved(&self) -> i64 {
        self.0.ledger_reserved
    }
    async fn status(&self) -> Option<DiscrepancyStatus> {
        Some(self.0.status)
    }
    async fn found_at(&self) -> DateTime<Utc> {
        self.0.found_at
    }
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
}

#[derive(SimpleObject)]
pub struct ReconciliationReport {
    /// Balances compared with their ledger.
    pub balances_checked: i64,
    /// Every balance that disagrees now (open discrepancies, new or earlier).
    pub discrepancies: Vec<StockDiscrepancy>,
}

impl From<Report> for ReconciliationReport {
    fn from(r: Report) -> Self {
        ReconciliationReport {
            balances_checked: r.balances_checked,
            discrepancies: r.discrepancies.into_iter().map(StockDiscrepancy).collect(),
        }
    }
}

#[derive(Default)]
pub struct ReconcileQuery;

#[Object]
impl ReconcileQuery {
    /// Open discrepancies between balances and the ledger, oldest first.
    async fn stock_discrepancies(&self, ctx: &Context<'_>) -> Result<Vec<StockDiscrepancy>> {
        let (tenant, db) = request_parts(ctx)?;
        let rows = reconcile::open(db, tenant).await?;
        Ok(rows.into_iter().map(StockDiscrepancy).collect())
    }
}

#[derive(Default)]
pub struct ReconcileMutation;

#[Object]
impl ReconcileMutation {
    /// Recomputes every balance from the ledger now (admins and managers) and reports
    /// the disagreements; nothing is corrected without approval.
    async fn reconcile_inventory(&self, ctx: &Context<'_>) -> Result<ReconciliationReport> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(reconcile::reconcile_now(db, tenant).await?.into())
    }

    /// Approves the correcting ADJUSTMENT of an open discrepancy (admins and managers).
    async fn approve_stock_discrepancy(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<StockDiscrepancy> {
        let (tenant, db) = request_parts(ctx)?;
        let discrepancy_id = id::decode(DISCREPANCY, &id, "id")?;
        Ok(StockDiscrepancy(
            reconcile::approve(db, tenant, discrepancy_id).await?,
        ))
    }
}
