//! `auditLog(filter)`: a company admin reads their own company's audit trail (platform
//! admins read every company's). Nothing here or anywhere else changes or deletes entries.

use crate::parts;
use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_entity::audit_entry;
use ils_kernel::authz::require_admin_or_platform;
use ils_kernel::id;
use ils_kernel::pagination::PageArgs;
use ils_kernel::pagination::paginate;
use sea_orm::{ColumnTrait, QueryFilter};

pub const AUDIT_ENTRY: &str = "AuditEntry";

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum AuditOutcome {
    Success,
    Failure,
}

/// One audited action.
#[derive(SimpleObject)]
pub struct AuditEntry {
    pub id: ID,
    /// USER, API_KEY, SYSTEM or ANONYMOUS.
    pub actor_kind: String,
    /// The user who acted (for an API key: the person who created it).
    pub actor_user_id: Option<ID>,
    pub actor_api_key_id: Option<ID>,
    /// The mutation fields, or a named read of patient data.
    pub operation: String,
    /// The global IDs the operation named or returned.
    pub target_ids: Vec<ID>,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    pub outcome: AuditOutcome,
    /// The error code of a failure.
    pub error_code: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

impl From<audit_entry::Model> for AuditEntry {
    fn from(a: audit_entry::Model) -> Self {
        AuditEntry {
            id: id::encode(AUDIT_ENTRY, a.id),
            actor_kind: a.actor_kind,
            actor_user_id: a.actor_user_id.map(|u| id::encode("User", u)),
            actor_api_key_id: a.actor_api_key_id.map(|k| id::encode("ApiKey", k)),
            operation: a.operation,
            target_ids: serde_json::from_str::<Vec<String>>(&a.target_ids)
                .unwrap_or_default()
                .into_iter()
                .map(ID)
                .collect(),
            client_address: a.client_address,
            user_agent: a.user_agent,
            outcome: if a.outcome == "SUCCESS" {
                AuditOutcome::Success
            } else {
                AuditOutcome::Failure
            },
            error_code: a.error_code,
            occurred_at: a.occurred_at,
        }
    }
}

#[derive(InputObject, Default)]
pub struct AuditLogFilter {
    /// Exact operation name, such as `createApiKey`.
    pub operation: Option<String>,
    pub outcome: Option<AuditOutcome>,
    pub actor_user_id: Option<ID>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Your company's audit log, oldest first (`last: N` for the newest N).
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditLogFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, AuditEntry>> {
        let (tenant, db) = parts(ctx)?;
        let filter = filter.unwrap_or_default();
        let actor = match &filter.actor_user_id {
            Some(u) => Some(id::decode("User", u, "filter.actorUserId")?),
            None => None,
        };
        let tx = db.tenant(tenant).await?;
        require_admin_or_platform(&tx, tenant).await?;
        let mut select = tx.select::<audit_entry::Entity>();
        if let Some(op) = filter.operation {
            select = select.filter(audit_entry::Column::Operation.eq(op));
        }
        if let Some(o) = filter.outcome {
            let word = match o {
                AuditOutcome::Success => "SUCCESS",
                AuditOutcome::Failure => "FAILURE",
            };
            select = select.filter(audit_entry::Column::Outcome.eq(word));
        }
        if let Some(u) = actor {
            select = select.filter(audit_entry::Column::ActorUserId.eq(u));
        }
        if let Some(t) = filter.since {
            select = select.filter(audit_entry::Column::OccurredAt.gte(t));
        }
        if let Some(t) = filter.until {
            select = select.filter(audit_entry::Column::OccurredAt.lt(t));
        }
        let conn = paginate(
            tx.conn(),
            select,
            audit_entry::Column::Id,
            PageArgs::new(first, after, last, before),
            |a| a.id,
            AuditEntry::from,
        )
        .await?;
        tx.commit().await?;
        Ok(conn)
    }
}
