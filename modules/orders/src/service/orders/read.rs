//! Reading orders: a party's list, one order, its history, and one order followed live.
//! Orders that name a patient are patient data, and their reads are audited.

use crate::events::OrderChange;
use crate::model::{ORDER, OrderStatus, Party};
use crate::service::audited_page;
use crate::service::patients::{audit_read, audit_reads};
use chrono::NaiveDate;
use futures_util::{Stream, StreamExt};
use ils_common::search;
use ils_entity::{lens_order as order, order_status_change as change};
use ils_kernel::authz::require_member;
use ils_kernel::coalesce::Coalesce;
use ils_kernel::pagination::{Page, PageArgs};
use ils_kernel::{AppError, AppResult, Bus, ClientInfo, Db, Event, TenantContext, Tx, id};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, Condition, QueryFilter, QueryOrder};
use std::sync::Arc;
use uuid::Uuid;

/// Which orders to list; every field narrows.
#[derive(Default)]
pub struct Filter {
    /// In one of these statuses (any status when empty).
    pub statuses: Option<Vec<OrderStatus>>,
    pub due_before: Option<NaiveDate>,
    /// Every word in the order number, the patient reference or the lab job number.
    pub text: Option<String>,
}

/// One page of the acting company's orders on `side` (a practice's own, or a lab's
/// inbox), oldest first; the identified ones read are audited.
pub async fn list<T: async_graphql::OutputType>(
    db: &Db,
    ctx: &TenantContext,
    client: &ClientInfo,
    side: Party,
    f: Filter,
    page: PageArgs,
    map: impl Fn(order::Model) -> T,
) -> AppResult<Page<T>> {
    require_member(ctx)?;
    let tx = db.read(ctx).await?;
    let mut select = tx.select_as::<order::Entity>(match side {
        Party::Practice => order::Column::CompanyId,
        // A lab's inbox: what was sent to it (never another practice's drafts).
        Party::Lab => order::Column::LabCompanyId,
    });
    if let Some(states) = f.statuses.filter(|s| !s.is_empty()) {
        select = select.filter(order::Column::Status.is_in(states));
    }
    if let Some(d) = f.due_before {
        select = select.filter(order::Column::DueDate.lte(d));
    }
    if let Some(t) = f.text {
        let words = search::words(&t);
        for w in words {
            let like = format!("%{w}%");
            select = select.filter(
                Condition::any()
                    .add(
                        Expr::expr(Func::lower(Expr::col(order::Column::OrderNumber)))
                            .like(like.clone()),
                    )
                    .add(
                        Expr::expr(Func::lower(Expr::col(order::Column::PatientRef)))
                            .like(like.clone()),
                    )
                    .add(
                        Expr::expr(Func::lower(Expr::col(order::Column::LabJobNumber))).like(like),
                    ),
            );
        }
    }
    // The job's documents are read only for the fields that show them.
    let select = page.lazy(
        select,
        &[
            ("rx", order::Column::Rx),
            ("rxMinusCyl", order::Column::RxMinusCyl),
            ("lens", order::Column::Lens),
            ("frame", order::Column::Frame),
            ("fit", order::Column::Fit),
            ("notes", order::Column::Notes),
            // The DCS file an order came from is read by `orderDcs` alone (by id), never
            // for a page: no field has this name, so a page never reads it.
            ("dcsSource", order::Column::DcsSource),
        ],
    );
    let (conn, read) = audited_page(
        &tx,
        select,
        order::Column::Id,
        page,
        |r| r.id,
        |row: order::ByPosition| row.0,
        identified,
        map,
    )
    .await?;
    tx.commit().await?;
    audit_reads(db, ctx, client, read).await?;
    Ok(conn)
}

/// Where one order stands, without anything that names its patient: what counting needs.
#[derive(Clone, Debug)]
pub struct Standing {
    pub status: OrderStatus,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub submitted_at: Option<chrono::DateTime<chrono::Utc>>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub due_date: Option<NaiveDate>,
}

/// Every order of the acting company on `side`, as `Standing` only (status and dates, at
/// most `limit`, newest first): no patient is read, so nothing is audited. `true` when
/// there were more.
pub async fn standings(
    db: &Db,
    ctx: &TenantContext,
    side: Party,
    limit: u64,
) -> AppResult<(Vec<Standing>, bool)> {
    use sea_orm::QuerySelect;
    require_member(ctx)?;
    let tx = db.read(ctx).await?;
    type Row = (
        OrderStatus,
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
        chrono::DateTime<chrono::Utc>,
        Option<NaiveDate>,
    );
    let rows: Vec<Row> = tx
        .select_as::<order::Entity>(match side {
            Party::Practice => order::Column::CompanyId,
            Party::Lab => order::Column::LabCompanyId,
        })
        .select_only()
        .column(order::Column::Status)
        .column(order::Column::CreatedAt)
        .column(order::Column::SubmittedAt)
        .column(order::Column::UpdatedAt)
        .column(order::Column::DueDate)
        .order_by_desc(order::Column::Id)
        .limit(limit + 1)
        .into_tuple()
        .all(tx.conn())
        .await?;
    tx.commit().await?;
    let more = rows.len() as u64 > limit;
    Ok((
        rows.into_iter()
            .take(limit as usize)
            .map(
                |(status, created_at, submitted_at, updated_at, due_date)| Standing {
                    status,
                    created_at,
                    submitted_at,
                    updated_at,
                    due_date,
                },
            )
            .collect(),
        more,
    ))
}

/// One order the acting company is a party to; `None` otherwise (the read is audited
/// when the order names a patient).
pub async fn find(
    db: &Db,
    ctx: &TenantContext,
    client: &ClientInfo,
    order_id: Uuid,
) -> AppResult<Option<order::Model>> {
    require_member(ctx)?;
    let tx = db.read(ctx).await?;
    let found = tx.find::<order::Entity>(order_id).await?;
    tx.commit().await?;
    audit_reads(
        db,
        ctx,
        client,
        found.iter().filter_map(identified).collect(),
    )
    .await?;
    Ok(found)
}

/// One order the acting company is a party to; NOT_FOUND otherwise.
pub async fn read(db: &Db, ctx: &TenantContext, order_id: Uuid) -> AppResult<order::Model> {
    require_member(ctx)?;
    let tx = db.read(ctx).await?;
    let row = tx.get::<order::Entity>(order_id).await?;
    tx.commit().await?;
    Ok(row)
}

/// Every step of an order's history, oldest first.
pub async fn history_of(
    db: &Db,
    ctx: &TenantContext,
    order_id: Uuid,
) -> AppResult<Vec<change::Model>> {
    let tx = db.tenant(ctx).await?;
    let rows = tx
        .select::<change::Entity>()
        .filter(change::Column::OrderId.eq(order_id))
        .order_by_asc(change::Column::Id)
        .all(tx.conn())
        .await
        .map_err(AppError::from)?;
    tx.commit().await?;
    Ok(rows)
}

/// The global ID of an order that names a patient (linked to the practice's record, or
/// with the name or birth date shared): reading it is reading patient data.
fn identified(r: &order::Model) -> Option<String> {
    (r.patient_id.is_some() || r.patient_name.is_some() || r.patient_birth_date.is_some())
        .then(|| id::encode(ORDER, r.id).to_string())
}

/// Orders that name a patient (linked to the practice's record, or with the name shared)
/// are patient data: reading them is audited like reading the record.
pub async fn audit_identified<'a>(
    tx: &Tx,
    ctx: &TenantContext,
    client: &ClientInfo,
    rows: impl Iterator<Item = &'a order::Model>,
) -> AppResult<()> {
    let ids: Vec<String> = rows.filter_map(identified).collect();
    audit_read(tx, ctx, client, ids).await
}

/// One change of an order, as it is followed live.
pub struct Update {
    /// The status this change moved the order to.
    pub status: OrderStatus,
    /// The version this change made.
    pub version: i32,
    /// The order as read when the update is sent (it may be further along).
    pub row: order::Model,
    /// The event that made this update (none for the state at subscription): what lets
    /// the sockets that follow the order share one execution of it.
    pub event: Option<Arc<Event>>,
    /// Where the update is: resuming `after` it sends the changes that followed.
    pub cursor: UpdateCursor,
}

/// Where an `orderUpdated` stream is: the cursor of the last event it looked at, and the
/// order's version it last sent. The version matters for the first update (the state at
/// subscription), which may already show changes whose events are dispatched after the
/// cursor was read: resuming skips them, as the stream itself would have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpdateCursor {
    pub seq: i64,
    pub version: i32,
}

impl UpdateCursor {
    /// `<seq>:<version>`, opaque to clients.
    pub fn encode(&self) -> String {
        format!(
            "{}:{}",
            ils_kernel::events::Cursor::encode(self.seq),
            self.version
        )
    }

    /// BAD_USER_INPUT on `field` for anything but a cursor an update carried.
    pub fn decode(cursor: &str, field: &str) -> AppResult<UpdateCursor> {
        let (seq, version) = cursor
            .split_once(':')
            .ok_or_else(|| ils_kernel::AppError::bad_input(field, "not an order update cursor"))?;
        Ok(UpdateCursor {
            seq: ils_kernel::events::Cursor::decode(seq, field)?,
            version: version.parse().map_err(|_| {
                ils_kernel::AppError::bad_input(field, "not an order update cursor")
            })?,
        })
    }
}

/// The rows of followed orders being delivered: (order, version, reading company).
static FOLLOWED: std::sync::LazyLock<Coalesce<(Uuid, i32, Uuid), order::Model>> =
    std::sync::LazyLock::new(|| Coalesce::new(1024));

/// One of the acting company's orders, live: its state now, then one update per change by
/// either party, in order; the stream ends after a final status. NOT_FOUND for an order
/// the company is not a party to. With `after` (a cursor an earlier update carried), the
/// changes since that cursor come first instead of the state now, then the live ones.
pub async fn updates(
    db: &Db,
    ctx: &TenantContext,
    bus: &Bus,
    order_id: Uuid,
    after: Option<UpdateCursor>,
) -> AppResult<impl Stream<Item = Update> + Send + use<>> {
    let me = require_member(ctx)?;
    if let Some(after) = after {
        ils_kernel::events::check_cursor(db, after.seq, "after").await?;
    }
    // Where the stream is now, read before listening: an event dispatched in between is
    // both after this cursor and live, and comes once.
    let head = match after {
        Some(_) => None,
        None => Some(ils_kernel::events::head(db).await?),
    };
    // Listening before reading, so no change falls between the two.
    let live = bus.resumable_stream(
        db.clone(),
        me,
        false,
        vec!["order.*".into()],
        after.map(|a| a.seq),
    );
    let now = read(db, ctx, order_id).await?;
    let first = head.map(|seq| Update {
        status: now.status,
        version: now.version,
        cursor: UpdateCursor {
            seq,
            version: now.version,
        },
        row: now,
        event: None,
    });
    let (db, ctx) = (db.clone(), ctx.clone());
    let wanted = id::encode(ORDER, order_id).to_string();
    let changes = live.filter_map(move |ev| {
        // Every socket following one of the company's orders sees each of its order
        // events: only the ones about this order are decoded (order events name it by
        // `orderId`). order.shipped repeats its status change's version: the version check
        // drops it.
        let change = (ev.data.get("orderId").and_then(|v| v.as_str()) == Some(wanted.as_str()))
            .then(|| OrderChange::of(&ev))
            .flatten()
            .filter(|c| c.order_id.as_str() == wanted)
            .and_then(|c| Some((OrderStatus::parse(&c.status)?, c.version)));
        let (db, ctx, event) = (db.clone(), ctx.clone(), ev.clone());
        // Boxed: the stream holds this future between polls, and a read's future is large;
        // an idle socket's stream should weigh what it waits with, not what it once read.
        Box::pin(async move {
            let (status, version) = change?;
            // Every socket of the company following this order reads the same row for
            // this version: one read serves them all (a lens order's visibility depends on
            // the company alone, never on the user or role).
            let row = FOLLOWED
                .get_or_try((order_id, version, me), || read(&db, &ctx, order_id))
                .await
                .ok()?;
            Some(Update {
                status,
                version,
                row,
                cursor: UpdateCursor {
                    seq: event.seq.unwrap_or_default(),
                    version,
                },
                event: Some(event),
            })
        })
    });
    let stream = futures_util::stream::iter(first).chain(changes);
    // One update per version, in order; stop after a final status.
    Ok(futures_util::stream::unfold(
        (Box::pin(stream), after.map_or(0, |a| a.version), false),
        |(mut s, mut seen, done)| async move {
            if done {
                return None;
            }
            loop {
                let u = s.next().await?;
                if u.version <= seen {
                    continue;
                }
                seen = u.version;
                let finished = u.status.finished();
                return Some((u, (s, seen, finished)));
            }
        },
    ))
}
