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

/// `ils bench-catalog-import`: a supplier's CSV catalog of `rows` rows (frames, lenses,
/// contact lenses and sundries, every row valid) imported by the real job on the
/// configured database, timed from the upload to COMPLETED; then the same file again,
/// which must change nothing; then the file with every price changed (every row an update). A benchmark, not a test: release mode, a throwaway database.
pub async fn catalog_import(config: Config, rows: usize) -> anyhow::Result<()> {
    use ils_entity::catalog_import;
    use ils_kernel::{Actor, Role, TenantContext};
    use ils_tenancy::model::CompanyType;
    use ils_tenancy::service::auth::{SignUp, sign_up};
    let err = |e: ils_kernel::AppError| anyhow::anyhow!("{e:?}");
    let (state, _) = server::build(Config {
        seed_demo: false,
        ..config
    })
    .await?;
    let db = state.db.clone();
    let run = uuid::Uuid::now_v7().simple().to_string();
    let session = sign_up(
        &db,
        &state.tokens,
        SignUp {
            company_name: format!("Bench Supplies {run}"),
            company_type: CompanyType::Supplier,
            email: format!("bench-{run}@bench.example"),
            password: "bench-catalog-import-2026".into(),
            first_name: "Bench".into(),
            last_name: "Mark".into(),
        },
    )
    .await
    .map_err(err)?;
    let ctx = TenantContext {
        company_id: session.user.company_id,
        actor: Actor::User(session.user.id),
        roles: vec![Role::CompanyAdmin],
        platform_admin: false,
        persisted_only: false,
    };
    let passes = [
        ("first import", bench_csv(rows, 0)),
        ("same file again", bench_csv(rows, 0)),
        ("every price changed", bench_csv(rows, 1)),
    ];
    let files = state.config.files()?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let tracker = server::start_background(&state, &shutdown).await;
    for (pass, csv) in passes {
        let started = Instant::now();
        let queued = ils_marketplace::catalog::import::start(
            &db,
            &ctx,
            &files,
            "bench.csv".into(),
            bytes::Bytes::from(csv),
        )
        .await
        .map_err(err)?;
        let done: catalog_import::Model = loop {
            let tx = db.tenant(&ctx).await.map_err(err)?;
            let row = tx
                .get::<catalog_import::Entity>(queued.id)
                .await
                .map_err(err)?;
            tx.commit().await.map_err(err)?;
            if row.finished_at.is_some() {
                break row;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{pass}: {rows} rows in {secs:.2} s ({:.0} rows/s): {} created, {} updated, {} unchanged, {} failed, status {}",
            rows as f64 / secs,
            done.created_count,
            done.updated_count,
            done.unchanged_count,
            done.error_count,
            done.status,
        );
    }
    shutdown.cancel();
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(10), tracker.wait()).await;
    Ok(())
}

/// A realistic catalog: a quarter each frames, spectacle lenses, contact lenses, sundries.
/// `shift` moves every price by that many pounds.
fn bench_csv(rows: usize, shift: usize) -> Vec<u8> {
    let mut out = String::from(
        "sku,name,brand,category,price,currency,min_order_quantity,lead_time_days,model,colour,eye_size,bridge,temple_length,design,index,treatments,sphere_min,sphere_max,base_curve,cl_diameter,power,pack_size\n",
    );
    for i in 0..rows {
        let price = format!("{}.{:02}", 5 + shift + i % 90, i % 100);
        let line = match i % 4 {
            0 => format!(
                "FR-{i:06},Frame {i},Northwind,FRAME,{price},GBP,1,2,M{},Black,{},18,140,,,,,,,,,\n",
                i % 50,
                48 + i % 10
            ),
            1 => format!(
                "SL-{i:06},Lens {i},Clearview,SPECTACLE_LENS,{price},GBP,2,3,,,,,,PROGRESSIVE,1.67,ANTI_REFLECTIVE|HARD_COAT,-8.00,6.00,,,,\n"
            ),
            2 => format!(
                "CL-{i:06},Daily {i},Northwind,CONTACT_LENS,{price},GBP,1,1,,,,,,,,,,,8.6,14.2,-{}.{:02},30\n",
                i % 10,
                (i % 4) * 25
            ),
            _ => format!("SU-{i:06},Cloth {i},Northwind,SUNDRY,{price},GBP,10,1,,,,,,,,,,,,,,\n"),
        };
        out.push_str(&line);
    }
    out.into_bytes()
}
