//! The durable job queue on the real database (SQLite, or PostgreSQL when
//! `TEST_DATABASE_URL` is set): leases that outlive a dead worker, no lost or doubled jobs
//! with two workers, retries then death, scheduling, priority, idempotency, cron
//! schedules, the admin API over GraphQL, and a real process killed mid-delivery.
#![allow(clippy::disallowed_methods)] // the tests read the jobs table below the guard

use ils_entity::job;
use ils_kernel::Db;
use ils_kernel::jobs::{
    self, JobError, JobKind, JobRun, NewJob, Registry, Resources, Schedule, WorkerConfig, claim,
    enqueue_system, handler, run_scheduler, run_workers,
};
use ils_tests::receiver::Receiver;
use ils_tests::{Session, TestServer, company_uuid, email, eventually, nodes, staff_of};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(15);

/// A server that runs no dispatcher, workers or scheduler of its own.
async fn quiet_server() -> TestServer {
    TestServer::start_with(|c| {
        c.workers = 0;
        c.job_poll_ms = 100;
    })
    .await
}

fn worker(id: &str, lease: Duration) -> WorkerConfig {
    WorkerConfig {
        concurrency: 4,
        poll: Duration::from_millis(100),
        lease,
        worker_id: id.to_owned(),
    }
}

fn spawn_workers(
    db: &Db,
    registry: &Arc<Registry>,
    cfg: WorkerConfig,
    stop: &CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(run_workers(
        db.clone(),
        registry.clone(),
        Resources::default(),
        cfg,
        stop.clone(),
    ))
}

/// Every job of `kind`, read below the guard.
async fn jobs_of(db: &Db, kind: &str) -> Vec<job::Model> {
    let tx = db.system().await.expect("system tx");
    let rows = job::Entity::find()
        .filter(job::Column::Kind.eq(kind))
        .all(tx.conn())
        .await
        .expect("jobs read");
    tx.commit().await.expect("commit");
    rows
}

async fn job_by_id(db: &Db, id: Uuid) -> job::Model {
    let tx = db.system().await.expect("system tx");
    let row = job::Entity::find()
        .filter(job::Column::Id.eq(id))
        .one(tx.conn())
        .await
        .expect("job read")
        .expect("the job exists");
    tx.commit().await.expect("commit");
    row
}

/// Polls until every job of `kind` is in `state` (and there are `n` of them).
async fn wait_all(db: &Db, kind: &str, n: usize, state: &str) -> Vec<job::Model> {
    eventually(&format!("{kind}: {n} × {state}"), WAIT, || async {
        let rows = jobs_of(db, kind).await;
        if rows.len() == n && rows.iter().all(|j| j.state == state) {
            Ok(rows)
        } else {
            Err(rows
                .iter()
                .map(|j| (j.state.clone(), j.attempts, j.last_error.clone()))
                .collect::<Vec<_>>())
        }
    })
    .await
}

type Seen = Arc<Mutex<HashMap<Uuid, Vec<i32>>>>;

/// A kind whose handler records (job id → attempts it saw) and succeeds.
fn recording_kind(name: &'static str, seen: &Seen) -> JobKind {
    let seen = seen.clone();
    JobKind::new(
        name,
        handler(move |run: JobRun| {
            let seen = seen.clone();
            async move {
                seen.lock()
                    .unwrap()
                    .entry(run.id)
                    .or_default()
                    .push(run.attempt);
                Ok(())
            }
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_worker_died_runs_again_after_its_lease() {
    let s = quiet_server().await;
    let seen: Seen = Arc::default();
    let mut reg = Registry::default();
    reg.add(recording_kind("test.held", &seen));
    reg.add(recording_kind("test.once", &seen));
    let reg = Arc::new(reg);
    let db = s.server.state.db.clone().with_registry(reg.clone());
    let other = worker("other", Duration::from_secs(60));

    // While a lease holds, nobody else gets the job (the lease is far longer than the test).
    assert!(
        enqueue_system(&db, NewJob::untyped("test.held", json!({})))
            .await
            .unwrap()
    );
    let held = vec!["test.held".to_owned()];
    let holder = worker("holder", Duration::from_secs(600));
    let claimed = claim(&db, &held, 10, &holder).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].locked_by.as_deref(), Some("holder"));
    assert!(
        claim(&db, &held, 10, &other).await.unwrap().is_empty(),
        "a job was claimed again while its lease held"
    );

    // Once a lease expires, the job runs again.
    assert!(
        enqueue_system(&db, NewJob::untyped("test.once", json!({ "n": 1 })))
            .await
            .unwrap()
    );
    let kinds = vec!["test.once".to_owned()];
    // The "killed" worker claims it with a 1 s lease and never reports back.
    let dead = worker("killed-worker", Duration::from_secs(1));
    let claimed = claim(&db, &kinds, 10, &dead).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let id = claimed[0].id;
    assert_eq!(claimed[0].state, jobs::RUNNING);
    assert_eq!(claimed[0].attempts, 1);
    assert_eq!(claimed[0].locked_by.as_deref(), Some("killed-worker"));

    let stop = CancellationToken::new();
    let live = spawn_workers(
        &db,
        &reg,
        worker("live-worker", Duration::from_secs(30)),
        &stop,
    );
    let done = wait_all(&db, "test.once", 1, jobs::SUCCEEDED).await;
    stop.cancel();
    live.await.unwrap();
    assert_eq!(done[0].id, id);
    assert_eq!(done[0].attempts, 2, "{:?}", done[0]);
    assert!(done[0].finished_at.is_some());
    assert!(done[0].locked_by.is_none(), "{:?}", done[0]);
    assert_eq!(
        seen.lock().unwrap().get(&id),
        Some(&vec![2]),
        "the handler ran once more, as attempt 2"
    );
    // The held job was never run by the live worker: its lease still holds.
    let still = jobs_of(&db, "test.held").await;
    assert_eq!(still[0].state, jobs::RUNNING, "{:?}", still[0]);
    assert_eq!(
        still[0].locked_by.as_deref(),
        Some("holder"),
        "{:?}",
        still[0]
    );
    s.finish().await;
}

/// A job that runs for several leases is not taken over while its worker lives: the
/// worker's heartbeat extends the lease, so a second worker waiting for it gets nothing,
/// and the job succeeds in one attempt. The kind's own timeout still cuts an attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_keeps_its_lease_and_finishes_in_one_attempt() {
    let s = quiet_server().await;
    let seen: Seen = Arc::default();
    let lease = Duration::from_secs(1);
    let mut reg = Registry::default();
    {
        let seen = seen.clone();
        reg.add(JobKind::new(
            "test.slow",
            handler(move |run: JobRun| {
                let seen = seen.clone();
                async move {
                    seen.lock()
                        .unwrap()
                        .entry(run.id)
                        .or_default()
                        .push(run.attempt);
                    // Four leases.
                    tokio::time::sleep(Duration::from_secs(4)).await;
                    Ok(())
                }
            }),
        ));
    }
    reg.add(
        JobKind::new(
            "test.stuck",
            handler(|_| async {
                tokio::time::sleep(Duration::from_secs(600)).await;
                Ok(())
            }),
        )
        .max_attempts(1)
        .timeout(Duration::from_secs(2)),
    );
    let reg = Arc::new(reg);
    let db = s.server.state.db.clone().with_registry(reg.clone());
    assert!(
        enqueue_system(&db, NewJob::untyped("test.slow", json!({})))
            .await
            .unwrap()
    );
    let id = jobs_of(&db, "test.slow").await[0].id;
    let stop = CancellationToken::new();
    let first = spawn_workers(&db, &reg, worker("first", lease), &stop);
    eventually("the first worker runs the job", WAIT, || async {
        let j = job_by_id(&db, id).await;
        if j.state == jobs::RUNNING {
            Ok(j)
        } else {
            Err(j)
        }
    })
    .await;
    // A second worker polls all along; the lease runs out three times over meanwhile.
    let second = spawn_workers(&db, &reg, worker("second", lease), &stop);
    let mut extended = 0;
    let mut last_until = None;
    let deadline = Instant::now() + WAIT;
    let done = loop {
        let j = job_by_id(&db, id).await;
        if j.state == jobs::SUCCEEDED {
            break j;
        }
        assert_eq!(j.state, jobs::RUNNING, "{j:?}");
        assert_eq!(j.locked_by.as_deref(), Some("first"), "taken over: {j:?}");
        if j.lease_until != last_until {
            extended += 1;
            last_until = j.lease_until;
        }
        assert!(Instant::now() < deadline, "not done: {j:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(done.attempts, 1, "{done:?}");
    assert_eq!(seen.lock().unwrap().get(&id), Some(&vec![1]), "ran once");
    assert!(
        extended >= 3,
        "the lease was extended while it ran ({extended} leases seen)"
    );

    // The kind's timeout is the limit of an attempt, apart from the lease.
    assert!(
        enqueue_system(&db, NewJob::untyped("test.stuck", json!({})))
            .await
            .unwrap()
    );
    let stuck = jobs_of(&db, "test.stuck").await[0].id;
    let dead = eventually("the stuck job is cut at its timeout", WAIT, || async {
        let j = job_by_id(&db, stuck).await;
        if j.state == jobs::DEAD { Ok(j) } else { Err(j) }
    })
    .await;
    assert!(
        dead.last_error
            .as_deref()
            .unwrap_or("")
            .contains("timed out after 2"),
        "{dead:?}"
    );
    stop.cancel();
    first.await.unwrap();
    second.await.unwrap();
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_run_fifty_jobs_each_exactly_once() {
    let s = quiet_server().await;
    let seen: Seen = Arc::default();
    let mut reg = Registry::default();
    reg.add(recording_kind("test.count", &seen));
    let reg = Arc::new(reg);
    let db = s.server.state.db.clone().with_registry(reg.clone());

    let mut ids = vec![];
    for n in 0..50 {
        assert!(
            enqueue_system(&db, NewJob::untyped("test.count", json!({ "n": n })))
                .await
                .unwrap()
        );
    }
    for j in jobs_of(&db, "test.count").await {
        ids.push(j.id);
    }
    assert_eq!(ids.len(), 50);

    let stop = CancellationToken::new();
    let w1 = spawn_workers(&db, &reg, worker("w1", Duration::from_secs(60)), &stop);
    let w2 = spawn_workers(&db, &reg, worker("w2", Duration::from_secs(60)), &stop);
    let done = wait_all(&db, "test.count", 50, jobs::SUCCEEDED).await;
    // Once the workers have stopped, every run they made is recorded in `seen`.
    stop.cancel();
    w1.await.unwrap();
    w2.await.unwrap();

    assert!(done.iter().all(|j| j.attempts == 1), "a job ran twice");
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 50, "every job ran");
        for id in &ids {
            assert_eq!(seen.get(id), Some(&vec![1]), "job {id} ran exactly once");
        }
    }
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_is_retried_with_backoff_then_dead() {
    let s = quiet_server().await;
    let calls: Seen = Arc::default();
    let c = calls.clone();
    let mut reg = Registry::default();
    reg.add(
        JobKind::new(
            "test.fail",
            handler(move |run: JobRun| {
                let c = c.clone();
                async move {
                    c.lock()
                        .unwrap()
                        .entry(run.id)
                        .or_default()
                        .push(run.attempt);
                    Err(JobError::retry(format!("boom on attempt {}", run.attempt)))
                }
            }),
        )
        .max_attempts(3)
        .backoff(Duration::from_millis(50), Duration::from_millis(200)),
    );
    let reg = Arc::new(reg);
    let db = s.server.state.db.clone().with_registry(reg.clone());
    assert!(
        enqueue_system(&db, NewJob::untyped("test.fail", json!({})))
            .await
            .unwrap()
    );

    let stop = CancellationToken::new();
    let w = spawn_workers(&db, &reg, worker("w", Duration::from_secs(30)), &stop);
    let dead = wait_all(&db, "test.fail", 1, jobs::DEAD).await;
    // Once the worker has stopped, every run it made is recorded in `calls`.
    stop.cancel();
    w.await.unwrap();
    let j = &dead[0];
    assert_eq!(j.attempts, 3, "{j:?}");
    assert_eq!(j.max_attempts, 3, "{j:?}");
    assert_eq!(j.last_error.as_deref(), Some("boom on attempt 3"), "{j:?}");
    assert!(j.finished_at.is_some());
    assert_eq!(calls.lock().unwrap().get(&j.id), Some(&vec![1, 2, 3]));
    // Still dead afterwards: nothing claims it.
    assert_eq!(job_by_id(&db, j.id).await.state, jobs::DEAD);
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_at_priority_and_idempotency_keys() {
    let s = quiet_server().await;
    let mut reg = Registry::default();
    let h = handler(|_| async { Ok(()) });
    for k in ["test.later", "test.soon", "test.prio", "test.key"] {
        reg.add(JobKind::new(k, h.clone()));
    }
    let reg = Arc::new(reg);
    let db = s.server.state.db.clone().with_registry(reg.clone());
    let cfg = worker("claimer", Duration::from_secs(60));

    // Not before its time: a job due in an hour is not claimed now…
    let at = chrono::Utc::now() + chrono::Duration::hours(1);
    assert!(
        enqueue_system(&db, NewJob::untyped("test.later", json!({})).run_at(at))
            .await
            .unwrap()
    );
    let later = vec!["test.later".to_owned()];
    assert!(
        claim(&db, &later, 10, &cfg).await.unwrap().is_empty(),
        "a job was claimed before its run_at"
    );
    // …and a job due in a second is claimed once it is due, not before.
    let at = chrono::Utc::now() + chrono::Duration::seconds(1);
    assert!(
        enqueue_system(&db, NewJob::untyped("test.soon", json!({})).run_at(at))
            .await
            .unwrap()
    );
    let soon = vec!["test.soon".to_owned()];
    let got = eventually("the scheduled job became due", WAIT, || async {
        let c = claim(&db, &soon, 10, &cfg).await.unwrap();
        if c.is_empty() {
            Err("not claimable yet")
        } else {
            Ok(c)
        }
    })
    .await;
    assert_eq!(got.len(), 1);
    assert!(chrono::Utc::now() >= at, "claimed before run_at");
    assert!(
        claim(&db, &later, 10, &cfg).await.unwrap().is_empty(),
        "the job due in an hour was claimed"
    );

    // Higher priority first.
    let prio = vec!["test.prio".to_owned()];
    for (p, tag) in [(0, "low"), (10, "high"), (5, "mid")] {
        assert!(
            enqueue_system(
                &db,
                NewJob::untyped("test.prio", json!({ "tag": tag })).priority(p)
            )
            .await
            .unwrap()
        );
    }
    let mut order = vec![];
    for _ in 0..3 {
        let c = claim(&db, &prio, 1, &cfg).await.unwrap();
        assert_eq!(c.len(), 1);
        let payload: Value = serde_json::from_str(&c[0].payload).unwrap();
        order.push(payload["tag"].as_str().unwrap().to_owned());
    }
    assert_eq!(order, ["high", "mid", "low"]);

    // One job per idempotency key.
    assert!(
        enqueue_system(
            &db,
            NewJob::untyped("test.key", json!({ "n": 1 })).key("once-only")
        )
        .await
        .unwrap()
    );
    assert!(
        !enqueue_system(
            &db,
            NewJob::untyped("test.key", json!({ "n": 2 })).key("once-only")
        )
        .await
        .unwrap(),
        "a taken idempotency key enqueued again"
    );
    let keyed = jobs_of(&db, "test.key").await;
    assert_eq!(keyed.len(), 1);
    assert_eq!(keyed[0].idempotency_key.as_deref(), Some("once-only"));
    assert_eq!(keyed[0].payload, json!({ "n": 1 }).to_string());
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_schedules_make_one_job_per_occurrence_even_with_two_schedulers() {
    let s = quiet_server().await;
    let mut reg = Registry::default();
    reg.add(JobKind::new("test.tick", handler(|_| async { Ok(()) })));
    reg.schedule(Schedule {
        name: "tick",
        cron: "*/1 * * * * *",
        job: || NewJob::untyped("test.tick", json!({})),
    });
    let reg = Arc::new(reg);
    let db = s.server.state.db.clone().with_registry(reg.clone());

    let stop = CancellationToken::new();
    let started = Instant::now();
    let one = tokio::spawn(run_scheduler(db.clone(), reg.clone(), stop.clone()));
    let two = tokio::spawn(run_scheduler(db.clone(), reg.clone(), stop.clone()));
    // A scheduler skips occurrences it was late for, so on a loaded machine ticks may be
    // missed: wait (generously) for two distinct occurrences rather than for a set time.
    eventually("two cron occurrences", WAIT, || async {
        let ticks = jobs_of(&db, "test.tick").await;
        let mut keys: Vec<Option<String>> =
            ticks.iter().map(|t| t.idempotency_key.clone()).collect();
        keys.sort();
        keys.dedup();
        if keys.len() >= 2 { Ok(()) } else { Err(keys) }
    })
    .await;
    stop.cancel();
    one.await.unwrap();
    two.await.unwrap();
    let elapsed = started.elapsed().as_secs_f64();

    let ticks = jobs_of(&db, "test.tick").await;
    assert!(ticks.len() >= 2, "only {} jobs", ticks.len());
    let mut stamps = vec![];
    for t in &ticks {
        let key = t.idempotency_key.as_deref().expect("a cron job has a key");
        let ts: i64 = key
            .strip_prefix("cron:tick:")
            .unwrap_or_else(|| panic!("key {key}"))
            .parse()
            .unwrap_or_else(|_| panic!("key {key}"));
        stamps.push(ts);
        assert_eq!(t.state, jobs::QUEUED);
    }
    stamps.sort();
    stamps.dedup();
    assert_eq!(
        stamps.len(),
        ticks.len(),
        "an occurrence was enqueued twice"
    );
    assert!(
        (ticks.len() as f64) <= elapsed.ceil() + 1.0,
        "{} jobs in {elapsed:.1} s: two schedulers doubled occurrences",
        ticks.len()
    );
    for w in stamps.windows(2) {
        assert!(w[1] > w[0]);
    }
    s.finish().await;
}

const JOBS: &str = "{ jobs(first: 100) { edges { node {
    id kind status priority attempts maxAttempts runAt lastError createdAt updatedAt finishedAt } } } }";
const STATS: &str = "{ jobStats { status count } }";
const JOB_NODE: &str =
    "query($id: ID!) { node(id: $id) { id __typename ... on Job { kind status lastError } } }";

async fn stats(s: &TestServer, who: &Session) -> HashMap<String, i64> {
    let data = s.ok(&who.auth(), STATS, json!({})).await;
    let rows = data["jobStats"].as_array().expect("jobStats").clone();
    assert_eq!(rows.len(), 5, "one row per status: {data}");
    rows.iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap().to_owned(),
                r["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn job_list(s: &TestServer, who: &Session) -> Vec<Value> {
    nodes(&s.ok(&who.auth(), JOBS, json!({})).await["jobs"])
}

fn ids(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_admin_over_graphql_is_per_company() {
    let s = quiet_server().await;
    // Registered directly: a sign-up's confirmation mail would be each company's job too.
    let a = s.register("Jobs A Optical", "ECP", &email("ja")).await;
    let b = s.register("Jobs B Optical", "ECP", &email("jb")).await;
    let (ca, cb) = (company_uuid(&a), company_uuid(&b));

    let mut full = Registry::with_builtins();
    let failing = JobKind::new(
        "test.fail",
        handler(|_| async { Err(JobError::retry("always fails (test)")) }),
    )
    .max_attempts(1);
    full.add(failing.clone());
    let db = s.server.state.db.clone().with_registry(Arc::new(full));
    let enqueue_for = |company: Uuid, job: NewJob| {
        let db = db.clone();
        async move {
            let ctx = ils_kernel::system::act_for(&db, company, "tests.enqueue", "enqueue a job")
                .await
                .expect("a context");
            let tx = db.tenant(&ctx).await.expect("tx");
            assert!(tx.enqueue(job).await.expect("enqueue"));
            tx.commit().await.expect("commit");
        }
    };
    enqueue_for(ca, NewJob::untyped("test.fail", json!({}))).await;
    // Only the failing kind is worked on: it dies at once (one attempt).
    let mut only_fail = Registry::default();
    only_fail.add(failing);
    let only_fail = Arc::new(only_fail);
    let stop = CancellationToken::new();
    let w = spawn_workers(&db, &only_fail, worker("w", Duration::from_secs(30)), &stop);
    wait_all(&db, "test.fail", 1, jobs::DEAD).await;
    stop.cancel();
    w.await.unwrap();
    enqueue_for(ca, NewJob::untyped("noop", json!({ "n": 1 })).priority(3)).await;
    enqueue_for(ca, NewJob::untyped("noop", json!({ "n": 2 }))).await;
    enqueue_for(cb, NewJob::untyped("noop", json!({ "n": 3 }))).await;

    let sa = stats(&s, &a).await;
    assert_eq!(sa["QUEUED"], 2, "{sa:?}");
    assert_eq!(sa["DEAD"], 1, "{sa:?}");
    assert_eq!(
        sa["RUNNING"] + sa["SUCCEEDED"] + sa["DISCARDED"],
        0,
        "{sa:?}"
    );
    let sb = stats(&s, &b).await;
    assert_eq!(sb["QUEUED"], 1, "{sb:?}");
    assert_eq!(sb["DEAD"], 0, "{sb:?}");

    let la = job_list(&s, &a).await;
    let lb = job_list(&s, &b).await;
    assert_eq!(la.len(), 3, "{la:#?}");
    assert_eq!(lb.len(), 1, "{lb:#?}");
    assert!(ids(&lb).iter().all(|id| !ids(&la).contains(id)));
    let dead = la
        .iter()
        .find(|j| j["status"] == "DEAD")
        .expect("a dead job")
        .clone();
    assert_eq!(dead["kind"], "test.fail");
    assert_eq!(dead["attempts"], 1);
    assert_eq!(dead["maxAttempts"], 1);
    assert_eq!(dead["lastError"], "always fails (test)");
    assert!(dead["finishedAt"].is_string());
    let queued: Vec<&Value> = la.iter().filter(|j| j["status"] == "QUEUED").collect();
    assert_eq!(queued.len(), 2);
    assert!(
        queued
            .iter()
            .all(|j| j["kind"] == "noop" && j["attempts"] == 0)
    );
    assert!(queued.iter().any(|j| j["priority"] == 3));
    let queued_id = queued[0]["id"].clone();
    let filtered = nodes(
        &s.ok(
            &a.auth(),
            "{ jobs(filter: { statuses: [QUEUED], kind: \"noop\" }, first: 10) { edges { node { id status kind } } } }",
            json!({}),
        )
        .await["jobs"],
    );
    assert_eq!(filtered.len(), 2, "{filtered:#?}");

    // A loads its job by ID; B and nobody get null (A's STAFF: below), the platform
    // admin gets it.
    let node = s.ok(&a.auth(), JOB_NODE, json!({ "id": dead["id"] })).await;
    assert_eq!(node["node"]["__typename"], "Job", "{node}");
    assert_eq!(node["node"]["id"], dead["id"], "{node}");
    assert_eq!(node["node"]["status"], "DEAD", "{node}");
    assert_eq!(node["node"]["lastError"], "always fails (test)", "{node}");
    for who in [b.auth(), ils_tests::Auth::None] {
        let node = s.ok(&who, JOB_NODE, json!({ "id": dead["id"] })).await;
        assert_eq!(node["node"], Value::Null, "{node}");
    }

    // B cannot act on A's jobs.
    let retry =
        "mutation($id: ID!) { retryJob(input: { id: $id }) { job { id status attempts } } }";
    let discard = "mutation($id: ID!) { discardJob(input: { id: $id }) { job { id status } } }";
    assert_eq!(
        s.error_code(&b.auth(), retry, json!({ "id": dead["id"] }))
            .await,
        "NOT_FOUND"
    );
    assert_eq!(
        s.error_code(&b.auth(), discard, json!({ "id": queued_id }))
            .await,
        "NOT_FOUND"
    );
    assert_eq!(stats(&s, &a).await, sa, "B changed A's jobs");

    // A platform admin sees both companies' jobs.
    let pa = s.platform_admin().await;
    let all = ids(&job_list(&s, &pa).await);
    for id in ids(&la).iter().chain(ids(&lb).iter()) {
        assert!(all.contains(id), "the platform admin misses {id}");
    }
    let sp = stats(&s, &pa).await;
    assert!(sp["QUEUED"] >= 3 && sp["DEAD"] >= 1, "{sp:?}");
    let node = s
        .ok(&pa.auth(), JOB_NODE, json!({ "id": dead["id"] }))
        .await;
    assert_eq!(node["node"]["id"], dead["id"], "{node}");

    // A retries its dead job and discards a queued one.
    let r = s.ok(&a.auth(), retry, json!({ "id": dead["id"] })).await;
    assert_eq!(r["retryJob"]["job"]["id"], dead["id"], "{r}");
    assert_eq!(r["retryJob"]["job"]["status"], "QUEUED", "{r}");
    assert_eq!(r["retryJob"]["job"]["attempts"], 0, "{r}");
    let d = s.ok(&a.auth(), discard, json!({ "id": queued_id })).await;
    assert_eq!(d["discardJob"]["job"]["status"], "DISCARDED", "{d}");
    let sa = stats(&s, &a).await;
    assert_eq!(
        (sa["QUEUED"], sa["DEAD"], sa["DISCARDED"]),
        (2, 0, 1),
        "{sa:?}"
    );
    let (_, refused) = s.post(&a.auth(), retry, json!({ "id": queued_id })).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "only DEAD jobs can be retried: {refused}"
    );
    assert_eq!(
        refused["errors"][0]["extensions"]["field"], "input.id",
        "{refused}"
    );
    // An ID of another type is refused at `input.id` before anything is looked up.
    let (_, wrong) = s.post(&a.auth(), discard, json!({ "id": a.user_id })).await;
    assert_eq!(
        wrong["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{wrong}"
    );
    assert_eq!(
        wrong["errors"][0]["extensions"]["field"], "input.id",
        "{wrong}"
    );

    // Neither a STAFF member nor an anonymous caller sees jobs.
    let staff = staff_of(&s, &a).await;
    let node = s
        .ok(&staff.auth(), JOB_NODE, json!({ "id": dead["id"] }))
        .await;
    assert_eq!(node["node"], Value::Null, "{node}");
    assert_eq!(
        s.error_code(&staff.auth(), JOBS, json!({})).await,
        "FORBIDDEN"
    );
    assert_eq!(
        s.error_code(&staff.auth(), STATS, json!({})).await,
        "FORBIDDEN"
    );
    assert_eq!(
        s.error_code(&staff.auth(), retry, json!({ "id": dead["id"] }))
            .await,
        "FORBIDDEN"
    );
    let anon = s.error_code(&ils_tests::Auth::None, STATS, json!({})).await;
    assert!(anon == "UNAUTHENTICATED" || anon == "FORBIDDEN", "{anon}");
    s.finish().await;
}

// ---- a real process killed in the middle of a webhook delivery ----

const ILS: &str = env!("CARGO_BIN_EXE_ils-under-test");

struct Proc {
    child: tokio::process::Child,
    base: String,
    stderr: std::path::PathBuf,
}

impl Proc {
    fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

/// `ils serve` on `database_url`, with one worker and a 3 s job lease; waits until it answers.
async fn serve(dir: &tempfile::TempDir, database_url: &str, tag: &str, redis_prefix: &str) -> Proc {
    serve_with(dir, database_url, tag, redis_prefix, &[]).await
}

/// `serve`, with `vars` set too.
async fn serve_with(
    dir: &tempfile::TempDir,
    database_url: &str,
    tag: &str,
    redis_prefix: &str,
    vars: &[(&str, &str)],
) -> Proc {
    let port = ils_tests::process::free_port();
    let stderr = dir.path().join(format!("stderr-{tag}.log"));
    let mut cmd = tokio::process::Command::new(ILS);
    cmd.env_clear()
        .current_dir(dir.path())
        .arg("serve")
        .env("RUST_BACKTRACE", "1")
        .env("DATABASE_URL", database_url)
        .env("ILS_JWT_SECRET", ils_tests::JWT_SECRET)
        .env("ILS_LISTEN", format!("127.0.0.1:{port}"))
        .env("ILS_DATA_DIR", dir.path().join("data"))
        .env("ILS_SEED_DEMO", "false")
        .env("ILS_WORKERS", "1")
        .env("ILS_JOB_LEASE_SECS", "3")
        .env("ILS_JOB_POLL_MS", "200")
        .env("ILS_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("ILS_WEBHOOK_RETRY_BASE_MS", "50")
        .env("ILS_WEBHOOK_RETRY_MAX_MS", "500")
        .env("ILS_WEBHOOK_TIMEOUT_MS", "60000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .envs(vars.iter().copied())
        .kill_on_drop(true);
    if let Some(r) = ils_tests::redis_url() {
        cmd.env("REDIS_URL", r)
            .env("ILS_REDIS_PREFIX", redis_prefix);
    }
    let child = cmd.spawn().expect("ils serve started");
    let mut p = Proc {
        child,
        base: format!("http://127.0.0.1:{port}"),
        stderr,
    };
    let logs = p.stderr.clone();
    let logs = || std::fs::read_to_string(&logs).unwrap_or_default();
    ils_tests::process::wait_until_up(&mut p.child, &p.base, logs).await;
    p
}

async fn gql(base: &str, token: Option<&str>, query: &str, variables: Value) -> Value {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let body: Value = req.send().await.expect("sent").json().await.expect("JSON");
    assert!(body.get("errors").is_none(), "{query}: {body}");
    body["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_cut_off_by_a_killed_process_is_finished_by_another() {
    let dir = tempfile::tempdir().unwrap();
    let url = ils_tests::fresh_database(&dir).await;
    let prefix = format!("ils-test-{}", Uuid::new_v4().simple());
    let rx = Receiver::start().await;
    rx.hang_first(1);

    let mut first = serve(&dir, &url, "first", &prefix).await;
    let signed = ils_tests::sign_up_at(
        &first.base,
        &url,
        &dir.path().join("data/mail"),
        "Crash Optical",
        &email("crash"),
    )
    .await;
    let token = signed["accessToken"].as_str().unwrap().to_owned();
    let made = gql(
        &first.base,
        Some(&token),
        "mutation($url: String!) { createWebhookEndpoint(input: { url: $url, eventTypes: [\"api_key.*\"] }) { secret webhookEndpoint { id } } }",
        json!({ "url": rx.url("/crash") }),
    )
    .await;
    let secret = made["createWebhookEndpoint"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    gql(
        &first.base,
        Some(&token),
        "mutation { createApiKey(input: { name: \"Crash\", role: STAFF }) { secret } }",
        json!({}),
    )
    .await;

    // The first process is in the middle of the delivery (the receiver does not answer).
    let got = rx.wait_for(1, Duration::from_secs(20)).await;
    let event_id = got[0].event_id().expect("event id").to_owned();
    // A second process's worker polls beside it; while the first lives, its heartbeat
    // keeps the job's lease, which runs out twice over meanwhile: nothing is taken over.
    let second = serve(&dir, &url, "second", &prefix).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(
        rx.count(),
        1,
        "the delivery was attempted again while its first worker still ran it:\nfirst:\n{}\nsecond:\n{}",
        first.logs(),
        second.logs()
    );
    let data = gql(
        &second.base,
        Some(&token),
        "{ jobs(filter: { kind: \"webhook.deliver\" }, first: 10) { edges { node { status attempts lastError } } } }",
        json!({}),
    )
    .await;
    let running = nodes(&data["jobs"]);
    assert_eq!(running.len(), 1, "{running:#?}");
    assert_eq!(running[0]["status"], "RUNNING", "{running:#?}");
    assert_eq!(running[0]["attempts"], 1, "{running:#?}");
    assert!(running[0]["lastError"].is_null(), "cut off: {running:#?}");
    // Then the first process is killed (SIGKILL: no heartbeat any more)…
    let killed_at = std::time::Instant::now();
    first.child.kill().await.expect("SIGKILL");
    let _ = first.child.wait().await;
    let first_logs = first.logs();

    // …and the second takes the job over once the lease has run out.
    let got = rx
        .wait_until(
            Duration::from_secs(30),
            "the delivery retried by the second process",
            |r| r.len() >= 2,
        )
        .await;
    assert_eq!(got[1].event_id(), Some(event_id.as_str()));
    assert!(got[1].verifies(&secret), "{:?}", got[1].headers);
    println!(
        "taken over {:?} after the SIGKILL (lease 3 s)",
        killed_at.elapsed()
    );

    let q = "{ webhookDeliveries(first: 10) { edges { node { id eventId status attempts lastStatusCode } } } }";
    let delivery = eventually("the delivery is DELIVERED", WAIT, || async {
        let data = gql(&second.base, Some(&token), q, json!({})).await;
        let list = nodes(&data["webhookDeliveries"]);
        match list.iter().find(|d| d["status"] == "DELIVERED") {
            Some(d) => Ok(d.clone()),
            None => Err(format!(
                "{list:#?}\nfirst:\n{first_logs}\nsecond:\n{}",
                second.logs()
            )),
        }
    })
    .await;
    assert_eq!(delivery["eventId"], event_id);
    assert_eq!(delivery["lastStatusCode"], 200);
    // The job took two attempts: the killed one and the second process's. (Its status is
    // settled after the handler returns, so it may trail the delivery's.)
    let jobs = eventually("the webhook job SUCCEEDED", WAIT, || async {
        let data = gql(
            &second.base,
            Some(&token),
            "{ jobs(filter: { kind: \"webhook.deliver\" }, first: 10) { edges { node { id status attempts } } } }",
            json!({}),
        )
        .await;
        let jobs = nodes(&data["jobs"]);
        if jobs.iter().any(|j| j["status"] == "SUCCEEDED") {
            Ok(jobs)
        } else {
            Err(jobs)
        }
    })
    .await;
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    assert_eq!(jobs[0]["attempts"], 2, "{jobs:#?}");
    // The job is done, so nothing more goes out: the receiver got the cut-off request and
    // the second process's.
    assert_eq!(rx.count(), 2, "delivered once more only");
    // The delivery log counts every request sent, the killed process's one included (an
    // attempt is counted before its request leaves).
    assert_eq!(delivery["attempts"], 2, "{delivery}");
    drop(second);
    drop(rx);
    ils_tests::drop_database(&url).await;
}

/// A last attempt cut off without an outcome (its process killed mid-delivery) still leaves
/// the delivery DEAD in the log, like its job: the worker that finds the job after the
/// lease has no attempt left and runs the kind's `on_dead` hook.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_last_delivery_attempt_cut_off_by_a_killed_process_leaves_it_dead() {
    let dir = tempfile::tempdir().unwrap();
    let url = ils_tests::fresh_database(&dir).await;
    let prefix = format!("ils-test-{}", Uuid::new_v4().simple());
    let rx = Receiver::start().await;
    rx.hang_first(1);
    let once = [("ILS_WEBHOOK_MAX_ATTEMPTS", "1")];
    let mut first = serve_with(&dir, &url, "first", &prefix, &once).await;
    let signed = ils_tests::sign_up_at(
        &first.base,
        &url,
        &dir.path().join("data/mail"),
        "Cutoff Optical",
        &email("cutoff"),
    )
    .await;
    let token = signed["accessToken"].as_str().unwrap().to_owned();
    gql(
        &first.base,
        Some(&token),
        "mutation($url: String!) { createWebhookEndpoint(input: { url: $url, eventTypes: [\"api_key.*\"] }) { secret } }",
        json!({ "url": rx.url("/cutoff") }),
    )
    .await;
    gql(
        &first.base,
        Some(&token),
        "mutation { createApiKey(input: { name: \"Cutoff\", role: STAFF }) { secret } }",
        json!({}),
    )
    .await;
    rx.wait_for(1, Duration::from_secs(20)).await;
    first.child.kill().await.expect("SIGKILL");
    let _ = first.child.wait().await;

    let second = serve_with(&dir, &url, "second", &prefix, &once).await;
    let q = "{ webhookDeliveries(first: 10) { edges { node { status attempts lastError } } } }";
    let dead = eventually("the delivery is DEAD", Duration::from_secs(30), || async {
        let data = gql(&second.base, Some(&token), q, json!({})).await;
        let list = nodes(&data["webhookDeliveries"]);
        match list.iter().find(|d| d["status"] == "DEAD") {
            Some(d) => Ok(d.clone()),
            None => Err(format!("{list:#?}\nsecond:\n{}", second.logs())),
        }
    })
    .await;
    assert_eq!(dead["attempts"], 1, "{dead}");
    assert!(
        dead["lastError"]
            .as_str()
            .unwrap_or("")
            .contains("worker stopped"),
        "{dead}"
    );
    // The job is settled after its `on_dead` hook marked the delivery: it may trail.
    let jobs = eventually("the webhook job DEAD", WAIT, || async {
        let data = gql(
            &second.base,
            Some(&token),
            "{ jobs(filter: { kind: \"webhook.deliver\" }, first: 10) { edges { node { status attempts } } } }",
            json!({}),
        )
        .await;
        let jobs = nodes(&data["jobs"]);
        if jobs.len() == 1 && jobs[0]["status"] == "DEAD" {
            Ok(jobs)
        } else {
            Err(jobs)
        }
    })
    .await;
    assert_eq!(
        jobs[0]["attempts"], 2,
        "the killed attempt and the one that found it"
    );
    // Nothing more was sent: the cut-off request was the only attempt.
    assert_eq!(rx.count(), 1);
    drop(second);
    drop(rx);
    ils_tests::drop_database(&url).await;
}

/// What a batched kind's handlers saw: each call of the batch handler (the ids it was
/// given, whether it succeeded) and each job run alone.
#[derive(Default)]
struct BatchLog {
    batches: Vec<(Vec<Uuid>, bool)>,
    alone: Vec<Uuid>,
}

/// The payload of `test.batch` jobs.
#[derive(serde::Serialize, serde::Deserialize)]
struct Batched {
    poison: bool,
}

impl jobs::JobPayload for Batched {
    const KIND: &'static str = "test.batch";
}

/// A batched kind (`JobKind::batched`, batches of up to 10): a job whose payload says
/// `poison` fails for good when run alone, and fails the batch it is in.
fn batched_kind(name: &'static str, log: &Arc<Mutex<BatchLog>>) -> JobKind {
    let poisoned = |run: &JobRun| run.payload::<Batched>().is_ok_and(|p| p.poison);
    let (one, many) = (log.clone(), log.clone());
    JobKind::new(
        name,
        handler(move |run: JobRun| {
            let log = one.clone();
            async move {
                log.lock().unwrap().alone.push(run.id);
                if poisoned(&run) {
                    return Err(JobError::permanent("poisoned"));
                }
                Ok(())
            }
        }),
    )
    .batched(
        10,
        Duration::from_millis(300),
        jobs::batch_handler(move |runs: Vec<JobRun>| {
            let log = many.clone();
            async move {
                let ok = !runs.iter().any(poisoned);
                let ids = runs.iter().map(|r| r.id).collect();
                log.lock().unwrap().batches.push((ids, ok));
                if ok {
                    Ok(())
                } else {
                    Err(JobError::retry("a poisoned job in the batch"))
                }
            }
        }),
    )
}

/// A batched kind's due jobs are handled together, up to its batch size, a backlog at once;
/// a batch that fails is split, so that the one job that cannot succeed dies alone and the
/// others succeed in the same attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batched_kind_takes_its_due_jobs_together_and_a_failing_batch_splits() {
    let s = quiet_server().await;
    let log: Arc<Mutex<BatchLog>> = Arc::default();
    let mut reg = Registry::default();
    reg.add(batched_kind("test.batch", &log));
    let reg = Arc::new(reg);
    let db = s.server.state.db.clone().with_registry(reg.clone());

    // Seven jobs due before any worker runs: one call of the batch handler takes them all.
    for _ in 0..7 {
        enqueue_system(&db, NewJob::of(&Batched { poison: false }))
            .await
            .unwrap();
    }
    let stop = CancellationToken::new();
    let running = spawn_workers(&db, &reg, worker("batcher", Duration::from_secs(60)), &stop);
    let first = wait_all(&db, "test.batch", 7, "SUCCEEDED").await;
    stop.cancel();
    running.await.unwrap();
    {
        let log = log.lock().unwrap();
        assert_eq!(log.batches.len(), 1, "one call for seven due jobs");
        let mut ids = log.batches[0].0.clone();
        ids.sort();
        let mut expected: Vec<Uuid> = first.iter().map(|j| j.id).collect();
        expected.sort();
        assert_eq!(ids, expected);
        assert!(log.alone.is_empty(), "no job was run alone");
    }
    *log.lock().unwrap() = BatchLog::default();

    // Twelve more, the oldest poisoned: a full batch of ten (the poisoned one in it) and,
    // at once since that batch was full, one of two. The failed batch's jobs are run
    // alone: nine succeed, the poisoned one is dead.
    let poison = NewJob::of(&Batched { poison: true })
        .run_at(chrono::Utc::now() - chrono::Duration::seconds(5));
    enqueue_system(&db, poison).await.unwrap();
    for _ in 0..11 {
        enqueue_system(&db, NewJob::of(&Batched { poison: false }))
            .await
            .unwrap();
    }
    let stop = CancellationToken::new();
    let running = spawn_workers(&db, &reg, worker("batcher", Duration::from_secs(60)), &stop);
    let all = eventually("the second round settled", WAIT, || async {
        let rows = jobs_of(&db, "test.batch").await;
        let settled = rows
            .iter()
            .filter(|j| j.state == "SUCCEEDED" || j.state == "DEAD")
            .count();
        if settled == 19 {
            Ok(rows)
        } else {
            Err(settled)
        }
    })
    .await;
    stop.cancel();
    running.await.unwrap();
    let dead: Vec<&job::Model> = all.iter().filter(|j| j.state == "DEAD").collect();
    assert_eq!(dead.len(), 1, "{all:#?}");
    assert!(
        dead[0].payload.contains(r#""poison":true"#),
        "{:?}",
        dead[0].payload
    );
    assert_eq!(dead[0].last_error.as_deref(), Some("poisoned"));
    {
        let log = log.lock().unwrap();
        let mut sizes: Vec<(usize, bool)> = log
            .batches
            .iter()
            .map(|(ids, ok)| (ids.len(), *ok))
            .collect();
        sizes.sort();
        assert_eq!(sizes, vec![(2, true), (10, false)], "{sizes:?}");
        let failed: &Vec<Uuid> = &log.batches.iter().find(|(_, ok)| !ok).unwrap().0;
        assert!(failed.contains(&dead[0].id));
        let mut alone = log.alone.clone();
        alone.sort();
        let mut failed = failed.clone();
        failed.sort();
        assert_eq!(
            alone, failed,
            "each job of the failed batch was run alone, once"
        );
    }
    s.finish().await;
}
