//! The durable job queue, kept in our own `jobs` table so a job is enqueued in the same
//! transaction as the write that needs it (`Tx::enqueue`).
//!
//! Workers claim due jobs in batches with one `UPDATE … WHERE id IN (SELECT … FOR UPDATE
//! SKIP LOCKED) RETURNING *` on PostgreSQL (SQLite has one writer at a time anyway), hold
//! them under a lease, and report outcomes in batches. A failed attempt is retried after
//! an exponential backoff with jitter until the kind's maximum, then the job is DEAD. A job
//! whose lease ran out (its worker died) is claimed again. Jobs may be scheduled (`run_at`),
//! prioritised, deduplicated by an idempotency key, and produced by cron schedules.
#![allow(clippy::disallowed_methods)] // the queue is claimed and settled below the guard, here only

use crate::events::type_matches;
use crate::{AppError, AppResult, Db, TenantContext, Tx};
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use ils_entity::job;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const QUEUED: &str = "QUEUED";
pub const RUNNING: &str = "RUNNING";
pub const SUCCEEDED: &str = "SUCCEEDED";
pub const DEAD: &str = "DEAD";
pub const DISCARDED: &str = "DISCARDED";
pub const STATES: [&str; 5] = [QUEUED, RUNNING, SUCCEEDED, DEAD, DISCARDED];

/// The built-in job that does nothing (queue health checks and the throughput bench).
pub const NOOP: &str = "noop";
pub const DEFAULT_MAX_ATTEMPTS: i32 = 5;

/// A job kind's payload: one serde type per kind, with the version of its shape. Enqueue
/// it with `NewJob::of`, read it with `JobRun::payload`; a payload of another version is
/// refused by name (the job dies) rather than misread.
pub trait JobPayload: Serialize + DeserializeOwned {
    /// The job kind this payload is for.
    const KIND: &'static str;
    /// Raise it when the shape changes incompatibly.
    const VERSION: i32 = 1;
}

/// Declares the payload of a job kind that needs nothing but its company (pruning,
/// reconciliation): `ils_kernel::empty_job_payload!(Prune, "maintenance.prune");`.
#[macro_export]
macro_rules! empty_job_payload {
    ($(#[$meta:meta])* $name:ident, $kind:expr) => {
        $(#[$meta])*
        #[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy, Default)]
        pub struct $name {}
        impl $crate::jobs::JobPayload for $name {
            const KIND: &'static str = $kind;
        }
    };
}

empty_job_payload!(
    /// The built-in job that does nothing (benchmarks, tests).
    Noop,
    NOOP
);
empty_job_payload!(
    /// Prunes finished jobs and dispatched events.
    Prune,
    PRUNE
);

/// A job to enqueue.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    /// The version of the payload's shape.
    pub version: i32,
    pub priority: i32,
    pub run_at: Option<DateTime<Utc>>,
    pub idempotency_key: Option<String>,
    pub max_attempts: Option<i32>,
}

impl NewJob {
    /// A job of `P::KIND` carrying `payload`.
    pub fn of<P: JobPayload>(payload: &P) -> NewJob {
        NewJob {
            version: P::VERSION,
            // A payload type that cannot be serialised is a bug caught by every test that
            // enqueues it; `Null` would then fail its handler's decode, by name.
            ..NewJob::untyped(
                P::KIND,
                serde_json::to_value(payload).unwrap_or(serde_json::Value::Null),
            )
        }
    }

    /// A job of `kind` with its payload as JSON (version 1): event handler jobs, whose
    /// payload is the event envelope, and tests of the queue itself. Banned by clippy
    /// elsewhere: domain jobs are enqueued typed, with `NewJob::of`.
    pub fn untyped(kind: impl Into<String>, payload: serde_json::Value) -> NewJob {
        NewJob {
            kind: kind.into(),
            payload,
            version: 1,
            priority: 0,
            run_at: None,
            idempotency_key: None,
            max_attempts: None,
        }
    }

    /// Higher runs first (default 0).
    pub fn priority(mut self, p: i32) -> Self {
        self.priority = p;
        self
    }

    /// Not before this time.
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    /// A second job with the same key is not enqueued while the first is kept.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Overrides the kind's maximum number of attempts.
    pub fn max_attempts(mut self, n: i32) -> Self {
        self.max_attempts = Some(n.max(1));
        self
    }
}

/// Wakes this process's dispatcher and workers when a transaction that emitted events or
/// enqueued jobs commits; `remote` also wakes other replicas' workers (Redis).
#[derive(Default)]
pub struct Wake {
    pub events: Notify,
    pub jobs: Notify,
    remote: std::sync::OnceLock<Arc<dyn Fn() + Send + Sync>>,
}

impl Wake {
    /// Installs the hook that tells other replicas new jobs are waiting.
    pub fn set_remote(&self, hook: Arc<dyn Fn() + Send + Sync>) {
        let _ = self.remote.set(hook);
    }

    pub(crate) fn jobs_enqueued(&self) {
        self.jobs.notify_one();
        self.tell_replicas();
    }

    pub(crate) fn events_emitted(&self) {
        self.events.notify_one();
        self.tell_replicas();
    }

    /// What a replica does when another one says there is work: look at once.
    pub fn remote_wake(&self) {
        self.jobs.notify_one();
        self.events.notify_one();
    }

    fn tell_replicas(&self) {
        if let Some(hook) = self.remote.get() {
            hook();
        }
    }
}

impl Tx {
    /// Enqueues a job for the acting company in this transaction; it runs only if the
    /// transaction commits. Returns false when its idempotency key is already taken.
    pub async fn enqueue(&self, job: NewJob) -> AppResult<bool> {
        self.enqueue_for(self.scope().company(), job).await
    }

    /// Enqueues a job for `company` from a cross-tenant (system) transaction: a platform
    /// job handing each company its own share of the work. Refused in a tenant
    /// transaction, which may only enqueue for its own company.
    pub async fn enqueue_for_company(&self, company: Uuid, job: NewJob) -> AppResult<bool> {
        if self.scope().company().is_some_and(|c| c != company) {
            return Err(AppError::internal(
                "a tenant transaction enqueues for its own company only",
            ));
        }
        self.enqueue_for(Some(company), job).await
    }

    pub(crate) async fn enqueue_for(&self, company: Option<Uuid>, job: NewJob) -> AppResult<bool> {
        Ok(self.enqueue_many_for(company, vec![job]).await? == 1)
    }

    /// Enqueues jobs for `company` in as few statements as the backend allows (one per 500
    /// jobs); a job whose idempotency key is taken is skipped. Returns how many were added.
    pub(crate) async fn enqueue_many_for(
        &self,
        company: Option<Uuid>,
        jobs: Vec<NewJob>,
    ) -> AppResult<u64> {
        let now = Utc::now();
        let mut rows = Vec::with_capacity(jobs.len());
        for job in jobs {
            let kind = self.registry().and_then(|r| r.kind(&job.kind));
            if self.registry().is_some() && kind.is_none() {
                return Err(AppError::internal(format!("unknown job kind {}", job.kind)));
            }
            let max = job
                .max_attempts
                .or(kind.map(|k| k.max_attempts))
                .unwrap_or(DEFAULT_MAX_ATTEMPTS);
            rows.push(job::ActiveModel {
                id: Set(Uuid::now_v7()),
                company_id: Set(company),
                kind: Set(job.kind),
                payload: Set(job.payload.to_string()),
                version: Set(job.version),
                state: Set(QUEUED.into()),
                priority: Set(job.priority),
                run_at: Set(job.run_at.unwrap_or(now)),
                attempts: Set(0),
                max_attempts: Set(max),
                last_error: Set(None),
                locked_by: Set(None),
                lease_until: Set(None),
                idempotency_key: Set(job.idempotency_key),
                created_at: Set(now),
                updated_at: Set(now),
                finished_at: Set(None),
            });
        }
        let mut added = 0;
        // 500 rows of 16 values stay under SQLite's limit of bound values per statement.
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(500));
            let res = job::Entity::insert_many(std::mem::replace(&mut rows, rest))
                .on_conflict_do_nothing_on([job::Column::IdempotencyKey])
                .exec_without_returning(self.conn())
                .await?;
            if let sea_orm::TryInsertResult::Inserted(n) = res {
                added += n;
            }
        }
        if added > 0 {
            self.mark_enqueued();
        }
        Ok(added)
    }
}

/// What a failed attempt reports.
#[derive(Debug)]
pub struct JobError {
    pub message: String,
    /// Retry after this long instead of the kind's backoff.
    pub retry_after: Option<Duration>,
    /// Do not retry: the job is dead at once.
    pub permanent: bool,
}

impl JobError {
    pub fn retry(message: impl Into<String>) -> JobError {
        JobError {
            message: message.into(),
            retry_after: None,
            permanent: false,
        }
    }

    pub fn permanent(message: impl Into<String>) -> JobError {
        JobError {
            permanent: true,
            ..JobError::retry(message)
        }
    }
}

impl From<AppError> for JobError {
    /// An internal error's detail (often SQL) goes to the log only: `lastError` is shown to
    /// company admins.
    fn from(e: AppError) -> Self {
        let message = match &e {
            AppError::Internal(detail) => {
                tracing::error!(%detail, "internal error in a job");
                "internal error (the detail is in the server log)".to_owned()
            }
            other => other.to_string(),
        };
        JobError::retry(message)
    }
}

/// Shared things handlers need (a mailer, an HTTP client, settings), by type.
#[derive(Clone, Default)]
pub struct Resources(Arc<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>);

impl Resources {
    pub fn builder() -> ResourcesBuilder {
        ResourcesBuilder::default()
    }

    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.0
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref::<T>())
    }

    /// The resource, or a permanent job error naming what is missing.
    pub fn need<T: Any + Send + Sync>(&self) -> Result<&T, JobError> {
        self.get::<T>().ok_or_else(|| {
            JobError::permanent(format!("missing resource {}", std::any::type_name::<T>()))
        })
    }
}

#[derive(Default)]
pub struct ResourcesBuilder(HashMap<TypeId, Arc<dyn Any + Send + Sync>>);

impl ResourcesBuilder {
    pub fn with<T: Any + Send + Sync>(mut self, value: T) -> Self {
        self.0.insert(TypeId::of::<T>(), Arc::new(value));
        self
    }

    pub fn build(self) -> Resources {
        Resources(Arc::new(self.0))
    }
}

/// One attempt of one job, as its handler sees it.
pub struct JobRun {
    pub id: Uuid,
    pub kind: String,
    pub company_id: Option<Uuid>,
    payload: serde_json::Value,
    /// The version of the payload's shape, as enqueued.
    version: i32,
    /// Set when the run is a kind's `on_dead` hook: why the job died.
    dead_error: Option<String>,
    /// 1 on the first attempt.
    pub attempt: i32,
    pub max_attempts: i32,
    pub db: Db,
    pub resources: Resources,
}

impl JobRun {
    /// The context a handler acts in: the job's company, with no person behind it.
    pub fn tenant(&self) -> TenantContext {
        TenantContext::system_for(self.company_id)
    }

    /// The event an event handler's job carries.
    pub fn event(&self) -> Result<crate::events::Event, JobError> {
        serde_json::from_value(self.payload.clone())
            .map_err(|e| JobError::permanent(format!("not an event payload: {e}")))
    }

    /// The job's payload as its kind's type: refused (the job dies at once, naming why)
    /// when the job is of another kind, its payload of another version, or not that shape.
    pub fn payload<P: JobPayload>(&self) -> Result<P, JobError> {
        if self.kind != P::KIND {
            return Err(JobError::permanent(format!(
                "a {} job has no {} payload",
                self.kind,
                P::KIND
            )));
        }
        if self.version != P::VERSION {
            return Err(JobError::permanent(format!(
                "{} payload version {} is not the version this release reads ({})",
                P::KIND,
                self.version,
                P::VERSION
            )));
        }
        serde_json::from_value(self.payload.clone())
            .map_err(|e| JobError::permanent(format!("not a {} payload: {e}", P::KIND)))
    }

    /// In a kind's `on_dead` hook: why the job died.
    pub fn dead_error(&self) -> Option<&str> {
        self.dead_error.as_deref()
    }

    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

pub type Handler = Arc<dyn Fn(JobRun) -> BoxFuture<'static, Result<(), JobError>> + Send + Sync>;

/// Wraps an async function as a handler.
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(JobRun) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), JobError>> + Send + 'static,
{
    Arc::new(move |run| Box::pin(f(run)))
}

/// A kind of job a module handles. A kind with `events` is also an event handler: the
/// dispatcher enqueues one job of it per matching event (`*`, `prefix.*` or a type).
#[derive(Clone)]
pub struct JobKind {
    pub name: &'static str,
    pub max_attempts: i32,
    /// The first retry's delay; each later one doubles, up to `backoff_max`.
    pub backoff: Duration,
    pub backoff_max: Duration,
    /// An attempt running longer fails.
    pub timeout: Duration,
    pub events: Vec<&'static str>,
    /// Its payload holds secrets (a mailed token): blanked once the job has succeeded.
    pub sensitive: bool,
    /// Called when a job dies without its handler reporting the last failure (a timeout,
    /// a panic, a worker that stopped): the run's payload is `{"payload": …, "error": …}`.
    pub on_dead: Option<Handler>,
    pub handler: Handler,
}

impl JobKind {
    pub fn new(name: &'static str, handler: Handler) -> JobKind {
        JobKind {
            name,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            backoff: Duration::from_secs(10),
            backoff_max: Duration::from_secs(3600),
            timeout: Duration::from_secs(60),
            events: vec![],
            sensitive: false,
            on_dead: None,
            handler,
        }
    }

    pub fn on_dead(mut self, hook: Handler) -> Self {
        self.on_dead = Some(hook);
        self
    }

    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    pub fn on_events(mut self, patterns: &[&'static str]) -> Self {
        self.events = patterns.to_vec();
        self
    }

    pub fn max_attempts(mut self, n: i32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = first;
        self.backoff_max = max;
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

/// A recurring job: `cron` has five fields, or six with seconds first.
#[derive(Clone)]
pub struct Schedule {
    pub name: &'static str,
    pub cron: &'static str,
    pub job: fn() -> NewJob,
}

/// Every job kind and schedule the server knows, from every module.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: HashMap<String, JobKind>,
    schedules: Vec<Schedule>,
}

impl Registry {
    /// The kernel's own kinds and schedules: `noop`, and daily pruning of finished jobs and
    /// dispatched events.
    pub fn with_builtins() -> Registry {
        let mut r = Registry::default();
        r.add(JobKind::new(NOOP, handler(|_| async { Ok(()) })));
        r.add(
            JobKind::new(
                PRUNE,
                handler(|run: JobRun| async move {
                    let keep = chrono::Duration::days(KEEP_DAYS);
                    prune(&run.db, keep).await?;
                    crate::events::prune(&run.db, keep).await?;
                    Ok(())
                }),
            )
            .max_attempts(3),
        );
        r.schedule(Schedule {
            name: "prune",
            cron: "17 3 * * *",
            job: || NewJob::of(&Prune {}),
        });
        r
    }

    pub fn add(&mut self, kind: JobKind) {
        self.kinds.insert(kind.name.to_owned(), kind);
    }

    pub fn schedule(&mut self, s: Schedule) {
        self.schedules.push(s);
    }

    pub fn kind(&self, name: &str) -> Option<&JobKind> {
        self.kinds.get(name)
    }

    pub fn kind_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.kinds.keys().cloned().collect();
        v.sort();
        v
    }

    /// The kinds that handle events of this type.
    pub fn handlers_for(&self, event_type: &str) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self
            .kinds
            .values()
            .filter(|k| k.events.iter().any(|p| type_matches(p, event_type)))
            .map(|k| k.name)
            .collect();
        v.sort();
        v
    }

    pub fn schedules(&self) -> &[Schedule] {
        &self.schedules
    }
}

const PRUNE: &str = "maintenance.prune";
const KEEP_DAYS: i64 = 7;

/// The delay before attempt `attempt + 1`: `first × 2^(attempt-1)`, at most `max`, with
/// ±20 % jitter so retries of many jobs do not arrive together.
pub fn backoff_delay(first: Duration, max: Duration, attempt: i32) -> Duration {
    let exp = (attempt.max(1) - 1).min(30) as u32;
    let base = first.saturating_mul(2u32.saturating_pow(exp)).min(max);
    let jitter = rand::random_range(0.8..1.2);
    base.mul_f64(jitter)
}

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Jobs running at once in this process.
    pub concurrency: usize,
    /// How often an idle worker looks for due jobs when nothing wakes it.
    pub poll: Duration,
    /// How long a claimed job is held before another worker may take it.
    pub lease: Duration,
    pub worker_id: String,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 8,
            poll: Duration::from_secs(1),
            lease: Duration::from_secs(120),
            worker_id: format!("{}-{}", std::process::id(), Uuid::new_v4().simple()),
        }
    }
}

/// Claims up to `n` due jobs of the `kinds` this worker knows (jobs of unknown kinds wait
/// for a worker that knows them), then, if there is room, jobs whose lease ran out: a
/// `SELECT … ORDER BY … LIMIT n FOR UPDATE SKIP LOCKED` walking an index in claim order
/// (`ix_jobs_due`, `ix_jobs_lease`), then an `UPDATE … RETURNING` of those rows.
pub async fn claim(
    db: &Db,
    kinds: &[String],
    n: u64,
    cfg: &WorkerConfig,
) -> AppResult<Vec<job::Model>> {
    let tx = db.system().await?;
    let now = Utc::now();
    let due = job::Entity::find()
        .select_only()
        .column(job::Column::Id)
        .filter(Expr::cust(format!("state = '{QUEUED}'")))
        .filter(job::Column::RunAt.lte(now))
        .filter(job::Column::Kind.is_in(kinds.iter().cloned()))
        .order_by_desc(job::Column::Priority)
        .order_by_asc(job::Column::RunAt)
        .limit(n);
    let mut jobs = take(&tx, due, now, cfg).await?;
    if (jobs.len() as u64) < n {
        let expired = job::Entity::find()
            .select_only()
            .column(job::Column::Id)
            .filter(Expr::cust(format!("state = '{RUNNING}'")))
            .filter(job::Column::LeaseUntil.lt(now))
            .filter(job::Column::Kind.is_in(kinds.iter().cloned()))
            .order_by_asc(job::Column::LeaseUntil)
            .limit(n - jobs.len() as u64);
        jobs.extend(take(&tx, expired, now, cfg).await?);
    }
    tx.commit().await?;
    jobs.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.run_at.cmp(&b.run_at)));
    Ok(jobs)
}

/// Locks the jobs `ids` selects (skipping rows another worker holds) and marks them as
/// running for this worker under a fresh lease: two statements, each driven by an index
/// (the select walks the claim index, the update finds rows by primary key), so a claim
/// costs the same whatever the table holds and whatever the planner's statistics say.
async fn take(
    tx: &Tx,
    ids: sea_orm::Select<job::Entity>,
    now: DateTime<Utc>,
    cfg: &WorkerConfig,
) -> AppResult<Vec<job::Model>> {
    let ids: Vec<Uuid> = tx.lock_skip_locked(ids).into_tuple().all(tx.conn()).await?;
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let lease = chrono::Duration::from_std(cfg.lease).unwrap_or(chrono::Duration::minutes(2));
    Ok(job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(RUNNING))
        .col_expr(
            job::Column::Attempts,
            sea_orm::sea_query::ExprTrait::add(Expr::col(job::Column::Attempts), 1),
        )
        .col_expr(job::Column::LockedBy, Expr::value(cfg.worker_id.clone()))
        .col_expr(job::Column::LeaseUntil, Expr::value(now + lease))
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Id.is_in(ids))
        .exec_with_returning(tx.conn())
        .await?)
}

/// The outcome of one attempt.
pub enum Outcome {
    Succeeded,
    Failed(JobError),
}

/// Records outcomes: every success in one statement, each failure as a retry or a death.
/// Only jobs this worker still holds are touched (a job whose lease ran out and was
/// claimed again belongs to its new worker).
pub async fn settle(
    db: &Db,
    registry: &Registry,
    worker_id: &str,
    done: Vec<(job::Model, Outcome)>,
) -> AppResult<()> {
    let tx = db.system().await?;
    let now = Utc::now();
    // Only the attempt this worker still holds: the lease may have run out and the job been
    // claimed again, by another worker or by this one (a later attempt number).
    let held = |job: &job::Model| {
        Condition::all()
            .add(job::Column::State.eq(RUNNING))
            .add(job::Column::LockedBy.eq(worker_id))
            .add(job::Column::Attempts.eq(job.attempts))
    };
    let released = |update: sea_orm::UpdateMany<job::Entity>| {
        update
            .col_expr(job::Column::LockedBy, Expr::value(Option::<String>::None))
            .col_expr(
                job::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(job::Column::UpdatedAt, Expr::value(now))
    };
    // Successes in one statement per (attempt number, sensitivity): usually one.
    let mut ok: HashMap<(i32, bool), Vec<Uuid>> = HashMap::new();
    for (job, outcome) in done {
        match outcome {
            Outcome::Succeeded => {
                metrics::counter!("ils_jobs_total", "kind" => job.kind.clone(), "outcome" => "succeeded").increment(1);
                let sensitive = registry.kind(&job.kind).is_some_and(|k| k.sensitive);
                ok.entry((job.attempts, sensitive))
                    .or_default()
                    .push(job.id);
            }
            Outcome::Failed(err) => {
                let dead = err.permanent || job.attempts >= job.max_attempts;
                let outcome = if dead { "dead" } else { "retry" };
                metrics::counter!("ils_jobs_total", "kind" => job.kind.clone(), "outcome" => outcome).increment(1);
                let mut update = released(job::Entity::update_many()).col_expr(
                    job::Column::LastError,
                    Expr::value(truncate(&err.message, 2000)),
                );
                if dead {
                    update = update
                        .col_expr(job::Column::State, Expr::value(DEAD))
                        .col_expr(job::Column::FinishedAt, Expr::value(now));
                } else {
                    let delay = err
                        .retry_after
                        .unwrap_or_else(|| match registry.kind(&job.kind) {
                            Some(k) => backoff_delay(k.backoff, k.backoff_max, job.attempts),
                            None => Duration::from_secs(60),
                        });
                    let at = now + chrono::Duration::from_std(delay).unwrap_or_default();
                    update = update
                        .col_expr(job::Column::State, Expr::value(QUEUED))
                        .col_expr(job::Column::RunAt, Expr::value(at));
                }
                update
                    .filter(job::Column::Id.eq(job.id))
                    .filter(held(&job))
                    .exec(tx.conn())
                    .await?;
            }
        }
    }
    for ((attempts, sensitive), ids) in ok {
        let mut update = released(job::Entity::update_many())
            .col_expr(job::Column::State, Expr::value(SUCCEEDED))
            .col_expr(job::Column::FinishedAt, Expr::value(now));
        if sensitive {
            // What it carried (a token in a mail) is not kept once it is done.
            update = update.col_expr(job::Column::Payload, Expr::value(REDACTED));
        }
        update
            .filter(job::Column::Id.is_in(ids))
            .filter(job::Column::State.eq(RUNNING))
            .filter(job::Column::LockedBy.eq(worker_id))
            .filter(job::Column::Attempts.eq(attempts))
            .exec(tx.conn())
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The payload of a sensitive job once it has succeeded.
pub const REDACTED: &str = r#"{"redacted":true}"#;

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// Runs one attempt: the handler in its own task (a panic is a failed attempt), under the
/// kind's timeout, and never longer than the lease (or another worker would take the job
/// over while it still runs).
async fn attempt(
    job: &job::Model,
    registry: &Registry,
    db: &Db,
    resources: &Resources,
    lease: Duration,
) -> Outcome {
    let Some(kind) = registry.kind(&job.kind) else {
        return Outcome::Failed(JobError::permanent(format!(
            "unknown job kind {}",
            job.kind
        )));
    };
    let payload = serde_json::from_str(&job.payload).unwrap_or(serde_json::Value::Null);
    let run = || JobRun {
        id: job.id,
        kind: job.kind.clone(),
        company_id: job.company_id,
        payload: payload.clone(),
        version: job.version,
        dead_error: None,
        attempt: job.attempts,
        max_attempts: job.max_attempts,
        db: db.clone(),
        resources: resources.clone(),
    };
    if job.attempts > job.max_attempts {
        // Its last worker died mid-attempt and there are no attempts left.
        let message = "the worker stopped during the last attempt (lease expired)";
        dead_end(kind, run(), message).await;
        return Outcome::Failed(JobError::permanent(message));
    }
    let fut = (kind.handler)(run());
    // Finish well inside the lease, counted from the claim: past it another worker may take
    // the job over.
    let margin = (lease / 5).min(Duration::from_secs(5));
    let left = job
        .lease_until
        .and_then(|until| (until - Utc::now()).to_std().ok())
        .unwrap_or(lease);
    let timeout = kind
        .timeout
        .min(left.saturating_sub(margin))
        .max(Duration::from_millis(100));
    let started = std::time::Instant::now();
    let kind_name = job.kind.clone();
    let _record = scopeguard_histogram(kind_name, started);
    let failure = match tokio::spawn(async move { tokio::time::timeout(timeout, fut).await }).await
    {
        Ok(Ok(Ok(()))) => return Outcome::Succeeded,
        Ok(Ok(Err(e))) => return Outcome::Failed(e),
        Ok(Err(_)) => format!("timed out after {} s", timeout.as_secs_f64()),
        Err(_) => "the handler panicked".to_owned(),
    };
    // The handler could not report this failure itself: on the last attempt, let the kind
    // record that the job is dead.
    if job.attempts >= job.max_attempts {
        dead_end(kind, run(), &failure).await;
    }
    Outcome::Failed(JobError::retry(failure))
}

/// Runs the kind's `on_dead` hook, if any, for a job that died without its handler saying
/// so (timed out, panicked, or its worker stopped on the last attempt).
async fn dead_end(kind: &JobKind, run: JobRun, why: &str) {
    if let Some(hook) = &kind.on_dead {
        let mut run = run;
        run.dead_error = Some(why.to_owned());
        match tokio::time::timeout(Duration::from_secs(30), hook(run)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(kind = kind.name, error = %e.message, "on_dead hook failed")
            }
            Err(_) => tracing::warn!(kind = kind.name, "on_dead hook timed out"),
        }
    }
}

/// Records an attempt's duration when dropped (whatever way the attempt ended).
fn scopeguard_histogram(kind: String, started: std::time::Instant) -> impl Drop {
    struct Timer(String, std::time::Instant);
    impl Drop for Timer {
        fn drop(&mut self) {
            metrics::histogram!("ils_job_attempt_duration_seconds", "kind" => self.0.clone())
                .record(self.1.elapsed().as_secs_f64());
        }
    }
    Timer(kind, started)
}

/// Runs workers until `shutdown`: claims as many due jobs as there are free slots, runs
/// each in its own task, and settles outcomes in batches. Wakes on a local commit that
/// enqueued jobs (`Wake`), a remote wake-up, or every `poll`.
pub async fn run_workers(
    db: Db,
    registry: Arc<Registry>,
    resources: Resources,
    cfg: WorkerConfig,
    shutdown: CancellationToken,
) {
    let kinds = registry.kind_names();
    let slots = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(job::Model, Outcome)>();
    let settler = {
        let (db, registry, worker) = (db.clone(), registry.clone(), cfg.worker_id.clone());
        tokio::spawn(async move {
            while let Some(first) = done_rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < 500 {
                    match done_rx.try_recv() {
                        Ok(more) => batch.push(more),
                        Err(_) => break,
                    }
                }
                let ids: Vec<Uuid> = batch.iter().map(|(j, _)| j.id).collect();
                if let Err(e) = settle(&db, &registry, &worker, batch).await {
                    // The jobs stay RUNNING until their lease runs out, then run again.
                    tracing::error!(error = ?e, jobs = ids.len(), "could not record job outcomes");
                }
            }
        })
    };
    let wake = db.wake();
    let mut failures = 0u32;
    while !shutdown.is_cancelled() {
        let free = slots.available_permits();
        if free == 0 {
            // Wait for a slot to free up.
            tokio::select! {
                p = slots.clone().acquire_owned() => drop(p),
                _ = shutdown.cancelled() => break,
            }
            continue;
        }
        let claimed = match claim(&db, &kinds, free as u64, &cfg).await {
            Ok(c) => {
                failures = 0;
                c
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(error = ?e, "could not claim jobs");
                let pause = Duration::from_millis(200 * u64::from(failures.min(25)));
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = shutdown.cancelled() => break,
                }
                continue;
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                _ = wake.jobs.notified() => {}
                _ = tokio::time::sleep(cfg.poll) => {}
                _ = shutdown.cancelled() => break,
            }
            continue;
        }
        for job in claimed {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let (db, registry, resources, done) = (
                db.clone(),
                registry.clone(),
                resources.clone(),
                done_tx.clone(),
            );
            let lease = cfg.lease;
            tokio::spawn(async move {
                let outcome = attempt(&job, &registry, &db, &resources, lease).await;
                if let Outcome::Failed(e) = &outcome {
                    tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, error = %e.message, "job attempt failed");
                }
                if done.send((job, outcome)).is_err() {
                    tracing::error!(
                        "the job settler stopped; this outcome is lost (the job runs again after its lease)"
                    );
                }
                drop(permit);
            });
        }
    }
    // Let running attempts finish and their outcomes be recorded.
    let _ = slots.acquire_many(cfg.concurrency.max(1) as u32).await;
    drop(done_tx);
    let _ = settler.await;
}

/// Enqueues each schedule's job at each of its cron times until `shutdown`. Every replica
/// runs this; the idempotency key `cron:<name>:<time>` makes each occurrence one job.
pub async fn run_scheduler(db: Db, registry: Arc<Registry>, shutdown: CancellationToken) {
    let parser = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build();
    let mut plans: Vec<(Schedule, croner::Cron, DateTime<Utc>)> = vec![];
    for s in registry.schedules() {
        match parser.parse(s.cron) {
            Ok(c) => match c.find_next_occurrence(&Utc::now(), false) {
                Ok(next) => plans.push((s.clone(), c, next)),
                Err(e) => tracing::error!(schedule = s.name, error = %e, "schedule never fires"),
            },
            Err(e) => tracing::error!(schedule = s.name, error = %e, "bad cron pattern"),
        }
    }
    while !shutdown.is_cancelled() && !plans.is_empty() {
        let soonest = plans.iter().map(|p| p.2).min().unwrap_or_else(Utc::now);
        let wait = (soonest - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => break,
        }
        let now = Utc::now();
        for (s, cron, next) in plans.iter_mut() {
            if *next > now {
                continue;
            }
            let job = (s.job)().key(format!("cron:{}:{}", s.name, next.timestamp()));
            if let Err(e) = enqueue_system(&db, job).await {
                tracing::error!(schedule = s.name, error = ?e, "could not enqueue a scheduled job");
            }
            *next = cron
                .find_next_occurrence(&now, false)
                .unwrap_or(now + chrono::Duration::days(3650));
        }
    }
}

/// Enqueues a platform-wide job outside any request.
pub async fn enqueue_system(db: &Db, job: NewJob) -> AppResult<bool> {
    let tx = db.system().await?;
    let inserted = tx.enqueue_for(None, job).await?;
    tx.commit().await?;
    Ok(inserted)
}

/// Enqueues many platform-wide jobs in one transaction (bulk loads, the bench).
pub async fn enqueue_system_many(db: &Db, jobs: impl IntoIterator<Item = NewJob>) -> AppResult<()> {
    let tx = db.system().await?;
    tx.enqueue_many_for(None, jobs.into_iter().collect())
        .await?;
    tx.commit().await
}

/// Refreshes the planner's statistics of the queue (PostgreSQL): what autovacuum does
/// within a minute of a bulk load, done at once (the bench, after enqueueing).
pub async fn analyze(db: &Db) -> AppResult<()> {
    if db.backend() != DbBackend::Postgres {
        return Ok(());
    }
    use sea_orm::ConnectionTrait;
    let tx = db.system().await?;
    tx.conn().execute_unprepared("ANALYZE jobs").await?;
    tx.commit().await
}

/// How many jobs of `kind` are still queued or running (an index range, however many
/// finished jobs the table holds).
pub async fn count_unfinished(db: &Db, kind: &str) -> AppResult<u64> {
    use sea_orm::PaginatorTrait;
    let tx = db.system().await?;
    let n = job::Entity::find()
        .filter(job::Column::State.is_in([QUEUED, RUNNING]))
        .filter(job::Column::Kind.eq(kind))
        .count(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(n)
}

/// Deletes succeeded and discarded jobs finished more than `keep` ago; dead jobs stay
/// until someone retries or discards them.
pub async fn prune(db: &Db, keep: chrono::Duration) -> AppResult<u64> {
    let tx = db.system().await?;
    let n = job::Entity::delete_many()
        .filter(job::Column::State.is_in([SUCCEEDED, DISCARDED]))
        .filter(job::Column::FinishedAt.lt(Utc::now() - keep))
        .exec(tx.conn())
        .await?
        .rows_affected;
    tx.commit().await?;
    Ok(n)
}

/// Puts a DEAD job back in the queue with a fresh set of attempts (guarded: the caller's
/// own company's jobs, or any for a platform admin).
pub async fn retry(tx: &Tx, id: Uuid) -> AppResult<job::Model> {
    let now = Utc::now();
    let job = change_state(
        tx,
        id,
        &[DEAD],
        vec![
            (job::Column::State, Expr::value(QUEUED)),
            (job::Column::Attempts, Expr::value(0)),
            (job::Column::RunAt, Expr::value(now)),
            (
                job::Column::FinishedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            ),
            (job::Column::UpdatedAt, Expr::value(now)),
        ],
    )
    .await?;
    tx.mark_enqueued();
    Ok(job)
}

/// Gives up on a QUEUED or DEAD job for good.
pub async fn discard(tx: &Tx, id: Uuid) -> AppResult<job::Model> {
    let now = Utc::now();
    change_state(
        tx,
        id,
        &[QUEUED, DEAD],
        vec![
            (job::Column::State, Expr::value(DISCARDED)),
            (job::Column::FinishedAt, Expr::value(Some(now))),
            (job::Column::UpdatedAt, Expr::value(now)),
        ],
    )
    .await
}

/// Applies `sets` to the job only while it is in one of `from` (one conditional statement,
/// so a worker claiming it at the same moment cannot be overtaken): NOT_FOUND when the
/// scope cannot see it, BAD_USER_INPUT naming its state when it is in another one.
async fn change_state(
    tx: &Tx,
    id: Uuid,
    from: &[&str],
    sets: Vec<(job::Column, sea_orm::sea_query::SimpleExpr)>,
) -> AppResult<job::Model> {
    let changed = tx
        .update_many::<job::Entity>(
            sets,
            Condition::all()
                .add(job::Column::Id.eq(id))
                .add(job::Column::State.is_in(from.iter().copied())),
        )
        .await?;
    let job = tx.get::<job::Entity>(id).await?;
    if changed == 0 {
        return Err(AppError::bad_input(
            "id",
            format!(
                "only {} jobs can be changed so; this one is {}",
                from.join(" or "),
                job.state
            ),
        ));
    }
    Ok(job)
}

/// Jobs per state, as the scope may see them.
pub async fn counts(tx: &Tx) -> AppResult<Vec<(String, i64)>> {
    let rows: Vec<(String, i64)> = tx
        .select::<job::Entity>()
        .select_only()
        .column(job::Column::State)
        .column_as(job::Column::Id.count(), "n")
        .group_by(job::Column::State)
        .into_tuple()
        .all(tx.conn())
        .await?;
    Ok(STATES
        .iter()
        .map(|s| {
            let n = rows
                .iter()
                .find(|(st, _)| st == s)
                .map(|r| r.1)
                .unwrap_or(0);
            (s.to_string(), n)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let first = Duration::from_secs(10);
        let max = Duration::from_secs(100);
        for (attempt, expect) in [
            (1, 10.0),
            (2, 20.0),
            (3, 40.0),
            (4, 80.0),
            (5, 100.0),
            (40, 100.0),
        ] {
            let d = backoff_delay(first, max, attempt).as_secs_f64();
            assert!(
                d >= expect * 0.8 && d <= expect * 1.2,
                "attempt {attempt}: {d}"
            );
        }
    }

    #[test]
    fn registry_routes_events_to_matching_handlers() {
        let mut r = Registry::with_builtins();
        let h = handler(|_| async { Ok(()) });
        r.add(JobKind::new("a", h.clone()).on_events(&["order.*"]));
        r.add(JobKind::new("b", h.clone()).on_events(&["*"]));
        r.add(JobKind::new("c", h).on_events(&["order.shipped"]));
        assert_eq!(r.handlers_for("order.shipped"), vec!["a", "b", "c"]);
        assert_eq!(r.handlers_for("user.invited"), vec!["b"]);
        assert!(r.kind(NOOP).is_some());
    }

    #[test]
    fn cron_patterns_with_and_without_seconds() {
        let parser = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build();
        let at = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let daily = parser.parse("17 3 * * *").unwrap();
        assert_eq!(
            daily.find_next_occurrence(&at, false).unwrap().to_rfc3339(),
            "2026-11-24T03:17:00+00:00"
        );
        let every2s = parser.parse("*/2 * * * * *").unwrap();
        assert_eq!(
            every2s
                .find_next_occurrence(&at, false)
                .unwrap()
                .to_rfc3339(),
            "2026-11-23T10:00:02+00:00"
        );
    }
}
