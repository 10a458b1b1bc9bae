//! The job queue as company admins (their company's jobs) and platform admins (every job)
//! see it: counts by state, failed and dead jobs with their last error, retry and discard.

use crate::parts;
use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_entity::job;
use ils_kernel::authz::require_admin_or_platform;
use ils_kernel::id;
use ils_kernel::pagination::PageArgs;
use ils_kernel::pagination::paginate;
use sea_orm::{ColumnTrait, QueryFilter};

pub const JOB: &str = "Job";

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Dead,
    Discarded,
}

impl JobState {
    fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => ils_kernel::jobs::QUEUED,
            JobState::Running => ils_kernel::jobs::RUNNING,
            JobState::Succeeded => ils_kernel::jobs::SUCCEEDED,
            JobState::Dead => ils_kernel::jobs::DEAD,
            JobState::Discarded => ils_kernel::jobs::DISCARDED,
        }
    }

    fn parse(s: &str) -> JobState {
        match s {
            ils_kernel::jobs::RUNNING => JobState::Running,
            ils_kernel::jobs::SUCCEEDED => JobState::Succeeded,
            ils_kernel::jobs::DEAD => JobState::Dead,
            ils_kernel::jobs::DISCARDED => JobState::Discarded,
            _ => JobState::Queued,
        }
    }
}

/// A background job.
#[derive(SimpleObject)]
pub struct Job {
    pub id: ID,
    pub kind: String,
    pub state: JobState,
    /// Higher runs first.
    pub priority: i32,
    pub attempts: i32,
    pub max_attempts: i32,
    /// Not before this time (the next retry, for a failed attempt).
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<job::Model> for Job {
    fn from(j: job::Model) -> Self {
        Job {
            id: id::encode(JOB, j.id),
            kind: j.kind,
            state: JobState::parse(&j.state),
            priority: j.priority,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            run_at: j.run_at,
            last_error: j.last_error,
            created_at: j.created_at,
            updated_at: j.updated_at,
            finished_at: j.finished_at,
        }
    }
}

#[derive(SimpleObject)]
pub struct JobStateCount {
    pub state: JobState,
    pub count: i64,
}

#[derive(InputObject, Default)]
pub struct JobFilter {
    pub states: Option<Vec<JobState>>,
    pub kind: Option<String>,
    /// Only jobs with a failed attempt (retrying, dead, or recovered), or only the others.
    pub failed: Option<bool>,
}

#[derive(Default)]
pub struct JobsQuery;

#[Object]
impl JobsQuery {
    /// How many jobs are in each state.
    async fn job_stats(&self, ctx: &Context<'_>) -> Result<Vec<JobStateCount>> {
        let (tenant, db) = parts(ctx)?;
        let tx = db.tenant(tenant).await?;
        require_admin_or_platform(&tx, tenant).await?;
        let counts = ils_kernel::jobs::counts(&tx).await?;
        tx.commit().await?;
        Ok(counts
            .into_iter()
            .map(|(s, n)| JobStateCount {
                state: JobState::parse(&s),
                count: n,
            })
            .collect())
    }

    /// Jobs, oldest first; filter by state (for example DEAD) and kind.
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        filter: Option<JobFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, Job>> {
        let (tenant, db) = parts(ctx)?;
        let tx = db.tenant(tenant).await?;
        require_admin_or_platform(&tx, tenant).await?;
        let filter = filter.unwrap_or_default();
        let mut select = tx.select::<job::Entity>();
        if let Some(states) = filter.states {
            select = select.filter(job::Column::State.is_in(states.iter().map(|s| s.as_str())));
        }
        if let Some(kind) = filter.kind {
            select = select.filter(job::Column::Kind.eq(kind));
        }
        match filter.failed {
            Some(true) => select = select.filter(job::Column::LastError.is_not_null()),
            Some(false) => select = select.filter(job::Column::LastError.is_null()),
            None => {}
        }
        let conn = paginate(
            tx.conn(),
            select,
            job::Column::Id,
            PageArgs::new(first, after, last, before),
            |j| j.id,
            Job::from,
        )
        .await?;
        tx.commit().await?;
        Ok(conn)
    }
}

#[derive(Default)]
pub struct JobsMutation;

#[Object]
impl JobsMutation {
    /// Puts a DEAD job back in the queue with a fresh set of attempts.
    async fn retry_job(&self, ctx: &Context<'_>, id: ID) -> Result<Job> {
        let (tenant, db) = parts(ctx)?;
        let job_id = id::decode(JOB, &id, "id")?;
        let tx = db.tenant(tenant).await?;
        require_admin_or_platform(&tx, tenant).await?;
        let job = ils_kernel::jobs::retry(&tx, job_id).await?;
        tx.commit().await?;
        Ok(job.into())
    }

    /// Gives up on a QUEUED or DEAD job.
    async fn discard_job(&self, ctx: &Context<'_>, id: ID) -> Result<Job> {
        let (tenant, db) = parts(ctx)?;
        let job_id = id::decode(JOB, &id, "id")?;
        let tx = db.tenant(tenant).await?;
        require_admin_or_platform(&tx, tenant).await?;
        let job = ils_kernel::jobs::discard(&tx, job_id).await?;
        tx.commit().await?;
        Ok(job.into())
    }
}
