//! `ils bench-jobs`: job-queue throughput on the configured database. It enqueues no-op
//! jobs (in batches, as a busy server would), then runs the real workers until every one
//! has succeeded and reports jobs per second. A benchmark, not a test: run it on an idle
//! machine, in release mode, against a throwaway database.

use crate::config::Config;
use crate::server;
use ils_kernel::jobs::{NOOP, NewJob, WorkerConfig, run_workers};
use std::time::{Duration, Instant};

pub async fn jobs(config: Config, count: usize, batch: usize) -> anyhow::Result<()> {
    let workers = config.workers.max(1);
    let (state, counter) = server::build(Config {
        seed_demo: false,
        ..config
    })
    .await?;
    let db = state.db.clone();
    let run = uuid::Uuid::now_v7().simple().to_string();
    let started = Instant::now();
    let mut enqueued = 0usize;
    while enqueued < count {
        let n = batch.max(1).min(count - enqueued);
        ils_kernel::jobs::enqueue_system_many(
            &db,
            (0..n).map(|i| {
                NewJob::new(NOOP, serde_json::json!({}))
                    .key(format!("bench:{run}:{}", enqueued + i))
            }),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        enqueued += n;
    }
    let enqueue_secs = started.elapsed().as_secs_f64();
    ils_kernel::jobs::analyze(&db)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let statements_before = counter.get();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let cfg = WorkerConfig {
        concurrency: workers,
        poll: Duration::from_millis(50),
        ..WorkerConfig::default()
    };
    let started = Instant::now();
    let handle = tokio::spawn(run_workers(
        db.clone(),
        state.registry.clone(),
        state.resources.clone(),
        cfg,
        shutdown.clone(),
    ));
    // Progress: the no-op jobs still queued or running (this bench's and any left over).
    loop {
        let left = ils_kernel::jobs::count_unfinished(&db, NOOP)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let statements = counter.get() - statements_before;
    shutdown.cancel();
    let _ = handle.await;
    println!(
        "enqueued {count} jobs in {enqueue_secs:.2} s ({:.0}/s, {batch} per transaction)",
        count as f64 / enqueue_secs
    );
    println!(
        "ran {count} no-op jobs in {secs:.2} s: {:.0} jobs/s with {workers} slots ({statements} SQL statements, {:.2} per job, progress polling included)",
        count as f64 / secs,
        statements as f64 / count as f64
    );
    Ok(())
}
