//! The outbox dispatcher: after commit, each event goes to the live subscribers (the bus)
//! and becomes one job per handler registered for its type.

use crate::events::{Bus, Event};
use crate::jobs::{NewJob, Registry};
use crate::{AppError, AppResult, Db};
use chrono::Utc;
use ils_entity::event;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

/// Dispatches up to `batch` undelivered events: enqueues the job of every handler
/// registered for each one's type (platform-owned, idempotent on the event id), publishes
/// it on the bus and marks it dispatched, in one transaction. On PostgreSQL replicas share
/// the work through `FOR UPDATE SKIP LOCKED`. If the transaction fails, the events stay for
/// the next round: delivery is at least once. A failed publish (Redis down) costs only the
/// live subscribers that event; handlers and webhooks still get it. A row that cannot be
/// read is set aside (marked dispatched, logged) rather than blocking the outbox. Returns
/// how many events were taken.
pub async fn dispatch_once(
    db: &Db,
    bus: &Bus,
    registry: &Registry,
    batch: u64,
) -> AppResult<usize> {
    let tx = crate::below::system(db).await?;
    let rows = tx
        .lock_skip_locked(
            crate::below::events()
                .filter(event::Column::DispatchedAt.is_null())
                .order_by_asc(event::Column::OccurredAt)
                .limit(batch),
        )
        .all(tx.conn())
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut live = vec![];
    let mut jobs = vec![];
    for row in rows {
        let id = row.id;
        let ev = match Event::from_row(row) {
            Ok(ev) => ev,
            Err(e) => {
                metrics::counter!("ils_events_unreadable_total").increment(1);
                tracing::error!(event = %id, error = ?e, "an outbox row cannot be read; set aside");
                continue;
            }
        };
        for kind in registry.handlers_for(&ev.event_type) {
            let payload = serde_json::to_value(&ev)
                .map_err(|e| AppError::internal(format!("event not serialisable: {e}")))?;
            jobs.push(NewJob::envelope(kind, payload).key(format!("{kind}:{}", ev.id)));
        }
        live.push(ev);
    }
    // Handler jobs are the platform's own work (no company's admin can discard another's
    // share of it), enqueued for the whole batch in one statement.
    tx.enqueue_many_for(None, jobs).await?;
    for ev in live {
        let sent = tokio::time::timeout(std::time::Duration::from_secs(2), bus.publish(ev)).await;
        if let Err(e) = sent.unwrap_or_else(|_| Err(AppError::internal("publish timed out"))) {
            metrics::counter!("ils_events_publish_failures_total").increment(1);
            tracing::warn!(error = ?e, "could not publish an event to live subscribers");
        }
    }
    crate::below::update_events()
        .col_expr(event::Column::DispatchedAt, Expr::value(Utc::now()))
        .filter(event::Column::Id.is_in(ids.clone()))
        .exec(tx.conn())
        .await?;
    tx.commit().await?;
    metrics::counter!("ils_events_dispatched_total").increment(ids.len() as u64);
    Ok(ids.len())
}
