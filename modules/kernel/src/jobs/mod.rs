//! The durable job queue, kept in our own `jobs` table so a job is enqueued in the same
//! transaction as the write that needs it (`Tx::enqueue`).
//!
//! Workers claim due jobs in batches with one `UPDATE … WHERE id IN (SELECT … FOR UPDATE
//! SKIP LOCKED) RETURNING *` on PostgreSQL (SQLite has one writer at a time anyway), hold
//! them under a lease, and report outcomes in batches. A failed attempt is retried after
//! an exponential backoff with jitter until the kind's maximum, then the job is DEAD. A job
//! whose lease ran out (its worker died) is claimed again. Jobs may be scheduled (`run_at`),
//! prioritised, deduplicated by an idempotency key, and produced by cron schedules.
//!
//! This module holds what a job is (kinds, payloads, the registry); `worker` claims, runs
//! and settles them, `scheduler` enqueues cron jobs, `admin` is what the job admin surface
//! and the command line do with the queue. Their statements on the `jobs` table go through
//! `crate::below`, the kernel's one module below the guard.

mod admin;
mod scheduler;
mod worker;

pub use admin::*;
pub use scheduler::*;
pub use worker::*;

use crate::event_types::type_matches;
use crate::{AppError, AppResult, Db, TenantContext, Tx};
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use ils_entity::job;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DbBackend, QueryFilter, QueryOrder, QuerySelect,
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
        // A payload type that cannot be serialised is a bug caught by every test that
        // enqueues it; `Null` would then fail its handler's decode, by name.
        let json = serde_json::to_value(payload).unwrap_or(serde_json::Value::Null);
        NewJob::build(P::KIND, json, P::VERSION)
    }

    /// A job of `kind` with its payload as JSON (version 1), for tests of the queue
    /// itself. Banned by clippy elsewhere: domain jobs are enqueued typed, with
    /// `NewJob::of`.
    pub fn untyped(kind: impl Into<String>, payload: serde_json::Value) -> NewJob {
        NewJob::build(kind, payload, 1)
    }

    /// An event handler's job: its payload is the event envelope (version 1).
    pub(crate) fn envelope(kind: &str, event: serde_json::Value) -> NewJob {
        NewJob::build(kind, event, 1)
    }

    fn build(kind: impl Into<String>, payload: serde_json::Value, version: i32) -> NewJob {
        NewJob {
            kind: kind.into(),
            payload,
            version,
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

    /// A nightly fan-out's one step: enqueues `payload` once for each of `companies` from
    /// a system transaction, keyed by the job's kind, the company and today's date (UTC), so
    /// that the same night's fan-out run again adds nothing.
    pub async fn enqueue_tonight_for<P: JobPayload>(
        &self,
        companies: impl IntoIterator<Item = Uuid>,
        payload: &P,
    ) -> AppResult<()> {
        let night = chrono::Utc::now().format("%Y-%m-%d");
        for company in companies {
            let key = format!("{}:{company}:{night}", P::KIND);
            self.enqueue_for_company(company, NewJob::of(payload).key(key))
                .await?;
        }
        Ok(())
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
            let res = crate::below::insert_jobs(std::mem::replace(&mut rows, rest))
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

/// Handles several jobs of one kind at once (`JobKind::batched`).
pub type BatchHandler =
    Arc<dyn Fn(Vec<JobRun>) -> BoxFuture<'static, Result<(), JobError>> + Send + Sync>;

/// Wraps an async function as a batch handler.
pub fn batch_handler<F, Fut>(f: F) -> BatchHandler
where
    F: Fn(Vec<JobRun>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), JobError>> + Send + 'static,
{
    Arc::new(move |runs| Box::pin(f(runs)))
}

/// How a kind's jobs are taken together: a worker claims up to `max` due jobs of the kind
/// as one unit (one slot, one lease per job, one call of `handler`), and claims the kind
/// again only `every` later unless its last claim was full (a backlog is taken at once).
/// A job due after a quiet spell runs at once; under a steady flow the kind's jobs are
/// handled a batch per `every`.
#[derive(Clone)]
pub struct Batch {
    pub max: usize,
    pub every: Duration,
    pub handler: BatchHandler,
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
    /// a panic, a worker that stopped): the run carries the job's payload, and `dead_error()`.
    pub on_dead: Option<Handler>,
    pub handler: Handler,
    /// Jobs of this kind handled together (`batched`); `None`: one at a time.
    pub batch: Option<Batch>,
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
            batch: None,
        }
    }

    /// Handles up to `max` due jobs of this kind in one call of `handler` (which must do
    /// for each job what the kind's own handler does), claiming the kind at most once per
    /// `every` while its claims are not full (`Batch`). An attempt of a batch succeeds or
    /// fails for all its jobs; when the batch fails, each of its jobs is tried alone with
    /// the kind's own handler, so that one job that cannot succeed does not hold up the
    /// others.
    pub fn batched(mut self, max: usize, every: Duration, handler: BatchHandler) -> Self {
        self.batch = Some(Batch {
            max: max.max(1),
            every,
            handler,
        });
        self
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
                    let keep = run
                        .resources
                        .get::<Retention>()
                        .copied()
                        .unwrap_or_default();
                    prune(&run.db, keep.jobs).await?;
                    crate::events::prune(&run.db, keep.events).await?;
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

/// How long the daily pruning keeps finished jobs and published events (a resource the
/// server provides from its configuration; 7 days each by default). Events are what
/// subscribers resume from: a cursor older than their retention can no longer be resumed.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub jobs: chrono::Duration,
    pub events: chrono::Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            jobs: chrono::Duration::days(7),
            events: chrono::Duration::days(7),
        }
    }
}

/// The delay before attempt `attempt + 1`: `first × 2^(attempt-1)`, at most `max`, with
/// ±20 % jitter so retries of many jobs do not arrive together.
pub fn backoff_delay(first: Duration, max: Duration, attempt: i32) -> Duration {
    let exp = (attempt.max(1) - 1).min(30) as u32;
    let base = first.saturating_mul(2u32.saturating_pow(exp)).min(max);
    let jitter = rand::random_range(0.8..1.2);
    base.mul_f64(jitter)
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
