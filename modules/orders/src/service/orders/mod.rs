//! Lens orders: a practice drafts a job, submits it to a lab it is actively connected to,
//! and both follow it through the lab's workflow to delivery. One row both parties see
//! (the guard's parties and, on PostgreSQL, row-level security); every move names the
//! version it saw, so two racing moves cannot both win; every move is kept in the history.
//!
//! `draft` reads and writes drafts, `workflow` submits, moves and re-measures orders,
//! `read` lists, reads and follows them.

mod draft;
mod read;
mod workflow;

pub use draft::{DraftJob, draft, update_draft};
pub use read::{
    Filter, Standing, Update, UpdateCursor, audit_identified, find, history_of, list, read,
    standings, updates,
};
pub use workflow::{Measured, Move, move_order, remeasure, submit};

use crate::model::{OrderStatus, Party};
use chrono::Utc;
use ils_entity::{lens_order as order, order_status_change as change};
use ils_kernel::{AppError, AppResult, TenantContext, Tx};
use sea_orm::ActiveValue::Set;
use uuid::Uuid;

/// The CONFLICT for a write on `version` of an order that is now `now`.
fn changed(now: &order::Model, version: i32) -> AppError {
    AppError::Conflict(format!(
        "the order changed: it is {} at version {} (you named version {version})",
        now.status.as_str(),
        now.version
    ))
}

/// The CONFLICT for a write that found the order changed since `version`.
async fn stale(tx: &Tx, order_id: Uuid, version: i32) -> AppError {
    match tx.get::<order::Entity>(order_id).await {
        Ok(now) => changed(&now, version),
        Err(e) => e,
    }
}

/// Which party of `row` the company `me` is; NOT_FOUND when it is neither.
fn party_of(row: &order::Model, me: Uuid) -> AppResult<Party> {
    if row.company_id == me {
        Ok(Party::Practice)
    } else if row.lab_company_id == Some(me) {
        Ok(Party::Lab)
    } else {
        Err(AppError::NotFound)
    }
}

/// The caller's own order, still a DRAFT: another company's order is NOT_FOUND, one past
/// DRAFT is CONFLICT (`why` finishes that message).
async fn own_draft(tx: &Tx, me: Uuid, order_id: Uuid, why: &str) -> AppResult<order::Model> {
    let row = tx.get::<order::Entity>(order_id).await?;
    if row.company_id != me {
        return Err(AppError::NotFound);
    }
    if row.status != OrderStatus::Draft {
        return Err(AppError::Conflict(format!(
            "the order is {}, not DRAFT{why}",
            row.status.as_str()
        )));
    }
    Ok(row)
}

/// Keeps a step in the order's history: from where to where, who, and what it said.
async fn record_step(
    tx: &Tx,
    ctx: &TenantContext,
    row: &order::Model,
    from: Option<OrderStatus>,
    to: OrderStatus,
    note: Option<String>,
) -> AppResult<()> {
    tx.insert(change::ActiveModel {
        id: Set(Uuid::now_v7()),
        order_id: Set(row.id),
        company_id: Set(row.company_id),
        lab_company_id: Set(row.lab_company_id),
        from_status: Set(from.map(|f| f.as_str().into())),
        to_status: Set(to.as_str().into()),
        actor_company_id: Set(ctx.company_id()),
        actor_user_id: Set(ctx.responsible_user()),
        note: Set(note),
        created_at: Set(Utc::now()),
    })
    .await?;
    Ok(())
}
