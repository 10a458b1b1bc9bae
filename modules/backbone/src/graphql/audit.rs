//! `auditLog(filter)`: the audit trail as company admins (their company's) and platform
//! admins (every company's) read it.

use crate::model::AuditOutcome;
use crate::parts;
use crate::service::audit;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_entity::audit_entry;
use ils_kernel::id;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;

pub const AUDIT_ENTRY: &str = "AuditEntry";

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
            outcome: AuditOutcome::of(&a.outcome),
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
    ) -> Result<Page<AuditEntry>> {
        let (tenant, db) = parts(ctx)?;
        let filter = filter.unwrap_or_default();
        let actor_user_id = match &filter.actor_user_id {
            Some(u) => Some(id::decode("User", u, "filter.actorUserId")?),
            None => None,
        };
        let filter = audit::Filter {
            operation: filter.operation,
            outcome: filter.outcome,
            actor_user_id,
            since: filter.since,
            until: filter.until,
        };
        let page = PageArgs::new(ctx, first, after, last, before);
        Ok(audit::list(db, tenant, filter, page, AuditEntry::from).await?)
    }
}
