//! Workers: claim due jobs under a lease, run each under its kind's timeout while a
//! heartbeat keeps the lease, settle the outcomes in batches.

use super::*;

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Jobs running at once in this process.
    pub concurrency: usize,
    /// How often an idle worker looks for due jobs when nothing wakes it.
    pub poll: Duration,
    /// How long a claimed job is held before another worker may take it. While an attempt
    /// runs, its worker extends the lease every third of it (`heartbeat`), so the lease
    /// runs out only when the worker is gone (killed, crashed, cut off from the database).
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
    let tx = crate::below::system(db).await?;
    let jobs = claim_in(&tx, kinds, n, cfg).await?;
    tx.commit().await?;
    Ok(jobs)
}

/// `claim`, in the caller's transaction.
async fn claim_in(
    tx: &Tx,
    kinds: &[String],
    n: u64,
    cfg: &WorkerConfig,
) -> AppResult<Vec<job::Model>> {
    let now = Utc::now();
    let due = crate::below::jobs()
        .select_only()
        .column(job::Column::Id)
        .filter(Expr::cust(format!("state = '{QUEUED}'")))
        .filter(job::Column::RunAt.lte(now))
        .filter(job::Column::Kind.is_in(kinds.iter().cloned()))
        .order_by_desc(job::Column::Priority)
        .order_by_asc(job::Column::RunAt)
        .limit(n);
    let mut jobs = take(tx, due, now, cfg).await?;
    if (jobs.len() as u64) < n {
        let expired = crate::below::jobs()
            .select_only()
            .column(job::Column::Id)
            .filter(Expr::cust(format!("state = '{RUNNING}'")))
            .filter(job::Column::LeaseUntil.lt(now))
            .filter(job::Column::Kind.is_in(kinds.iter().cloned()))
            .order_by_asc(job::Column::LeaseUntil)
            .limit(n - jobs.len() as u64);
        jobs.extend(take(tx, expired, now, cfg).await?);
    }
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
    Ok(crate::below::update_jobs()
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
    let tx = crate::below::system(db).await?;
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
                let mut update = released(crate::below::update_jobs()).col_expr(
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
        let mut update = released(crate::below::update_jobs())
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

/// Extends the leases of the attempts `jobs` (as claimed by `worker_id`) to `lease` from
/// now, in one statement however many they are. `Ok(false)` when the worker no longer
/// holds one of them: its lease ran out (while the database was unreachable, say) and
/// another worker, or a later attempt, took the job over.
pub async fn extend_leases(
    db: &Db,
    jobs: &[job::Model],
    worker_id: &str,
    lease: Duration,
) -> AppResult<bool> {
    if jobs.is_empty() {
        return Ok(true);
    }
    let tx = crate::below::system(db).await?;
    let now = Utc::now();
    let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(2));
    // Each job as this attempt of it: its id with the attempt count it was claimed at.
    let attempts = jobs.iter().fold(Condition::any(), |any, job| {
        any.add(
            Condition::all()
                .add(job::Column::Id.eq(job.id))
                .add(job::Column::Attempts.eq(job.attempts)),
        )
    });
    let extended = crate::below::update_jobs()
        .col_expr(job::Column::LeaseUntil, Expr::value(now + lease))
        .filter(job::Column::State.eq(RUNNING))
        .filter(job::Column::LockedBy.eq(worker_id))
        .filter(attempts)
        .exec(tx.conn())
        .await?
        .rows_affected;
    tx.commit().await?;
    Ok(extended == jobs.len() as u64)
}

/// How often a running attempt's lease is extended: three times per lease, so two
/// heartbeats in a row may fail (a database that restarts) before it runs out.
pub fn heartbeat_every(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_millis(100))
}

/// Keeps the leases of `jobs` (one attempt's: one job, or a batch) while the attempt runs;
/// returns only when one was lost (the job now belongs to another attempt), so the attempt
/// can stop. A heartbeat that fails (the database unreachable) is tried again at the next
/// beat; a lease runs out only if none gets through before it does.
async fn heartbeat(db: Db, jobs: Vec<job::Model>, worker_id: String, lease: Duration) {
    let every = heartbeat_every(lease);
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        beat.tick().await;
        match extend_leases(&db, &jobs, &worker_id, lease).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                let kind = jobs.first().map(|j| j.kind.as_str()).unwrap_or_default();
                tracing::warn!(jobs = jobs.len(), kind, error = ?e, "could not extend the leases of a running attempt; will retry")
            }
        }
    }
}

/// What a handler is given for `job`.
fn job_run(job: &job::Model, db: &Db, resources: &Resources) -> JobRun {
    JobRun {
        id: job.id,
        kind: job.kind.clone(),
        company_id: job.company_id,
        payload: serde_json::from_str(&job.payload).unwrap_or(serde_json::Value::Null),
        version: job.version,
        dead_error: None,
        attempt: job.attempts,
        max_attempts: job.max_attempts,
        db: db.clone(),
        resources: resources.clone(),
    }
}

/// How a handler's task ended: its result, or why it has none.
enum Ended {
    Done(Result<(), JobError>),
    /// Timed out or panicked: said in words.
    Broke(String),
    /// A lease was lost: another attempt holds the job now.
    LeaseLost,
}

/// Runs `fut` in its own task (a panic is a failed attempt) under `timeout`, while a
/// heartbeat keeps the leases of `jobs`.
async fn supervised(
    fut: futures_util::future::BoxFuture<'static, Result<(), JobError>>,
    timeout: Duration,
    jobs: Vec<job::Model>,
    db: &Db,
    cfg: &WorkerConfig,
) -> Ended {
    let mut handler = tokio::spawn(async move { tokio::time::timeout(timeout, fut).await });
    let kept = heartbeat(db.clone(), jobs, cfg.worker_id.clone(), cfg.lease);
    tokio::select! {
        ended = &mut handler => match ended {
            Ok(Ok(result)) => Ended::Done(result),
            Ok(Err(_)) => Ended::Broke(format!("timed out after {} s", timeout.as_secs_f64())),
            Err(_) => Ended::Broke("the handler panicked".to_owned()),
        },
        () = kept => {
            handler.abort();
            Ended::LeaseLost
        }
    }
}

/// Runs one attempt: the handler in its own task (a panic is a failed attempt), under the
/// kind's timeout, with a heartbeat that extends the lease while it runs. The lease limits
/// how long a dead worker holds a job, not how long a live one may work on it: that is the
/// kind's timeout.
async fn attempt(
    job: &job::Model,
    registry: &Registry,
    db: &Db,
    resources: &Resources,
    cfg: &WorkerConfig,
) -> Outcome {
    let Some(kind) = registry.kind(&job.kind) else {
        return Outcome::Failed(JobError::permanent(format!(
            "unknown job kind {}",
            job.kind
        )));
    };
    let run = || job_run(job, db, resources);
    if job.attempts > job.max_attempts {
        // Its last worker died mid-attempt and there are no attempts left.
        let message = "the worker stopped during the last attempt (lease expired)";
        dead_end(kind, run(), message).await;
        return Outcome::Failed(JobError::permanent(message));
    }
    let started = std::time::Instant::now();
    let _record = scopeguard_histogram(job.kind.clone(), started);
    let ended = supervised(
        (kind.handler)(run()),
        kind.timeout,
        vec![job.clone()],
        db,
        cfg,
    )
    .await;
    let failure = match ended {
        Ended::Done(Ok(())) => return Outcome::Succeeded,
        Ended::Done(Err(e)) => return Outcome::Failed(e),
        Ended::LeaseLost => {
            // Another attempt holds the job now: this one stops, and its outcome is not
            // recorded (`settle` touches only attempts their worker still holds).
            tracing::warn!(job = %job.id, kind = %job.kind, "a job's lease was lost while it ran; this attempt stops");
            return Outcome::Failed(JobError::retry(
                "the lease was lost (taken over by another worker)",
            ));
        }
        Ended::Broke(why) => why,
    };
    // The handler could not report this failure itself: on the last attempt, let the kind
    // record that the job is dead.
    if job.attempts >= job.max_attempts {
        dead_end(kind, run(), &failure).await;
    }
    Outcome::Failed(JobError::retry(failure))
}

/// Runs one attempt of a batch (jobs of one batched kind): the kind's batch handler once
/// for them all, as `attempt` runs one job. When it fails, each job is tried alone with
/// the kind's own handler, within this attempt, so that a job that cannot succeed fails
/// on its own.
async fn attempt_batch(
    jobs: Vec<job::Model>,
    registry: &Registry,
    db: &Db,
    resources: &Resources,
    cfg: &WorkerConfig,
) -> Vec<(job::Model, Outcome)> {
    let batch = jobs
        .first()
        .and_then(|j| registry.kind(&j.kind))
        .and_then(|k| k.batch.as_ref().map(|b| (k, b)));
    let Some((kind, batch)) = batch else {
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            let outcome = attempt(&job, registry, db, resources, cfg).await;
            out.push((job, outcome));
        }
        return out;
    };
    // Every job of the unit keeps its lease until the unit's outcomes are settled, whether
    // it waits for the batch, for its turn alone, or for the others to finish.
    let keeper = tokio::spawn(heartbeat(
        db.clone(),
        jobs.clone(),
        cfg.worker_id.clone(),
        cfg.lease,
    ));
    let _keeper = AbortOnDrop(keeper);
    let mut out = Vec::with_capacity(jobs.len());
    let mut live = Vec::with_capacity(jobs.len());
    for job in jobs {
        if job.attempts > job.max_attempts {
            // As in `attempt`: its last worker died mid-attempt.
            let outcome = attempt(&job, registry, db, resources, cfg).await;
            out.push((job, outcome));
        } else {
            live.push(job);
        }
    }
    if live.len() <= 1 {
        // One job is run as any other, with the kind's own handler.
        for job in live {
            let outcome = attempt(&job, registry, db, resources, cfg).await;
            out.push((job, outcome));
        }
        return out;
    }
    let started = std::time::Instant::now();
    let record = scopeguard_histogram(kind.name.to_owned(), started);
    let runs = live.iter().map(|j| job_run(j, db, resources)).collect();
    let ended = supervised((batch.handler)(runs), kind.timeout, live.clone(), db, cfg).await;
    drop(record);
    metrics::histogram!("ils_job_batch_size", "kind" => kind.name).record(live.len() as f64);
    let failure = match ended {
        Ended::Done(Ok(())) => {
            out.extend(live.into_iter().map(|j| (j, Outcome::Succeeded)));
            return out;
        }
        // Another attempt holds one of the jobs now: the others are still this worker's,
        // and are tried one by one as after a failure (the one taken over too: its
        // outcome is not recorded, `settle` touching only attempts still held).
        Ended::LeaseLost => "the lease of one of its jobs was lost".to_owned(),
        Ended::Done(Err(e)) => e.message,
        Ended::Broke(why) => why,
    };
    tracing::warn!(kind = %kind.name, jobs = live.len(), error = %failure, "a batch failed; its jobs are tried one by one");
    for job in live {
        let outcome = attempt(&job, registry, db, resources, cfg).await;
        out.push((job, outcome));
    }
    out
}

/// Aborts its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
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

/// Claims work for `free` slots: a unit is one job, or up to `max` jobs of a batched kind
/// (`JobKind::batched`), which take one slot together. Each batched kind fills a slot
/// first, unless it was claimed less than its `every` ago and that claim was not full
/// (`next` holds when each batched kind may be claimed again); jobs of kinds taken one at
/// a time fill the slots left.
async fn claim_units(
    db: &Db,
    registry: &Registry,
    kinds: &[String],
    free: usize,
    cfg: &WorkerConfig,
    next: &mut HashMap<String, tokio::time::Instant>,
) -> AppResult<Vec<Vec<job::Model>>> {
    let (batched, single): (Vec<String>, Vec<String>) = kinds
        .iter()
        .cloned()
        .partition(|k| registry.kind(k).is_some_and(|k| k.batch.is_some()));
    // One transaction for the whole claim (on SQLite each is a turn at the one write lock,
    // which a running job's heartbeat also waits for). Batched kinds first, a slot each at
    // most, so that a backlog of single jobs does not keep them waiting; then single jobs
    // in the slots left.
    let tx = crate::below::system(db).await?;
    let mut units: Vec<Vec<job::Model>> = Vec::new();
    let now = tokio::time::Instant::now();
    for kind in batched {
        if units.len() >= free {
            break;
        }
        if next.get(&kind).is_some_and(|at| *at > now) {
            continue;
        }
        let Some(batch) = registry.kind(&kind).and_then(|k| k.batch.as_ref()) else {
            continue;
        };
        let jobs = claim_in(&tx, std::slice::from_ref(&kind), batch.max as u64, cfg).await?;
        if !jobs.is_empty() {
            if jobs.len() < batch.max {
                next.insert(kind, now + batch.every);
            }
            units.push(jobs);
        }
    }
    let left = free.saturating_sub(units.len());
    if !single.is_empty() && left > 0 {
        units.extend(
            claim_in(&tx, &single, left as u64, cfg)
                .await?
                .into_iter()
                .map(|j| vec![j]),
        );
    }
    tx.commit().await?;
    Ok(units)
}

/// How long an idle worker sleeps: its poll, or less when a batched kind may be claimed
/// again sooner.
fn idle_for(poll: Duration, next: &HashMap<String, tokio::time::Instant>) -> Duration {
    let now = tokio::time::Instant::now();
    next.values()
        .filter(|at| **at > now)
        .map(|at| *at - now)
        .fold(poll, Duration::min)
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
    // When each batched kind may be claimed again.
    let mut next: HashMap<String, tokio::time::Instant> = HashMap::new();
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
        let claimed = match claim_units(&db, &registry, &kinds, free, &cfg, &mut next).await {
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
                _ = tokio::time::sleep(idle_for(cfg.poll, &next)) => {}
                _ = shutdown.cancelled() => break,
            }
            continue;
        }
        for unit in claimed {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let (db, registry, resources, done) = (
                db.clone(),
                registry.clone(),
                resources.clone(),
                done_tx.clone(),
            );
            let cfg = cfg.clone();
            tokio::spawn(async move {
                let outcomes = attempt_batch(unit, &registry, &db, &resources, &cfg).await;
                for (job, outcome) in outcomes {
                    if let Outcome::Failed(e) = &outcome {
                        tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, error = %e.message, "job attempt failed");
                    }
                    if done.send((job, outcome)).is_err() {
                        tracing::error!(
                            "the job settler stopped; this outcome is lost (the job runs again after its lease)"
                        );
                    }
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
