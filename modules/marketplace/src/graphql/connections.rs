//! Connections between companies as either party sees them, and the request, answer and
//! end of one.

use crate::service::connections::{self, CONNECTION, Seen};
use crate::vocab::{ConnectionDirection, ConnectionStatus};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_common::company::{COMPANY, CompanyType};
use ils_kernel::authz::require_member;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::{AppError, AppResult, id, request_parts};
use uuid::Uuid;

/// One side of a connection, as the other side may see it: the name and type copied when
/// the connection was requested (a company cannot read another company's own record).
#[derive(SimpleObject, Clone)]
pub struct ConnectionParty {
    /// The company's global ID: what `requestConnection`, `supplierCatalog`, orders and
    /// purchase orders take to name it. An ID rather than the `Company` itself, since a
    /// company may read only its own company record.
    pub company_id: ID,
    /// The company's name, as it was when the connection was requested.
    pub name: String,
    /// What kind of company it is: ECP (a practice), LAB or SUPPLIER.
    #[graphql(name = "type")]
    pub company_type: CompanyType,
}

impl ConnectionParty {
    fn of(company: Uuid, name: &str, company_type: &str) -> AppResult<Self> {
        Ok(ConnectionParty {
            company_id: id::encode(COMPANY, company),
            name: name.to_owned(),
            company_type: CompanyType::parse(company_type).ok_or_else(|| {
                AppError::internal(format!("a connection party of unknown type {company_type}"))
            })?,
        })
    }
}

/// A connection between the caller's company and another, seen from the caller's side.
#[derive(Clone)]
pub struct TradeConnection(pub Seen);

impl TradeConnection {
    fn requester_party(&self) -> AppResult<ConnectionParty> {
        let row = &self.0.row;
        ConnectionParty::of(
            row.requester_company_id,
            &row.requester_name,
            &row.requester_type,
        )
    }

    fn responder_party(&self) -> AppResult<ConnectionParty> {
        let row = &self.0.row;
        ConnectionParty::of(
            row.responder_company_id,
            &row.responder_name,
            &row.responder_type,
        )
    }
}

/// A trade connection between your company and another: practice to lab, practice to
/// supplier, or lab to supplier. While ACTIVE it lets the two order from each other and
/// lets the buyer browse the supplier's catalog. Both companies see the same connection.
#[Object]
impl TradeConnection {
    /// The connection's global ID.
    pub async fn id(&self) -> ID {
        id::encode(CONNECTION, self.0.row.id)
    }
    /// Where the connection stands: PENDING, ACTIVE, REJECTED or ENDED.
    async fn status(&self) -> ConnectionStatus {
        self.0.row.state
    }
    /// OUTGOING when your company asked, INCOMING when it was asked.
    async fn direction(&self) -> ConnectionDirection {
        if self.0.outgoing() {
            ConnectionDirection::Outgoing
        } else {
            ConnectionDirection::Incoming
        }
    }
    /// The other company.
    async fn counterparty(&self) -> Result<ConnectionParty> {
        Ok(if self.0.outgoing() {
            self.responder_party()?
        } else {
            self.requester_party()?
        })
    }
    /// The company that asked to connect.
    async fn requester(&self) -> Result<ConnectionParty> {
        Ok(self.requester_party()?)
    }
    /// The company that was asked (the one that accepts or rejects).
    async fn responder(&self) -> Result<ConnectionParty> {
        Ok(self.responder_party()?)
    }
    /// What the requester wrote with the request; null when it wrote nothing.
    async fn message(&self) -> Option<&str> {
        self.0.row.message.as_deref()
    }
    /// When the connection was requested.
    async fn requested_at(&self) -> DateTime<Utc> {
        self.0.row.created_at
    }
    /// When the company asked accepted or rejected; null while PENDING (and for a request
    /// withdrawn before it was answered).
    async fn responded_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.responded_at
    }
    /// When the connection was ended or withdrawn; null unless ENDED.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.ended_at
    }
    /// The company that ended (or withdrew) the connection; null unless ENDED.
    async fn ended_by(&self) -> Result<Option<ConnectionParty>> {
        let row = &self.0.row;
        Ok(match row.ended_by_company_id {
            None => None,
            Some(c) if c == row.requester_company_id => Some(self.requester_party()?),
            Some(_) => Some(self.responder_party()?),
        })
    }
    /// When the connection last changed (requested, answered or ended).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.row.updated_at
    }
}

/// Which of your company's connections to list; every condition given must hold.
#[derive(InputObject, Default)]
pub struct ConnectionFilter {
    /// Only connections in one of these statuses (all statuses when absent or empty).
    pub statuses: Option<Vec<ConnectionStatus>>,
    /// Only the connections your company asked for (OUTGOING) or was asked for
    /// (INCOMING); both when absent.
    pub direction: Option<ConnectionDirection>,
}

#[derive(Default)]
pub struct ConnectionsQuery;

#[Object]
impl ConnectionsQuery {
    /// Your company's connections, oldest first (`last: N` for the newest).
    async fn connections(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which connections: by status and direction; all when absent.")]
        filter: Option<ConnectionFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<TradeConnection>> {
        let (tenant, db) = request_parts(ctx)?;
        let page = PageArgs::new(ctx, first, after, last, before);
        let f = filter.unwrap_or_default();
        let statuses = f.statuses.unwrap_or_default();
        Ok(connections::list(db, tenant, statuses, f.direction, page, TradeConnection).await?)
    }

    /// One of your company's connections; null when it is not yours.
    async fn connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The connection's global ID.")] id: ID,
    ) -> Result<Option<TradeConnection>> {
        let (tenant, db) = request_parts(ctx)?;
        // Who asks is checked before what is asked for, as it always was.
        require_member(tenant)?;
        let row_id = id::decode(CONNECTION, &id, "id")?;
        Ok(connections::find(db, tenant, row_id)
            .await?
            .map(TradeConnection))
    }
}

/// What `requestConnection` takes.
#[derive(InputObject)]
pub struct RequestConnectionInput {
    /// The global ID of the listed lab or supplier to ask (`MarketplaceProfile.companyId`
    /// in the directory).
    pub company_id: ID,
    /// A note for the company asked, at most 1,000 characters; both sides see it.
    pub message: Option<String>,
}

/// What `requestConnection` returns.
#[derive(SimpleObject)]
pub struct RequestConnectionPayload {
    /// The new connection, PENDING until the company asked answers.
    pub connection: TradeConnection,
}

/// What `respondToConnection` takes.
#[derive(InputObject)]
pub struct RespondToConnectionInput {
    /// The global ID of the PENDING connection your company was asked for.
    pub id: ID,
    /// true accepts (the connection becomes ACTIVE), false rejects it (REJECTED).
    pub accept: bool,
}

/// What `respondToConnection` returns.
#[derive(SimpleObject)]
pub struct RespondToConnectionPayload {
    /// The connection, now ACTIVE or REJECTED.
    pub connection: TradeConnection,
}

/// What `endConnection` takes.
#[derive(InputObject)]
pub struct EndConnectionInput {
    /// The global ID of the ACTIVE or PENDING connection to end.
    pub id: ID,
}

/// What `endConnection` returns.
#[derive(SimpleObject)]
pub struct EndConnectionPayload {
    /// The connection, now ENDED.
    pub connection: TradeConnection,
}

#[derive(Default)]
pub struct ConnectionsMutation;

#[Object]
impl ConnectionsMutation {
    /// Asks a listed lab or supplier to connect (admins and managers). Practices ask labs
    /// and suppliers; labs ask suppliers. CONFLICT when the two companies already have a
    /// PENDING or ACTIVE connection.
    async fn request_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whom to ask, and a note for them.")] input: RequestConnectionInput,
    ) -> Result<RequestConnectionPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let target = id::decode(COMPANY, &input.company_id, "input.companyId")?;
        let seen = connections::request(db, tenant, target, input.message).await?;
        Ok(RequestConnectionPayload {
            connection: TradeConnection(seen),
        })
    }

    /// Accepts or rejects a pending request made to your company (admins and managers).
    /// CONFLICT when it is no longer PENDING.
    async fn respond_to_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which request, and the answer.")] input: RespondToConnectionInput,
    ) -> Result<RespondToConnectionPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let row_id = id::decode(CONNECTION, &input.id, "input.id")?;
        let seen = connections::respond(db, tenant, row_id, input.accept).await?;
        Ok(RespondToConnectionPayload {
            connection: TradeConnection(seen),
        })
    }

    /// Ends an active connection, or withdraws a pending one (either party; admins and
    /// managers). Ordering and the catalog close at once. CONFLICT when it is already
    /// REJECTED or ENDED.
    async fn end_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which connection to end.")] input: EndConnectionInput,
    ) -> Result<EndConnectionPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let row_id = id::decode(CONNECTION, &input.id, "input.id")?;
        let seen = connections::end(db, tenant, row_id).await?;
        Ok(EndConnectionPayload {
            connection: TradeConnection(seen),
        })
    }
}
