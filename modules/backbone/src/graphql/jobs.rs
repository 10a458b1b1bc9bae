//! The job queue's admin face: counts by state, jobs with their last error, retry and
//! discard.

use crate::model::JobState;
use crate::parts;
use crate::service::jobs;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_entity::job;
use ils_kernel::id;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;

pub const JOB: &str = "Job";

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
            state: JobState::of(&j.state),
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
        Ok(jobs::stats(db, tenant)
            .await?
            .into_iter()
            .map(|(state, count)| JobStateCount { state, count })
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
    ) -> Result<Page<Job>> {
        let (tenant, db) = parts(ctx)?;
        let filter = filter.unwrap_or_default();
        let filter = jobs::Filter {
            states: filter.states,
            kind: filter.kind,
            failed: filter.failed,
        };
        let page = PageArgs::new(ctx, first, after, last, before);
        Ok(jobs::list(db, tenant, filter, page, Job::from).await?)
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
        Ok(jobs::retry(db, tenant, job_id).await?.into())
    }

    /// Gives up on a QUEUED or DEAD job.
    async fn discard_job(&self, ctx: &Context<'_>, id: ID) -> Result<Job> {
        let (tenant, db) = parts(ctx)?;
        let job_id = id::decode(JOB, &id, "id")?;
        Ok(jobs::discard(db, tenant, job_id).await?.into())
    }
}
