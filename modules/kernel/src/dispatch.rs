//! The outbox dispatcher: after commit, each event becomes one job per handler registered
//! for its type, gets its cursor (`seq`), and goes to the live subscribers (the bus).
//!
//! One dispatcher runs at a time — in this process (a mutex) and across replicas (on
//! PostgreSQL, a transaction-scoped advisory lock) — so `seq` grows in commit order and
//! events are published in `seq` order. An event is marked published only once the bus
//! took it: while Redis is away, events wait in the outbox and go out, in order, when it
//! returns. A subscriber that resumes `after:` a cursor is replayed from the outbox.

use crate::events::{Bus, Event};
use crate::jobs::{NewJob, Registry};
use crate::{AppError, AppResult, Db, Tx};
use chrono::Utc;
use ils_entity::event;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, QueryFilter, QueryOrder, QuerySelect};
use std::time::Duration;
use uuid::Uuid;

/// What one round of the dispatcher did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Dispatched {
    /// Events given their cursor and their handlers' jobs.
    pub taken: usize,
    /// Events the bus took.
    pub published: usize,
    /// Whether the bus refused or did not answer: the rest wait for the next round.
    pub publish_failed: bool,
}

/// Takes the dispatcher's turn across replicas for the rest of `tx` (PostgreSQL; SQLite
/// has one process, whose mutex suffices).
async fn take_turn(tx: &Tx) -> AppResult<()> {
    if tx.conn().get_database_backend() == DbBackend::Postgres {
        crate::below::take_dispatch_lock(tx).await?;
    }
    Ok(())
}

/// One round: up to `batch` undispatched events get the jobs of every handler registered
/// for their type (platform-owned, idempotent on the event id) and their cursor, in one
/// transaction; then up to `batch` dispatched events not yet published go to the bus in
/// cursor order, each marked published once the bus took it, stopping at the first the
/// bus refuses or does not answer within `publish_timeout`. If a transaction fails, its
/// events stay for the next round: delivery is at least once. A row that cannot be read is
/// set aside (logged) rather than blocking the outbox.
pub async fn dispatch_once(
    db: &Db,
    bus: &Bus,
    registry: &Registry,
    batch: u64,
    publish_timeout: Duration,
) -> AppResult<Dispatched> {
    let _turn = db.dispatch_turn().await;
    let taken = assign(db, registry, batch).await?;
    let (published, publish_failed) = publish(db, bus, batch, publish_timeout).await?;
    Ok(Dispatched {
        taken,
        published,
        publish_failed,
    })
}

async fn assign(db: &Db, registry: &Registry, batch: u64) -> AppResult<usize> {
    let tx = crate::below::system(db).await?;
    take_turn(&tx).await?;
    let rows = crate::below::events()
        .filter(event::Column::DispatchedAt.is_null())
        .order_by_asc(event::Column::OccurredAt)
        .order_by_asc(event::Column::Id)
        .limit(batch)
        .all(tx.conn())
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let first = crate::events::last_seq(&tx).await?.unwrap_or(0) + 1;
    // One statement for the batch: each row's cursor by its place in it.
    let mut seq = sea_orm::sea_query::CaseStatement::new();
    let mut jobs = vec![];
    for (i, row) in rows.iter().enumerate() {
        let n = first + i as i64;
        seq = seq.case(event::Column::Id.eq(row.id), n);
        // An unreadable row gets no jobs; publishing sets it aside (counted, logged).
        let Ok(mut ev) = Event::from_row(row.clone()) else {
            continue;
        };
        ev.seq = Some(n);
        for kind in registry.handlers_for(&ev.event_type) {
            let payload = serde_json::to_value(&ev)
                .map_err(|e| AppError::internal(format!("event not serialisable: {e}")))?;
            jobs.push(NewJob::envelope(kind, payload).key(format!("{kind}:{}", ev.id)));
        }
    }
    crate::below::update_events()
        .col_expr(event::Column::DispatchedAt, Expr::value(Utc::now()))
        .col_expr(event::Column::Seq, seq.into())
        .filter(event::Column::Id.is_in(rows.iter().map(|r| r.id)))
        .exec(tx.conn())
        .await?;
    // Handler jobs are the platform's own work (no company's admin can discard another's
    // share of it), enqueued for the whole batch in one statement.
    tx.enqueue_many_for(None, jobs).await?;
    tx.commit().await?;
    metrics::counter!("ils_events_dispatched_total").increment(rows.len() as u64);
    Ok(rows.len())
}

async fn publish(db: &Db, bus: &Bus, batch: u64, timeout: Duration) -> AppResult<(usize, bool)> {
    let tx = crate::below::system(db).await?;
    take_turn(&tx).await?;
    let rows = crate::below::events()
        .filter(event::Column::Seq.is_not_null())
        .filter(event::Column::PublishedAt.is_null())
        .order_by_asc(event::Column::Seq)
        .limit(batch)
        .all(tx.conn())
        .await?;
    if rows.is_empty() {
        return Ok((0, false));
    }
    let mut done: Vec<Uuid> = vec![];
    let mut failed = false;
    for row in rows {
        let id = row.id;
        let ev = match Event::from_row(row) {
            Ok(ev) => ev,
            Err(e) => {
                metrics::counter!("ils_events_unreadable_total").increment(1);
                tracing::error!(event = %id, error = ?e, "an outbox row cannot be read; set aside");
                done.push(id);
                continue;
            }
        };
        let sent = tokio::time::timeout(timeout, bus.publish(ev)).await;
        match sent.unwrap_or_else(|_| Err(AppError::internal("publish timed out"))) {
            Ok(()) => done.push(id),
            Err(e) => {
                metrics::counter!("ils_events_publish_failures_total").increment(1);
                tracing::warn!(error = ?e, "the bus did not take an event; it waits in the outbox");
                failed = true;
                break;
            }
        }
    }
    if !done.is_empty() {
        crate::below::update_events()
            .col_expr(event::Column::PublishedAt, Expr::value(Utc::now()))
            .filter(event::Column::Id.is_in(done.clone()))
            .exec(tx.conn())
            .await?;
    }
    tx.commit().await?;
    Ok((done.len(), failed))
}
