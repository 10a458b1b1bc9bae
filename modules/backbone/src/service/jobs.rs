//! The job queue as company admins (their company's jobs) and platform admins (every job)
//! see it: counts by status, failed and dead jobs with their last error, retry and discard.

use crate::model::JobStatus;
use ils_entity::job;
use ils_kernel::authz::require_admin_or_platform;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Db, TenantContext, Tx};
use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

/// Which jobs to list; every field narrows.
#[derive(Default)]
pub struct Filter {
    pub statuses: Option<Vec<JobStatus>>,
    pub kind: Option<String>,
    /// Only jobs with a failed attempt (retrying, dead, or recovered), or only the others.
    pub failed: Option<bool>,
}

/// How many jobs have each status.
pub async fn stats(db: &Db, tenant: &TenantContext) -> AppResult<Vec<(JobStatus, i64)>> {
    let tx = db.tenant(tenant).await?;
    require_admin_or_platform(&tx, tenant).await?;
    let counts = ils_kernel::jobs::counts(&tx).await?;
    tx.commit().await?;
    Ok(counts
        .into_iter()
        .map(|(s, n)| (JobStatus::of(&s), n))
        .collect())
}

/// Jobs, oldest first.
pub async fn list<T: async_graphql::OutputType>(
    db: &Db,
    tenant: &TenantContext,
    filter: Filter,
    page: PageArgs,
    map: impl Fn(ils_entity::job::Model) -> T,
) -> AppResult<Page<T>> {
    let tx = db.read(tenant).await?;
    require_admin_or_platform(&tx, tenant).await?;
    let mut select = tx.select::<job::Entity>();
    if let Some(statuses) = filter.statuses {
        select = select.filter(job::Column::State.is_in(statuses.iter().map(|s| s.as_str())));
    }
    if let Some(kind) = filter.kind {
        select = select.filter(job::Column::Kind.eq(kind));
    }
    match filter.failed {
        Some(true) => select = select.filter(job::Column::LastError.is_not_null()),
        Some(false) => select = select.filter(job::Column::LastError.is_null()),
        None => {}
    }
    let conn = paginate(tx.conn(), select, job::Column::Id, page, |j| j.id, map).await?;
    tx.commit().await?;
    Ok(conn)
}

/// The jobs among `ids` that the caller may see (as `list` would show them: company
/// admins their company's, platform admins every one); none for anybody else.
pub async fn by_ids(tx: &Tx, tenant: &TenantContext, ids: Vec<Uuid>) -> AppResult<Vec<job::Model>> {
    if ids.is_empty() || require_admin_or_platform(tx, tenant).await.is_err() {
        return Ok(vec![]);
    }
    tx.find_many::<job::Entity>(ids).await
}

/// Puts a DEAD job back in the queue with a fresh set of attempts.
pub async fn retry(db: &Db, tenant: &TenantContext, job_id: Uuid) -> AppResult<job::Model> {
    let tx = db.tenant(tenant).await?;
    require_admin_or_platform(&tx, tenant).await?;
    let job = ils_kernel::jobs::retry(&tx, job_id)
        .await
        .map_err(in_input)?;
    tx.commit().await?;
    Ok(job)
}

/// Gives up on a QUEUED or DEAD job.
pub async fn discard(db: &Db, tenant: &TenantContext, job_id: Uuid) -> AppResult<job::Model> {
    let tx = db.tenant(tenant).await?;
    require_admin_or_platform(&tx, tenant).await?;
    let job = ils_kernel::jobs::discard(&tx, job_id)
        .await
        .map_err(in_input)?;
    tx.commit().await?;
    Ok(job)
}

/// The kernel names the job it refuses `id`; the mutations take it as `input.id`.
fn in_input(e: AppError) -> AppError {
    match e {
        AppError::BadUserInput { message, field } if field == "id" => AppError::BadUserInput {
            message,
            field: "input.id".into(),
        },
        e => e,
    }
}
