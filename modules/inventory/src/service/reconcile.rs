//! Reconciliation: every balance recomputed from its ledger. A balance that disagrees is
//! reported as a discrepancy and left as it is; the fix is an ADJUSTMENT line in the ledger
//! (bringing the ledger to the stock the balance shows and people have acted on) that a
//! manager approves, never a silent overwrite. It runs on demand (`reconcileInventory`)
//! and nightly for every company (a recurring job of the event backbone).

use crate::events::DiscrepancyFound;
use crate::ledger::MovementKind;
use crate::model::{DISCREPANCY, DiscrepancyStatus, LOCATION, PRODUCT};
use crate::service::stock::{locked_product, parts};
use chrono::Utc;
use ils_entity::{
    product, stock_balance as balance, stock_discrepancy as discrepancy,
    stock_location as location, stock_movement as movement,
};
use ils_kernel::authz::{require_manager, require_member};
use ils_kernel::jobs::{JobError, JobKind, JobRun, NewJob, Schedule, handler};
use ils_kernel::{AppError, AppResult, Db, TenantContext, Tx, id};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashMap;
use uuid::Uuid;

pub const RECONCILE: &str = "inventory.reconcile";
pub const RECONCILE_ALL: &str = "inventory.reconcile_all";

ils_kernel::empty_job_payload!(
    /// One company's reconciliation (the job's company).
    Reconcile,
    RECONCILE
);
ils_kernel::empty_job_payload!(
    /// Enqueues every company's reconciliation.
    ReconcileAll,
    RECONCILE_ALL
);

/// What a reconciliation found.
pub struct Report {
    /// Balances compared with their ledger.
    pub balances_checked: i64,
    /// Every balance that disagrees now (open discrepancies, new or earlier).
    pub discrepancies: Vec<discrepancy::Model>,
}

/// A discrepancy with its product and location.
#[derive(Clone)]
pub struct Discrepancy {
    pub row: discrepancy::Model,
    pub product: Option<product::Model>,
    pub location: Option<location::Model>,
}

/// These discrepancies with their products and locations: two statements.
async fn complete(tx: &Tx, rows: Vec<discrepancy::Model>) -> AppResult<Vec<Discrepancy>> {
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let products = rows.iter().map(|r| r.product_id).collect();
    let locations = rows.iter().map(|r| r.location_id).collect();
    let (products, locations) = parts(tx, Some((products, locations))).await?;
    Ok(rows
        .into_iter()
        .map(|row| Discrepancy {
            product: products.get(&row.product_id).cloned(),
            location: locations.get(&row.location_id).cloned(),
            row,
        })
        .collect())
}

/// The discrepancies among `ids` the caller can see, with their parts.
pub async fn by_ids(tx: &Tx, ids: Vec<Uuid>) -> AppResult<Vec<Discrepancy>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let rows = tx.find_many::<discrepancy::Entity>(ids).await?;
    complete(tx, rows).await
}

type Key = (Uuid, Uuid);

/// (on hand, reserved) per (location, product) as the ledger adds up: one grouped query.
async fn ledger_sums(tx: &Tx, only: Option<Key>) -> AppResult<HashMap<Key, (i64, i64)>> {
    let mut select = tx
        .select::<movement::Entity>()
        .select_only()
        .column(movement::Column::LocationId)
        .column(movement::Column::ProductId)
        .column_as(Expr::cust("CAST(SUM(quantity) AS BIGINT)"), "on_hand")
        .column_as(
            Expr::cust("CAST(SUM(reserved_delta) AS BIGINT)"),
            "reserved",
        )
        .group_by(movement::Column::LocationId)
        .group_by(movement::Column::ProductId);
    if let Some((l, p)) = only {
        select = select
            .filter(movement::Column::LocationId.eq(l))
            .filter(movement::Column::ProductId.eq(p));
    }
    let rows: Vec<(Uuid, Uuid, Option<i64>, Option<i64>)> =
        select.into_tuple().all(tx.conn()).await?;
    Ok(rows
        .into_iter()
        .map(|(l, p, on, res)| ((l, p), (on.unwrap_or(0), res.unwrap_or(0))))
        .collect())
}

/// What one balance is compared with: the balance, its ledger's (on hand, reserved), and
/// the open discrepancy already recorded for it.
type Compared = (balance::Model, (i64, i64), Option<discrepancy::Model>);

/// One balance, its ledger and its open discrepancy, read again under the product's lock:
/// no movement of the product can commit in between, so balance and ledger agree unless
/// the stock really drifted; and a reconciliation running beside this one (which takes
/// the same lock) has either recorded the drift already or waits.
async fn recheck(tx: &Tx, key: Key) -> AppResult<Option<Compared>> {
    locked_product(tx, key.1).await?;
    let sums = ledger_sums(tx, Some(key)).await?;
    let b = tx
        .select::<balance::Entity>()
        .filter(balance::Column::LocationId.eq(key.0))
        .filter(balance::Column::ProductId.eq(key.1))
        .one(tx.conn())
        .await?;
    let open = tx
        .select::<discrepancy::Entity>()
        .filter(discrepancy::Column::LocationId.eq(key.0))
        .filter(discrepancy::Column::ProductId.eq(key.1))
        .filter(discrepancy::Column::Status.eq(DiscrepancyStatus::Open))
        .one(tx.conn())
        .await?;
    Ok(b.map(|b| (b, sums.get(&key).copied().unwrap_or((0, 0)), open)))
}

/// Compares every balance of the acting company with its ledger; records each new
/// disagreement (announced once), closes earlier ones that agree again, and reports the
/// open ones. The first comparison reads all balances and all sums in two statements; a
/// movement committing between them could make a drift appear or vanish, so each
/// disagreement, and each agreement that would close an open discrepancy, is read again
/// under its product's lock (products in id order) before it is believed.
pub async fn reconcile(db: &Db, ctx: &TenantContext) -> AppResult<Report> {
    let tx = db.tenant(ctx).await?;
    let sums = ledger_sums(&tx, None).await?;
    let mut balances = tx.select::<balance::Entity>().all(tx.conn()).await?;
    let checked = balances.len() as i64;
    let open = tx
        .select::<discrepancy::Entity>()
        .filter(discrepancy::Column::Status.eq(DiscrepancyStatus::Open))
        .all(tx.conn())
        .await?;
    let open: HashMap<Key, discrepancy::Model> = open
        .into_iter()
        .map(|d| ((d.location_id, d.product_id), d))
        .collect();
    balances.sort_by_key(|b| (b.product_id, b.location_id));
    let now = Utc::now();
    let mut found = Vec::new();
    for b in balances {
        let key = (b.location_id, b.product_id);
        let sum = sums.get(&key).copied().unwrap_or((0, 0));
        // Agreement is believed as read unless it would close a recorded drift: that, like
        // any disagreement, is read again under the lock first.
        let (b, (on, res), earlier) = if (b.on_hand, b.reserved) == sum && !open.contains_key(&key)
        {
            (b, sum, None)
        } else {
            match recheck(&tx, key).await? {
                Some(again) => again,
                None => continue,
            }
        };
        let earlier = earlier.as_ref();
        // (Still open: an approval that committed meanwhile stands.)
        let still_open = |d: &discrepancy::Model| {
            discrepancy::Column::Id
                .eq(d.id)
                .and(discrepancy::Column::Status.eq(DiscrepancyStatus::Open))
        };
        if on == b.on_hand && res == b.reserved {
            if let Some(d) = earlier {
                tx.update_many::<discrepancy::Entity>(
                    vec![
                        (
                            discrepancy::Column::Status,
                            Expr::value(DiscrepancyStatus::Resolved),
                        ),
                        (discrepancy::Column::ResolvedAt, Expr::value(now)),
                    ],
                    still_open(d),
                )
                .await?;
            }
            continue;
        }
        let row = match earlier {
            Some(d)
                if d.balance_on_hand == b.on_hand
                    && d.ledger_on_hand == on
                    && d.balance_reserved == b.reserved
                    && d.ledger_reserved == res =>
            {
                d.clone()
            }
            Some(d) => {
                tx.update_many::<discrepancy::Entity>(
                    vec![
                        (discrepancy::Column::BalanceOnHand, Expr::value(b.on_hand)),
                        (discrepancy::Column::LedgerOnHand, Expr::value(on)),
                        (
                            discrepancy::Column::BalanceReserved,
                            Expr::value(b.reserved),
                        ),
                        (discrepancy::Column::LedgerReserved, Expr::value(res)),
                        (discrepancy::Column::FoundAt, Expr::value(now)),
                    ],
                    still_open(d),
                )
                .await?;
                tx.get::<discrepancy::Entity>(d.id).await?
            }
            None => {
                let row = tx
                    .insert(discrepancy::ActiveModel {
                        id: Set(Uuid::now_v7()),
                        company_id: sea_orm::ActiveValue::NotSet,
                        location_id: Set(b.location_id),
                        product_id: Set(b.product_id),
                        balance_on_hand: Set(b.on_hand),
                        ledger_on_hand: Set(on),
                        balance_reserved: Set(b.reserved),
                        ledger_reserved: Set(res),
                        status: Set(DiscrepancyStatus::Open),
                        found_at: Set(now),
                        resolved_at: Set(None),
                        resolved_by: Set(None),
                    })
                    .await?;
                tx.emit(
                    &DiscrepancyFound {
                        discrepancy_id: id::encode(DISCREPANCY, row.id),
                        product_id: id::encode(PRODUCT, row.product_id),
                        location_id: id::encode(LOCATION, row.location_id),
                        difference: b.on_hand - on,
                    },
                    &[],
                )
                .await?;
                row
            }
        };
        found.push(row);
    }
    tx.commit().await?;
    Ok(Report {
        balances_checked: checked,
        discrepancies: found,
    })
}

/// A manager's reconciliation, now: [`reconcile`] once the caller is an admin or manager;
/// the discrepancies with their products and locations.
pub async fn reconcile_now(db: &Db, ctx: &TenantContext) -> AppResult<(i64, Vec<Discrepancy>)> {
    let tx = db.tenant(ctx).await?;
    require_manager(&tx, ctx).await?;
    tx.commit().await?;
    let report = reconcile(db, ctx).await?;
    let tx = db.tenant(ctx).await?;
    let found = complete(&tx, report.discrepancies).await?;
    tx.commit().await?;
    Ok((report.balances_checked, found))
}

/// The company's open discrepancies, oldest first.
pub async fn open(db: &Db, ctx: &TenantContext) -> AppResult<Vec<Discrepancy>> {
    require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    let rows = tx
        .select::<discrepancy::Entity>()
        .filter(discrepancy::Column::Status.eq(DiscrepancyStatus::Open))
        .order_by_asc(discrepancy::Column::Id)
        .all(tx.conn())
        .await?;
    let found = complete(&tx, rows).await?;
    tx.commit().await?;
    Ok(found)
}

/// A manager's approval: the ledger gets an ADJUSTMENT that brings it to the balance (the
/// balance itself is not touched), after checking, under the product's lock, that the
/// two still disagree by what was reported.
pub async fn approve(db: &Db, ctx: &TenantContext, discrepancy_id: Uuid) -> AppResult<Discrepancy> {
    let tx = db.tenant(ctx).await?;
    require_manager(&tx, ctx).await?;
    let d = tx.get::<discrepancy::Entity>(discrepancy_id).await?;
    if d.status != DiscrepancyStatus::Open {
        return Err(AppError::Conflict(format!(
            "the discrepancy is {}",
            d.status.as_str()
        )));
    }
    locked_product(&tx, d.product_id).await?;
    let key = (d.location_id, d.product_id);
    let (on, res) = ledger_sums(&tx, Some(key))
        .await?
        .get(&key)
        .copied()
        .unwrap_or((0, 0));
    let b = tx
        .select::<balance::Entity>()
        .filter(balance::Column::LocationId.eq(d.location_id))
        .filter(balance::Column::ProductId.eq(d.product_id))
        .one(tx.conn())
        .await?
        .ok_or(AppError::NotFound)?;
    if (b.on_hand, b.reserved, on, res)
        != (
            d.balance_on_hand,
            d.balance_reserved,
            d.ledger_on_hand,
            d.ledger_reserved,
        )
    {
        return Err(AppError::Conflict(
            "the stock changed since the reconciliation: reconcile again".into(),
        ));
    }
    let now = Utc::now();
    tx.insert(movement::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: sea_orm::ActiveValue::NotSet,
        location_id: Set(d.location_id),
        product_id: Set(d.product_id),
        kind: Set(MovementKind::Adjustment.as_str().into()),
        quantity: Set(b.on_hand - on),
        reserved_delta: Set(b.reserved - res),
        unit_cost: Set(None),
        on_hand_after: Set(b.on_hand),
        avg_cost_after: Set(b.avg_cost),
        transfer_id: Set(None),
        reference: Set(Some(format!(
            "reconciliation {}",
            id::encode(DISCREPANCY, d.id).as_str()
        ))),
        note: Set(Some("approved reconciliation".into())),
        actor_user_id: Set(ctx.responsible_user()),
        created_at: Set(now),
    })
    .await?;
    tx.update_many::<discrepancy::Entity>(
        vec![
            (
                discrepancy::Column::Status,
                Expr::value(DiscrepancyStatus::Approved),
            ),
            (discrepancy::Column::ResolvedAt, Expr::value(now)),
            (
                discrepancy::Column::ResolvedBy,
                Expr::value(ctx.responsible_user()),
            ),
        ],
        discrepancy::Column::Id.eq(d.id),
    )
    .await?;
    let row = tx.get::<discrepancy::Entity>(d.id).await?;
    let found = complete(&tx, vec![row]).await?;
    tx.commit().await?;
    found.into_iter().next().ok_or(AppError::NotFound)
}

/// One company's nightly reconciliation.
pub fn reconcile_kind() -> JobKind {
    JobKind::new(
        RECONCILE,
        handler(|run: JobRun| async move {
            if run.company_id.is_none() {
                return Err(JobError::permanent("a reconciliation names its company"));
            }
            // The job was enqueued for this company (by `reconcile_all` or a manager): it
            // acts in the job's own context.
            reconcile(&run.db, &run.tenant()).await?;
            Ok(())
        }),
    )
    .max_attempts(3)
}

/// Every company with stock gets its reconciliation job (one per company per night).
pub fn reconcile_all_kind() -> JobKind {
    JobKind::new(
        RECONCILE_ALL,
        handler(|run: JobRun| async move {
            #[allow(clippy::disallowed_methods)]
            // a cross-tenant worker: it only lists which companies keep stock
            let tx = run.db.system().await?;
            let companies: Vec<Uuid> = tx
                .select::<balance::Entity>()
                .select_only()
                .column(balance::Column::CompanyId)
                .distinct()
                .into_tuple()
                .all(tx.conn())
                .await
                .map_err(AppError::from)?;
            tx.enqueue_tonight_for(companies, &Reconcile {}).await?;
            tx.commit().await?;
            Ok(())
        }),
    )
    .max_attempts(3)
}

pub fn reconcile_schedule() -> Schedule {
    Schedule {
        name: "inventory-reconciliation",
        cron: "17 2 * * *",
        job: || NewJob::of(&ReconcileAll {}),
    }
}
