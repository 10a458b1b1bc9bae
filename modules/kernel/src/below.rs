//! Below the guard: the kernel's own tables — the job queue (`jobs`), the outbox
//! (`events`) and the audit log (`audit_log`) — read and written without a tenant filter.
//!
//! The dispatcher, the workers, the scheduler and the audit writer serve every company at
//! once, so they cannot go through a tenant's guarded transaction. Every statement they
//! issue on those tables starts from one of these functions, which makes this the one
//! module to review for what happens below the guard: nothing here touches a domain table,
//! and nothing outside the kernel can call it.
#![allow(clippy::disallowed_methods)] // this module is the reviewed exception

use crate::{AppResult, Db, Tx};
use ils_entity::{audit_entry, event, job};
use sea_orm::{ConnectionTrait, DeleteMany, EntityTrait, Insert, InsertMany, Select, UpdateMany};

/// A transaction that sees every company's rows (on PostgreSQL, as the owner under the
/// `system_access` policies): the dispatcher, the workers and the scheduler.
pub(crate) async fn system(db: &Db) -> AppResult<Tx> {
    db.system().await
}

pub(crate) fn jobs() -> Select<job::Entity> {
    job::Entity::find()
}

pub(crate) fn insert_jobs(rows: Vec<job::ActiveModel>) -> InsertMany<job::ActiveModel> {
    job::Entity::insert_many(rows)
}

pub(crate) fn update_jobs() -> UpdateMany<job::Entity> {
    job::Entity::update_many()
}

pub(crate) fn delete_jobs() -> DeleteMany<job::Entity> {
    job::Entity::delete_many()
}

/// Fresh planner statistics for the queue (PostgreSQL), after a bulk load.
pub(crate) async fn analyze_jobs(tx: &Tx) -> AppResult<()> {
    tx.conn().execute_unprepared("ANALYZE jobs").await?;
    Ok(())
}

/// The advisory lock that makes replicas' outbox dispatchers take turns ("ILSDISP"), held
/// until `tx` ends (PostgreSQL only).
pub(crate) async fn take_dispatch_lock(tx: &Tx) -> AppResult<()> {
    const KEY: i64 = 0x0049_4c53_4449_5350;
    tx.conn()
        .execute_unprepared(&format!("SELECT pg_advisory_xact_lock({KEY})"))
        .await?;
    Ok(())
}

pub(crate) fn events() -> Select<event::Entity> {
    event::Entity::find()
}

/// An outbox row, written without RETURNING: the application role may add to the outbox
/// but not read it.
pub(crate) fn insert_event(row: event::ActiveModel) -> Insert<event::ActiveModel> {
    event::Entity::insert(row)
}

pub(crate) fn update_events() -> UpdateMany<event::Entity> {
    event::Entity::update_many()
}

pub(crate) fn delete_events() -> DeleteMany<event::Entity> {
    event::Entity::delete_many()
}

/// An audit row, written without RETURNING: an anonymous caller's row is write-only.
pub(crate) fn insert_audit(row: audit_entry::ActiveModel) -> Insert<audit_entry::ActiveModel> {
    audit_entry::Entity::insert(row)
}
