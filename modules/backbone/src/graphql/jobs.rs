//! The job queue's admin face: counts by status, jobs with their last error, retry and
//! discard.

use crate::model::JobStatus;
use crate::parts;
use crate::service::jobs;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_entity::job;
use ils_kernel::id;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;

pub const JOB: &str = "Job";

/// A background job: work the server does after the request that asked for it (webhook
/// deliveries, mail, imports, scheduled clean-ups), retried with backoff when an attempt
/// fails. Company admins see their company's jobs; platform admins see every job.
#[derive(SimpleObject)]
pub struct Job {
    /// The job's global ID.
    pub id: ID,
    /// What the job does, such as `webhook.deliver`, `mail.send` or `marketplace.catalog_import`.
    pub kind: String,
    /// Where it is in its life: QUEUED, RUNNING, SUCCEEDED, DEAD or DISCARDED.
    pub status: JobStatus,
    /// Higher runs first.
    pub priority: i32,
    /// Attempts started so far (0 until it first runs; `retryJob` starts again from 0).
    pub attempts: i32,
    /// Attempts allowed before the job is DEAD.
    pub max_attempts: i32,
    /// Not before this time (the next retry, for a failed attempt).
    pub run_at: DateTime<Utc>,
    /// Why the last failed attempt failed; null when no attempt has failed. Kept when a
    /// later attempt succeeds.
    pub last_error: Option<String>,
    /// When the job was enqueued.
    pub created_at: DateTime<Utc>,
    /// When the job last changed (claimed, attempted, retried, discarded).
    pub updated_at: DateTime<Utc>,
    /// When it reached SUCCEEDED, DEAD or DISCARDED; null while QUEUED or RUNNING.
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<job::Model> for Job {
    fn from(j: job::Model) -> Self {
        Job {
            id: id::encode(JOB, j.id),
            kind: j.kind,
            status: JobStatus::of(&j.state),
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

/// How many of the caller's jobs have one status.
#[derive(SimpleObject)]
pub struct JobStatusCount {
    /// The status counted.
    pub status: JobStatus,
    /// How many jobs have it (0 included).
    pub count: i64,
}

/// Which jobs `jobs` lists; every field given narrows the list.
#[derive(InputObject, Default)]
pub struct JobFilter {
    /// Only jobs with one of these statuses.
    pub statuses: Option<Vec<JobStatus>>,
    /// Only jobs of this exact kind, such as `mail.send`.
    pub kind: Option<String>,
    /// Only jobs with a failed attempt (retrying, dead, or recovered), or only the others.
    pub failed: Option<bool>,
}

#[derive(Default)]
pub struct JobsQuery;

#[Object]
impl JobsQuery {
    /// How many jobs have each status, one entry per status (company admins: their
    /// company's jobs; platform admins: every job).
    async fn job_stats(&self, ctx: &Context<'_>) -> Result<Vec<JobStatusCount>> {
        let (tenant, db) = parts(ctx)?;
        Ok(jobs::stats(db, tenant)
            .await?
            .into_iter()
            .map(|(status, count)| JobStatusCount { status, count })
            .collect())
    }

    /// Jobs, oldest first (`last: N` for the newest N); filter by status (for example
    /// DEAD) and kind. Company admins see their company's jobs, platform admins every job.
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which jobs: every field given narrows the list.")] filter: Option<
            JobFilter,
        >,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<Job>> {
        let (tenant, db) = parts(ctx)?;
        let filter = filter.unwrap_or_default();
        let filter = jobs::Filter {
            statuses: filter.statuses,
            kind: filter.kind,
            failed: filter.failed,
        };
        let page = PageArgs::new(ctx, first, after, last, before);
        Ok(jobs::list(db, tenant, filter, page, Job::from).await?)
    }
}

/// The job to put back in the queue.
#[derive(InputObject)]
pub struct RetryJobInput {
    /// The global ID of a DEAD job.
    pub id: ID,
}

/// The job, queued again.
#[derive(SimpleObject)]
pub struct RetryJobPayload {
    /// The job, now QUEUED with its attempts back at 0 and `runAt` now.
    pub job: Job,
}

/// The job to give up.
#[derive(InputObject)]
pub struct DiscardJobInput {
    /// The global ID of a QUEUED or DEAD job.
    pub id: ID,
}

/// The job, given up.
#[derive(SimpleObject)]
pub struct DiscardJobPayload {
    /// The job, now DISCARDED.
    pub job: Job,
}

#[derive(Default)]
pub struct JobsMutation;

#[Object]
impl JobsMutation {
    /// Puts a DEAD job back in the queue with a fresh set of attempts. A job in another
    /// status is refused (BAD_USER_INPUT on `input.id`).
    async fn retry_job(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The DEAD job to queue again.")] input: RetryJobInput,
    ) -> Result<RetryJobPayload> {
        let (tenant, db) = parts(ctx)?;
        let job_id = id::decode(JOB, &input.id, "input.id")?;
        let job = jobs::retry(db, tenant, job_id).await?.into();
        Ok(RetryJobPayload { job })
    }

    /// Gives up on a QUEUED or DEAD job for good. A job in another status is refused
    /// (BAD_USER_INPUT on `input.id`).
    async fn discard_job(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The QUEUED or DEAD job to give up.")] input: DiscardJobInput,
    ) -> Result<DiscardJobPayload> {
        let (tenant, db) = parts(ctx)?;
        let job_id = id::decode(JOB, &input.id, "input.id")?;
        let job = jobs::discard(db, tenant, job_id).await?.into();
        Ok(DiscardJobPayload { job })
    }
}
