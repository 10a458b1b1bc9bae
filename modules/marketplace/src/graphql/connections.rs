//! Connections between companies as either party sees them, and the request, answer and
//! end of one.

use crate::service::connections::{self, CONNECTION, Seen};
use crate::vocab::{ConnectionDirection, ConnectionState};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_common::company::{COMPANY, CompanyType};
use ils_kernel::authz::require_member;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::{id, request_parts};
use uuid::Uuid;

/// One side of a connection, as the other side may see it.
#[derive(SimpleObject, Clone)]
pub struct ConnectionParty {
    /// The company's global ID.
    pub company_id: ID,
    pub name: String,
    #[graphql(name = "type")]
    pub company_type: Option<CompanyType>,
}

impl ConnectionParty {
    fn of(company: Uuid, name: &str, company_type: &str) -> Self {
        ConnectionParty {
            company_id: id::encode(COMPANY, company),
            name: name.to_owned(),
            company_type: CompanyType::parse(company_type),
        }
    }
}

/// A connection between the caller's company and another, seen from the caller's side.
#[derive(Clone)]
pub struct TradeConnection(pub Seen);

impl TradeConnection {
    fn requester_party(&self) -> ConnectionParty {
        let row = &self.0.row;
        ConnectionParty::of(
            row.requester_company_id,
            &row.requester_name,
            &row.requester_type,
        )
    }

    fn responder_party(&self) -> ConnectionParty {
        let row = &self.0.row;
        ConnectionParty::of(
            row.responder_company_id,
            &row.responder_name,
            &row.responder_type,
        )
    }
}

#[Object]
impl TradeConnection {
    pub async fn id(&self) -> ID {
        id::encode(CONNECTION, self.0.row.id)
    }
    async fn state(&self) -> Option<ConnectionState> {
        Some(self.0.row.state)
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
    async fn counterparty(&self) -> ConnectionParty {
        if self.0.outgoing() {
            self.responder_party()
        } else {
            self.requester_party()
        }
    }
    async fn requester(&self) -> ConnectionParty {
        self.requester_party()
    }
    async fn responder(&self) -> ConnectionParty {
        self.responder_party()
    }
    /// What the requester wrote with the request.
    async fn message(&self) -> Option<&str> {
        self.0.row.message.as_deref()
    }
    async fn requested_at(&self) -> DateTime<Utc> {
        self.0.row.created_at
    }
    async fn responded_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.responded_at
    }
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.ended_at
    }
    /// Which company ended it.
    async fn ended_by_company_id(&self) -> Option<ID> {
        self.0
            .row
            .ended_by_company_id
            .map(|c| id::encode(COMPANY, c))
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.row.updated_at
    }
}

#[derive(InputObject, Default)]
pub struct ConnectionFilter {
    pub states: Option<Vec<ConnectionState>>,
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
        filter: Option<ConnectionFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<TradeConnection>> {
        let (tenant, db) = request_parts(ctx)?;
        let page = PageArgs::new(ctx, first, after, last, before);
        let f = filter.unwrap_or_default();
        let states = f.states.unwrap_or_default();
        Ok(connections::list(db, tenant, states, f.direction, page, TradeConnection).await?)
    }

    /// One of your company's connections; null when it is not yours.
    async fn connection(&self, ctx: &Context<'_>, id: ID) -> Result<Option<TradeConnection>> {
        let (tenant, db) = request_parts(ctx)?;
        // Who asks is checked before what is asked for, as it always was.
        require_member(tenant)?;
        let row_id = id::decode(CONNECTION, &id, "id")?;
        Ok(connections::find(db, tenant, row_id)
            .await?
            .map(TradeConnection))
    }
}

#[derive(Default)]
pub struct ConnectionsMutation;

#[Object]
impl ConnectionsMutation {
    /// Asks a listed lab or supplier to connect (admins and managers). Practices ask labs
    /// and suppliers; labs ask suppliers.
    async fn request_connection(
        &self,
        ctx: &Context<'_>,
        company_id: ID,
        message: Option<String>,
    ) -> Result<TradeConnection> {
        let (tenant, db) = request_parts(ctx)?;
        let target = id::decode(COMPANY, &company_id, "companyId")?;
        Ok(TradeConnection(
            connections::request(db, tenant, target, message).await?,
        ))
    }

    /// Accepts or rejects a pending request made to your company (admins and managers).
    async fn respond_to_connection(
        &self,
        ctx: &Context<'_>,
        id: ID,
        accept: bool,
    ) -> Result<TradeConnection> {
        let (tenant, db) = request_parts(ctx)?;
        let row_id = id::decode(CONNECTION, &id, "id")?;
        Ok(TradeConnection(
            connections::respond(db, tenant, row_id, accept).await?,
        ))
    }

    /// Ends an active connection, or withdraws a pending one (either party; admins and
    /// managers). Ordering and the catalog close at once.
    async fn end_connection(&self, ctx: &Context<'_>, id: ID) -> Result<TradeConnection> {
        let (tenant, db) = request_parts(ctx)?;
        let row_id = id::decode(CONNECTION, &id, "id")?;
        Ok(TradeConnection(connections::end(db, tenant, row_id).await?))
    }
}
