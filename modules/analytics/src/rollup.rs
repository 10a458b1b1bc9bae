//! The rollups behind every dashboard, kept from the outbox and rebuilt from scratch.
//!
//! One job kind handles every lens order and purchase order event. It reads the record,
//! computes the figures of each party the event was addressed to (`facts`, from the
//! record's own party columns), and applies to `analytics_daily` only the difference from
//! what the record added before (kept in `analytics_sources`, locked while it changes). The figures depend on the record as it is, not on the event, so an event
//! delivered twice, late or out of order changes nothing the second time, and the rollups
//! always equal a computation from scratch: `rebuild` is that computation.

use crate::facts::{self, Amount, ByCompany, Facts, Key};
use chrono::Utc;
use ils_entity::{
    analytics_daily as daily, analytics_source as source, lens_order, order_status_change,
    purchase_order, purchase_order_line,
};
use ils_inventory::events::PurchaseOrderChange;
use ils_inventory::model::PURCHASE_ORDER;
use ils_kernel::jobs::{JobError, JobKind, JobRun, batch_handler, handler};
use ils_kernel::{AppError, AppResult, Db, Event, Tx, id};
use ils_orders::events::OrderChange;
use ils_orders::model::ORDER;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::BTreeMap;
use uuid::Uuid;

pub const ROLLUP: &str = "analytics.rollup";

/// The event handler that keeps the rollups.
pub fn rollup_kind() -> JobKind {
    // An event handled while `rebuild` holds the rollup tables waits for it to end (a
    // rebuild of a million orders took six minutes): the attempt's time and the attempts
    // outlast that, so no event's difference is lost to a timeout meanwhile.
    //
    // Events are taken in batches (up to `BATCH`, at most one batch a second while they
    // keep coming): a burst of submissions costs one transaction of rollups, and several
    // events of one record in it are one computation.
    JobKind::new(ROLLUP, handler(roll))
        .on_events(&["order.*", "purchase_order.*"])
        .timeout(std::time::Duration::from_secs(30 * 60))
        .max_attempts(10)
        .batched(BATCH, BATCH_EVERY, batch_handler(roll_many))
}

/// The most events one transaction of the handler takes.
pub const BATCH: usize = 200;

/// While events keep coming, their rollups are kept a batch per second: dashboards are up
/// to a second behind the trade then (an event after a quiet spell is handled at once).
pub const BATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The record an event is about.
#[derive(Clone, Copy, Debug)]
enum Source {
    Order(Uuid),
    PurchaseOrder(Uuid),
}

fn source_of(event: &Event) -> Result<Option<Source>, JobError> {
    if let Some(change) = OrderChange::of(event) {
        let id = id::decode(ORDER, &change.order_id, "orderId")
            .map_err(|_| JobError::permanent("an order event without its order"))?;
        return Ok(Some(Source::Order(id)));
    }
    if let Some(change) = PurchaseOrderChange::of(event) {
        let id = id::decode(PURCHASE_ORDER, &change.purchase_order_id, "purchaseOrderId")
            .map_err(|_| JobError::permanent("a purchase order event without its order"))?;
        return Ok(Some(Source::PurchaseOrder(id)));
    }
    // Drafts (`purchase_order.drafted`) and events of other shapes add nothing.
    Ok(None)
}

async fn roll(run: JobRun) -> Result<(), JobError> {
    handle(&run.db, &run.event()?).await
}

async fn roll_many(runs: Vec<JobRun>) -> Result<(), JobError> {
    let Some(db) = runs.first().map(|r| r.db.clone()) else {
        return Ok(());
    };
    let events = runs
        .iter()
        .map(JobRun::event)
        .collect::<Result<Vec<_>, _>>()?;
    handle_many(&db, &events).await
}

/// What the handler does with one event: every party's rollups brought up to the record's
/// figures now (also called by `ils bench-analytics`, which times it).
pub async fn handle(db: &Db, event: &Event) -> Result<(), JobError> {
    handle_many(db, std::slice::from_ref(event)).await
}

/// What the handler does with events taken together: the rollups of every party of every
/// record they are about brought up to the record's figures now. Several events of one
/// record are one computation (the figures depend on the record as it is, not on the
/// events).
///
/// One transaction of the system scope serves them all: the source rows of every (record,
/// party) are taken (made when missing) and locked in one statement, the records are read
/// (one statement per kind of record, and one for the shipped orders' steps), and every
/// party's day rows and source rows are written in one statement each. The figures of a
/// company come from the record's own party columns (`facts`), as in `rebuild`, and only
/// companies the record's events were addressed to are written.
pub async fn handle_many(db: &Db, events: &[Event]) -> Result<(), JobError> {
    // Each record once, with every party its events were addressed to.
    let mut records: BTreeMap<Uuid, (Source, Vec<Uuid>)> = BTreeMap::new();
    for event in events {
        let Some(source) = source_of(event)? else {
            continue;
        };
        let id = match source {
            Source::Order(id) | Source::PurchaseOrder(id) => id,
        };
        records
            .entry(id)
            .or_insert_with(|| (source, Vec::new()))
            .1
            .extend(event.audience.iter().copied());
    }
    let mut pairs: Vec<(Uuid, Uuid)> = Vec::new();
    for (id, (_, parties)) in records.iter_mut() {
        parties.sort_unstable();
        parties.dedup();
        pairs.extend(parties.iter().map(|&p| (*id, p)));
    }
    if pairs.is_empty() {
        return Ok(());
    }
    // A cross-tenant worker by nature (the parties of each record): each figure goes to
    // the company the record's party column names, and only to the events' audience.
    #[allow(clippy::disallowed_methods)]
    let tx = db.system().await?;
    // The source rows are locked before the records are read, in (record, company) order
    // as every handler takes them: two handlers of one record take turns, and the second
    // reads what the first saw or later, so the figures kept are never an older version's.
    let kept = lock_sources(&tx, &pairs).await?;
    let orders: Vec<Uuid> = records
        .values()
        .filter_map(|(s, _)| match s {
            Source::Order(id) => Some(*id),
            Source::PurchaseOrder(_) => None,
        })
        .collect();
    let purchase_orders: Vec<Uuid> = records
        .values()
        .filter_map(|(s, _)| match s {
            Source::PurchaseOrder(id) => Some(*id),
            Source::Order(_) => None,
        })
        .collect();
    // Records gone since their events have no figures (none are found).
    let orders = tx.find_many::<lens_order::Entity>(orders).await?;
    let purchase_orders = tx
        .find_many::<purchase_order::Entity>(purchase_orders)
        .await?;
    let mut by_record = facts_of_orders(&tx, &orders).await?;
    by_record.extend(facts_of_purchase_orders(&tx, &purchase_orders).await?);
    let mut days: BTreeMap<(Uuid, Key), Amount> = BTreeMap::new();
    let mut changed = Vec::new();
    for row in kept {
        let new = by_record
            .get_mut(&row.source_id)
            .and_then(|by_company| by_company.remove(&row.company_id))
            .unwrap_or_default();
        let old = facts::from_json(&row.facts).ok_or_else(|| {
            AppError::internal("an analytics source row this release cannot read")
        })?;
        let change = facts::difference(&old, &new);
        if change.is_empty() {
            continue;
        }
        for (key, amount) in change {
            let day = days.entry((row.company_id, key)).or_default();
            day.value += amount.value;
            day.count += amount.count;
        }
        changed.push(source_row(row.company_id, row.source_id, &new));
    }
    days.retain(|_, a| *a != Amount::default());
    // Day rows in (company, key) order, as every handler writes them: two handlers that
    // meet on a day wait for each other instead of deadlocking.
    let sum =
        |c: daily::Column| Tx::existing::<daily::Entity>(c).add(Tx::proposed::<daily::Entity>(c));
    for chunk in days.into_iter().collect::<Vec<_>>().chunks(WRITE_CHUNK) {
        tx.upsert_many::<daily::Entity, _>(
            chunk
                .iter()
                .map(|((company, key), amount)| day_row(*company, key, *amount))
                .collect(),
            &[
                daily::Column::Metric,
                daily::Column::Dim,
                daily::Column::Day,
            ],
            vec![
                (daily::Column::Value, sum(daily::Column::Value)),
                (daily::Column::Count, sum(daily::Column::Count)),
            ],
        )
        .await?;
    }
    for chunk in changed.chunks(WRITE_CHUNK) {
        tx.upsert_many::<source::Entity, _>(
            chunk.to_vec(),
            &[source::Column::SourceId],
            vec![
                (
                    source::Column::Facts,
                    Tx::proposed::<source::Entity>(source::Column::Facts),
                ),
                (
                    source::Column::UpdatedAt,
                    Tx::proposed::<source::Entity>(source::Column::UpdatedAt),
                ),
            ],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Rows per write statement: seven values a row, within both backends' bound on a
/// statement's parameters.
const WRITE_CHUNK: usize = 2_000;

/// The figures of each of `orders`, by record and party: the steps of the shipped ones
/// (the day each shipped) read in one statement. The handler's and `rebuild`'s.
async fn facts_of_orders(
    tx: &Tx,
    orders: &[lens_order::Model],
) -> AppResult<BTreeMap<Uuid, ByCompany>> {
    let shipped: Vec<Uuid> = orders
        .iter()
        .filter(|o| facts::has_shipped(o.status))
        .map(|o| o.id)
        .collect();
    let mut steps: BTreeMap<Uuid, Vec<order_status_change::Model>> = BTreeMap::new();
    if !shipped.is_empty() {
        for s in tx
            .select::<order_status_change::Entity>()
            .filter(order_status_change::Column::OrderId.is_in(shipped))
            .all(tx.conn())
            .await?
        {
            steps.entry(s.order_id).or_default().push(s);
        }
    }
    Ok(orders
        .iter()
        .map(|o| {
            let steps = steps.get(&o.id).map(Vec::as_slice).unwrap_or(&[]);
            (o.id, facts::order_facts(o, steps))
        })
        .collect())
}

/// The figures of each of `pos`, by record and party: their lines read in one statement.
/// The handler's and `rebuild`'s.
async fn facts_of_purchase_orders(
    tx: &Tx,
    pos: &[purchase_order::Model],
) -> AppResult<BTreeMap<Uuid, ByCompany>> {
    if pos.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut lines: BTreeMap<Uuid, Vec<purchase_order_line::Model>> = BTreeMap::new();
    for l in tx
        .select::<purchase_order_line::Entity>()
        .filter(purchase_order_line::Column::OrderId.is_in(pos.iter().map(|po| po.id)))
        .all(tx.conn())
        .await?
    {
        lines.entry(l.order_id).or_default().push(l);
    }
    Ok(pos
        .iter()
        .map(|po| {
            let lines = lines.get(&po.id).map(Vec::as_slice).unwrap_or(&[]);
            (po.id, facts::purchase_order_facts(po, lines))
        })
        .collect())
}

/// The source rows of every (record, company) of `pairs` (sorted, as every handler takes
/// them), made when missing (as none yet) and locked until commit.
async fn lock_sources(tx: &Tx, pairs: &[(Uuid, Uuid)]) -> AppResult<Vec<source::Model>> {
    tx.upsert_locked::<source::Entity, _>(
        pairs
            .iter()
            .map(|&(source_id, company)| source_row(company, source_id, &Facts::default()))
            .collect(),
        &[source::Column::SourceId],
    )
    .await
}

fn source_row(company: Uuid, source_id: Uuid, f: &Facts) -> source::ActiveModel {
    source::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(company),
        source_id: Set(source_id),
        facts: Set(facts::to_json(f)),
        updated_at: Set(Utc::now()),
    }
}

fn day_row(company: Uuid, key: &Key, amount: Amount) -> daily::ActiveModel {
    daily::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(company),
        metric: Set(key.metric.clone()),
        dim: Set(key.dim.clone()),
        day: Set(key.day),
        value: Set(amount.value),
        count: Set(amount.count),
    }
}

/// What a rebuild did.
#[derive(Debug, Default)]
pub struct Rebuilt {
    pub orders: usize,
    pub purchase_orders: usize,
    pub companies: usize,
    pub day_rows: usize,
}

const PAGE: u64 = 500;

/// Recomputes every company's rollups from the lens orders and purchase orders, in one
/// transaction of the system scope: the old rows go, every record's figures are computed
/// as the event handler computes them, and their sums are written. On PostgreSQL both
/// tables are locked against other writers first: events handled meanwhile wait for it
/// and then apply their differences to the rebuilt rows.
pub async fn rebuild(db: &Db) -> AppResult<Rebuilt> {
    // A cross-tenant worker by nature (every company's records, run from the command
    // line): each figure still goes to the company the record's party column names.
    #[allow(clippy::disallowed_methods)]
    let tx = db.system().await?;
    // Handlers lock a source row, then write day rows: the rebuild takes both tables in
    // that order, and every handler waits for it to end, then applies its difference to
    // the rebuilt rows.
    tx.lock_table::<source::Entity>().await?;
    tx.lock_table::<daily::Entity>().await?;
    tx.delete_many::<source::Entity>().exec(tx.conn()).await?;
    tx.delete_many::<daily::Entity>().exec(tx.conn()).await?;
    let mut totals: BTreeMap<(Uuid, Key), Amount> = BTreeMap::new();
    let mut done = Rebuilt::default();
    let mut after: Option<Uuid> = None;
    loop {
        let mut page = tx
            .select::<lens_order::Entity>()
            .filter(lens_order::Column::SubmittedAt.is_not_null())
            .order_by_asc(lens_order::Column::Id)
            .limit(PAGE);
        if let Some(a) = after {
            page = page.filter(lens_order::Column::Id.gt(a));
        }
        let orders = page.all(tx.conn()).await?;
        let Some(last) = orders.last() else { break };
        after = Some(last.id);
        let mut sources = Vec::new();
        for (id, f) in facts_of_orders(&tx, &orders).await? {
            keep(&mut totals, &mut sources, id, f);
        }
        insert_sources(&tx, sources).await?;
        done.orders += orders.len();
    }
    let mut after: Option<Uuid> = None;
    loop {
        let mut page = tx
            .select::<purchase_order::Entity>()
            .filter(purchase_order::Column::SubmittedAt.is_not_null())
            .order_by_asc(purchase_order::Column::Id)
            .limit(PAGE);
        if let Some(a) = after {
            page = page.filter(purchase_order::Column::Id.gt(a));
        }
        let pos = page.all(tx.conn()).await?;
        let Some(last) = pos.last() else { break };
        after = Some(last.id);
        let mut sources = Vec::new();
        for (id, f) in facts_of_purchase_orders(&tx, &pos).await? {
            keep(&mut totals, &mut sources, id, f);
        }
        insert_sources(&tx, sources).await?;
        done.purchase_orders += pos.len();
    }
    let mut companies = std::collections::BTreeSet::new();
    let rows: Vec<daily::ActiveModel> = totals
        .iter()
        .filter(|(_, a)| **a != Amount::default())
        .map(|((company, key), amount)| {
            companies.insert(*company);
            day_row(*company, key, *amount)
        })
        .collect();
    done.day_rows = rows.len();
    done.companies = companies.len();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<_> = rows.by_ref().take(PAGE as usize).collect();
        tx.insert_many::<daily::Entity, _>(batch).await?;
    }
    tx.commit().await?;
    Ok(done)
}

/// Adds one record's figures to the running totals and queues its source rows.
fn keep(
    totals: &mut BTreeMap<(Uuid, Key), Amount>,
    sources: &mut Vec<source::ActiveModel>,
    source_id: Uuid,
    by_company: ByCompany,
) {
    for (company, f) in by_company {
        if f.is_empty() {
            continue;
        }
        for (key, amount) in &f {
            let slot = totals.entry((company, key.clone())).or_default();
            slot.value += amount.value;
            slot.count += amount.count;
        }
        sources.push(source_row(company, source_id, &f));
    }
}

async fn insert_sources(tx: &Tx, sources: Vec<source::ActiveModel>) -> AppResult<()> {
    let mut sources = sources.into_iter().peekable();
    while sources.peek().is_some() {
        let batch: Vec<_> = sources.by_ref().take(PAGE as usize).collect();
        tx.insert_many::<source::Entity, _>(batch).await?;
    }
    Ok(())
}
