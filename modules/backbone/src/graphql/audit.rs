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

/// One audited action: every mutation (whether it succeeded or not) and every read of
/// patient data, with who did it, from where and how it ended. Entries are never changed
/// or deleted. Company admins read their company's; platform admins read every company's.
#[derive(SimpleObject)]
pub struct AuditEntry {
    /// The entry's global ID.
    pub id: ID,
    /// Who acted: USER (a signed-in person), API_KEY (an API key, on behalf of the user
    /// who created it), SYSTEM (the server itself) or ANONYMOUS (no credentials, such as
    /// a failed log-in).
    pub actor_kind: String,
    /// The global ID of the `User` who acted (for an API key: the person who created it);
    /// null for SYSTEM and ANONYMOUS. An ID rather than the `User` itself: platform
    /// admins, who read every company's log, may not read companies' users. A company
    /// admin can load the user with `node(id:)`.
    pub actor_user_id: Option<ID>,
    /// The global ID of the `ApiKey` that acted, when `actorKind` is API_KEY; null
    /// otherwise. An ID rather than the `ApiKey` itself: platform admins may not read
    /// companies' API keys. A company admin can load it (revoked or not) with `node(id:)`.
    pub actor_api_key_id: Option<ID>,
    /// What was done: the mutation's field name (`createApiKey`; several, comma-separated,
    /// for a request with several mutations), a named read of patient data
    /// (`patient.read`), or, for SYSTEM, `system:<actor>: <reason>` (a step the platform
    /// took in the company's data).
    pub operation: String,
    /// The global IDs the operation named or returned.
    pub target_ids: Vec<ID>,
    /// The IP address the request came from (the direct peer: a proxy's address behind
    /// one); null when unknown.
    pub client_address: Option<String>,
    /// The client's `User-Agent` header, at most 300 characters; null when it sent none.
    pub user_agent: Option<String>,
    /// Whether the operation succeeded.
    pub outcome: AuditOutcome,
    /// The error code (`extensions.code`, such as FORBIDDEN) of a failure; null on success.
    pub error_code: Option<String>,
    /// When it happened.
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

/// Which entries `auditLog` lists; every field given narrows the list.
#[derive(InputObject, Default)]
pub struct AuditLogFilter {
    /// Exact operation name, such as `createApiKey` or `patient.read`.
    pub operation: Option<String>,
    /// Only successes, or only failures.
    pub outcome: Option<AuditOutcome>,
    /// Only what this user did (a `User` global ID), themselves or through their API keys.
    pub actor_user_id: Option<ID>,
    /// Only entries at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only entries before this instant.
    pub until: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Your company's audit log, oldest first (`last: N` for the newest N); platform
    /// admins read every company's. Company admins and platform admins only.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which entries: every field given narrows the list.")] filter: Option<
            AuditLogFilter,
        >,
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
