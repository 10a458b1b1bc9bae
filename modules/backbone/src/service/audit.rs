//! The audit log reader: a company admin reads their own company's audit trail (platform
//! admins read every company's). Nothing here or anywhere else changes or deletes entries.

use crate::model::AuditOutcome;
use chrono::{DateTime, Utc};
use ils_entity::audit_entry;
use ils_kernel::authz::require_admin_or_platform;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppResult, Db, TenantContext, Tx};
use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

/// Which entries to list; every field narrows.
#[derive(Default)]
pub struct Filter {
    /// Exact operation name, such as `createApiKey`.
    pub operation: Option<String>,
    pub outcome: Option<AuditOutcome>,
    pub actor_user_id: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// The company's audit log, oldest first.
pub async fn list<T: async_graphql::OutputType>(
    db: &Db,
    tenant: &TenantContext,
    filter: Filter,
    page: PageArgs,
    map: impl Fn(ils_entity::audit_entry::Model) -> T,
) -> AppResult<Page<T>> {
    let tx = db.read(tenant).await?;
    require_admin_or_platform(&tx, tenant).await?;
    let mut select = tx.select::<audit_entry::Entity>();
    if let Some(op) = filter.operation {
        select = select.filter(audit_entry::Column::Operation.eq(op));
    }
    if let Some(o) = filter.outcome {
        select = select.filter(audit_entry::Column::Outcome.eq(o.as_str()));
    }
    if let Some(u) = filter.actor_user_id {
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
        page,
        |a| a.id,
        map,
    )
    .await?;
    tx.commit().await?;
    Ok(conn)
}

/// The entries among `ids` that the caller may read (as `list` would show them: company
/// admins their company's, platform admins every company's); none for anybody else.
pub async fn by_ids(
    tx: &Tx,
    tenant: &TenantContext,
    ids: Vec<Uuid>,
) -> AppResult<Vec<audit_entry::Model>> {
    if ids.is_empty() || require_admin_or_platform(tx, tenant).await.is_err() {
        return Ok(vec![]);
    }
    tx.find_many::<audit_entry::Entity>(ids).await
}
