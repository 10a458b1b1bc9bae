//! Connections between companies: requested by a practice (to a lab or supplier) or a lab
//! (to a supplier), accepted or rejected by the company asked, ended by either. One shared
//! row that both parties see and no one else does; an ACTIVE connection is what opens
//! ordering and private catalogs (`ils_kernel::connections`).

use crate::events::{
    ConnectionAccepted, ConnectionChange, ConnectionEnded, ConnectionRejected, ConnectionRequested,
};
use crate::vocab::{ConnectionDirection, ConnectionStatus, may_request};
use chrono::Utc;
use ils_common::company::COMPANY;
use ils_common::company::{CompanyStatus, CompanyType};
use ils_common::validate;
use ils_entity::{company, marketplace_profile as profile, trade_connection as conn};
use ils_kernel::authz::{require_manager, require_member};
use ils_kernel::connections::pair_key;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Db, DomainEvent, TenantContext, Tx, id};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, QueryFilter};
use uuid::Uuid;

pub const CONNECTION: &str = "TradeConnection";

/// A connection as one of its two parties sees it.
#[derive(Clone)]
pub struct Seen {
    pub row: conn::Model,
    /// The company looking at it (one of the two parties).
    pub viewer: Uuid,
}

impl Seen {
    /// Whether the viewer asked (rather than was asked).
    pub fn outgoing(&self) -> bool {
        self.row.requester_company_id == self.viewer
    }
}

fn change(row: &conn::Model) -> ConnectionChange {
    ConnectionChange {
        connection_id: id::encode(CONNECTION, row.id),
        requester_company_id: id::encode(COMPANY, row.requester_company_id),
        responder_company_id: id::encode(COMPANY, row.responder_company_id),
        state: row.state,
    }
}

/// Records `event` for both parties.
async fn emit<E: DomainEvent>(tx: &Tx, row: &conn::Model, event: E) -> AppResult<()> {
    tx.emit(
        &event,
        &[row.requester_company_id, row.responder_company_id],
    )
    .await?;
    Ok(())
}

/// One of the caller's company's connections; `None` when it is not theirs.
pub async fn find(db: &Db, ctx: &TenantContext, id: Uuid) -> AppResult<Option<Seen>> {
    let viewer = require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    let found = tx
        .find::<conn::Entity>(id)
        .await?
        .map(|row| Seen { row, viewer });
    tx.commit().await?;
    Ok(found)
}

/// Asks the listed, active company `target` to connect (admins and managers).
pub async fn request(
    db: &Db,
    ctx: &TenantContext,
    target: Uuid,
    message: Option<String>,
) -> AppResult<Seen> {
    let tx = db.tenant(ctx).await?;
    let me = require_manager(&tx, ctx).await?;
    let mine = tx.get::<company::Entity>(me).await?;
    if mine.status != CompanyStatus::Active {
        return Err(AppError::forbidden(
            "your company is not active yet: it can connect once the platform approves it",
        ));
    }
    if target == me {
        return Err(AppError::bad_input(
            "input.companyId",
            "a company cannot connect to itself",
        ));
    }
    let message = validate::optional_text(message.as_deref(), "input.message", 1000)?;
    // The company asked must be in the directory: listed and active. Anything else
    // answers as a company that does not exist.
    let theirs = tx
        .select::<profile::Entity>()
        .filter(profile::Column::CompanyId.eq(target))
        .filter(profile::Column::Listed.eq(true))
        .filter(profile::Column::Status.eq(CompanyStatus::Active))
        .one(tx.conn())
        .await?
        .ok_or(AppError::NotFound)?;
    let (Some(from), Some(to)) = (
        CompanyType::parse(&mine.company_type),
        CompanyType::parse(&theirs.company_type),
    ) else {
        return Err(AppError::internal("company without a known type"));
    };
    if !may_request(from, to) {
        return Err(AppError::bad_input(
            "input.companyId",
            format!(
                "a {} cannot ask a {} to connect (practices ask labs and suppliers, labs ask suppliers)",
                from.as_str(),
                to.as_str()
            ),
        ));
    }
    let key = pair_key(me, target);
    let open = tx
        .select::<conn::Entity>()
        .filter(conn::Column::PairKey.eq(key.clone()))
        .filter(conn::Column::State.is_in([ConnectionStatus::Pending, ConnectionStatus::Active]))
        .one(tx.conn())
        .await?;
    if let Some(open) = open {
        return Err(AppError::Conflict(format!(
            "these companies already have a {} connection",
            open.state.as_str().to_lowercase()
        )));
    }
    let now = Utc::now();
    let row = tx
        .insert(conn::ActiveModel {
            id: Set(Uuid::now_v7()),
            requester_company_id: sea_orm::ActiveValue::NotSet,
            responder_company_id: Set(target),
            requester_name: Set(mine.name),
            requester_type: Set(mine.company_type),
            responder_name: Set(theirs.name),
            responder_type: Set(theirs.company_type),
            pair_key: Set(key),
            state: Set(ConnectionStatus::Pending),
            message: Set(message),
            requested_by: Set(ctx.responsible_user()),
            responded_at: Set(None),
            ended_at: Set(None),
            ended_by_company_id: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .await
        // Two requests racing past the check meet the unique index.
        .map_err(|e| match e {
            AppError::Conflict(_) => {
                AppError::Conflict("these companies already have an open connection".into())
            }
            e => e,
        })?;
    emit(&tx, &row, ConnectionRequested(change(&row))).await?;
    tx.commit().await?;
    Ok(Seen { row, viewer: me })
}

/// Moves a connection from `from` to a new status with `sets`, if it is still in `from`
/// (a conditional update, so two racing answers cannot both win); CONFLICT otherwise.
async fn transition(
    tx: &Tx,
    row: &conn::Model,
    from: &[ConnectionStatus],
    to: ConnectionStatus,
    mut sets: Vec<(conn::Column, sea_orm::sea_query::SimpleExpr)>,
) -> AppResult<conn::Model> {
    let now = Utc::now();
    sets.push((conn::Column::State, Expr::value(to)));
    sets.push((conn::Column::UpdatedAt, Expr::value(now)));
    let n = tx
        .update_many::<conn::Entity>(
            sets,
            Condition::all()
                .add(conn::Column::Id.eq(row.id))
                .add(conn::Column::State.is_in(from.iter().copied())),
        )
        .await?;
    if n == 0 {
        // Lost a race, or never could: say what the connection is now.
        let now = tx.get::<conn::Entity>(row.id).await?;
        return Err(AppError::Conflict(format!(
            "the connection is {}, so it cannot become {}",
            now.state.as_str(),
            to.as_str()
        )));
    }
    tx.get::<conn::Entity>(row.id).await
}

/// Accepts or rejects a pending request made to the caller's company (admins and managers).
pub async fn respond(db: &Db, ctx: &TenantContext, id: Uuid, accept: bool) -> AppResult<Seen> {
    let tx = db.tenant(ctx).await?;
    let me = require_manager(&tx, ctx).await?;
    let row = tx.get::<conn::Entity>(id).await?;
    if row.responder_company_id != me {
        return Err(AppError::forbidden(
            "only the company that was asked can answer a request",
        ));
    }
    let to = if accept {
        ConnectionStatus::Active
    } else {
        ConnectionStatus::Rejected
    };
    let row = transition(
        &tx,
        &row,
        &[ConnectionStatus::Pending],
        to,
        vec![(conn::Column::RespondedAt, Expr::value(Utc::now()))],
    )
    .await?;
    if accept {
        emit(&tx, &row, ConnectionAccepted(change(&row))).await?;
    } else {
        emit(&tx, &row, ConnectionRejected(change(&row))).await?;
    }
    tx.commit().await?;
    Ok(Seen { row, viewer: me })
}

/// Ends an active connection, or withdraws a pending one (either party).
pub async fn end(db: &Db, ctx: &TenantContext, id: Uuid) -> AppResult<Seen> {
    let tx = db.tenant(ctx).await?;
    let me = require_manager(&tx, ctx).await?;
    let row = tx.get::<conn::Entity>(id).await?;
    let row = transition(
        &tx,
        &row,
        &[ConnectionStatus::Pending, ConnectionStatus::Active],
        ConnectionStatus::Ended,
        vec![
            (conn::Column::EndedAt, Expr::value(Utc::now())),
            (conn::Column::EndedByCompanyId, Expr::value(me)),
        ],
    )
    .await?;
    emit(&tx, &row, ConnectionEnded(change(&row))).await?;
    tx.commit().await?;
    Ok(Seen { row, viewer: me })
}

/// One page of the caller's company's connections in any of `statuses` (all when empty),
/// in `direction` (both when `None`), oldest first.
pub async fn list<T: async_graphql::OutputType>(
    db: &Db,
    ctx: &TenantContext,
    statuses: Vec<ConnectionStatus>,
    direction: Option<ConnectionDirection>,
    page: PageArgs,
    map: impl Fn(Seen) -> T,
) -> AppResult<Page<T>> {
    let viewer = require_member(ctx)?;
    let tx = db.read(ctx).await?;
    let mut select = tx.select::<conn::Entity>();
    if !statuses.is_empty() {
        select = select.filter(conn::Column::State.is_in(statuses));
    }
    match direction {
        Some(ConnectionDirection::Outgoing) => {
            select = select.filter(conn::Column::RequesterCompanyId.eq(viewer))
        }
        Some(ConnectionDirection::Incoming) => {
            select = select.filter(conn::Column::ResponderCompanyId.eq(viewer))
        }
        None => {}
    }
    let page = paginate(
        tx.conn(),
        select,
        conn::Column::Id,
        page,
        |r| r.id,
        |row| map(Seen { row, viewer }),
    )
    .await?;
    tx.commit().await?;
    Ok(page)
}

/// The connections among `ids` the caller is a party to, for `node`/`nodes`.
pub async fn by_ids(tx: &Tx, viewer: Uuid, ids: Vec<Uuid>) -> AppResult<Vec<Seen>> {
    Ok(tx
        .find_many::<conn::Entity>(ids)
        .await?
        .into_iter()
        .map(|row| Seen { row, viewer })
        .collect())
}
