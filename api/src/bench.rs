//! `ils bench-jobs`: job-queue throughput on the configured database. It enqueues no-op
//! jobs (in batches, as a busy server would), then runs the real workers until every one
//! has succeeded and reports jobs per second. A benchmark, not a test: run it on an idle
//! machine, in release mode, against a throwaway database.

use crate::config::Config;
use crate::server;
use ils_kernel::jobs::{NewJob, WorkerConfig, run_workers};
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
                NewJob::of(&ils_kernel::jobs::Noop {}).key(format!("bench:{run}:{}", enqueued + i))
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
        let left = ils_kernel::jobs::count_unfinished(&db, ils_kernel::jobs::NOOP)
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
    use ils_entity::data_import;
    use ils_tenancy::model::CompanyType;
    let err = |e: ils_kernel::AppError| anyhow::anyhow!("{e:?}");
    let (state, _) = server::build(Config {
        seed_demo: false,
        ..config
    })
    .await?;
    let db = state.db.clone();
    let (ctx, _) = bench_company(&state, "Bench Supplies", CompanyType::Supplier).await?;
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
        let queued = ils_marketplace::imports::start::<ils_marketplace::service::import::Catalog>(
            &db,
            &ctx,
            &files,
            "bench.csv".into(),
            bytes::Bytes::from(csv),
        )
        .await
        .map_err(err)?;
        let done: data_import::Model = loop {
            let tx = db.tenant(&ctx).await.map_err(err)?;
            let row = tx
                .get::<data_import::Entity>(queued.id)
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
            done.status.as_str(),
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

/// `ils bench-inventory`: one practice with `products` products and `rows` stock ledger
/// lines (with their balances, bulk-written below the guard as a migration would), then
/// two measurements through the real GraphQL schema (in process, no HTTP): a page of 50
/// `stockLevels` with product and location, and `postStockMovement` (a sale or a receipt
/// on a random product). Reports p50, p95 and p99 of each. A benchmark, not a test: run it
/// in release mode against a throwaway database, on an idle machine.
#[allow(clippy::disallowed_methods)] // the seed is written below the guard, as a migration would
pub async fn inventory(
    config: Config,
    rows: usize,
    products: usize,
    samples: usize,
) -> anyhow::Result<()> {
    use ils_entity::{product, stock_balance, stock_location, stock_movement};
    use ils_tenancy::model::CompanyType;
    use sea_orm::ActiveValue::Set;
    let err = |e: ils_kernel::AppError| anyhow::anyhow!("{e:?}");
    let products = products.max(1);
    let (state, counter) = server::build(Config {
        seed_demo: false,
        ..config
    })
    .await?;
    let db = state.db.clone();
    let (ctx, company) = bench_company(&state, "Bench Optics", CompanyType::Ecp).await?;
    // The seed: products, one location, the ledger and its balances.
    let started = Instant::now();
    let now = chrono::Utc::now();
    let location = uuid::Uuid::now_v7();
    let product_ids: Vec<uuid::Uuid> = (0..products).map(|_| uuid::Uuid::now_v7()).collect();
    {
        let tx = db.system().await.map_err(err)?;
        tx.insert_many::<stock_location::Entity, _>(vec![stock_location::ActiveModel {
            id: Set(location),
            company_id: Set(company),
            name: Set("Main".into()),
            is_default: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
        }])
        .await
        .map_err(err)?;
        for chunk in product_ids.chunks(1000) {
            tx.insert_many::<product::Entity, _>(
                chunk
                    .iter()
                    .enumerate()
                    .map(|(i, id)| product::ActiveModel {
                        id: Set(*id),
                        company_id: Set(company),
                        sku: Set(format!("SKU-{}", id.simple())),
                        gtin: Set(None),
                        name: Set(format!("Product {i}")),
                        brand: Set(None),
                        category: Set("SUNDRY".into()),
                        attributes: Set("{}".into()),
                        cost_units: Set(Some(10_000)),
                        price_units: Set(Some(25_000)),
                        currency: Set("GBP".into()),
                        reorder_point: Set(Some(5)),
                        min_quantity: Set(None),
                        max_quantity: Set(None),
                        lead_time_days: Set(Some(7)),
                        safety_stock: Set(None),
                        supplier_item_id: Set(None),
                        supplier_company_id: Set(None),
                        active: Set(true),
                        search_text: Set(format!("product {i}")),
                        created_at: Set(now),
                        updated_at: Set(now),
                    })
                    .collect(),
            )
            .await
            .map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
    }
    // Each product's ledger: a receipt of 1,000,000 then sales of 1 (on hand stays high).
    let mut on_hand: Vec<i64> = vec![0; products];
    let batch = 3_000; // 15 columns a line: under PostgreSQL's 65,535 parameters
    let mut written = 0usize;
    while written < rows {
        let tx = db.system().await.map_err(err)?;
        let n = batch.min(rows - written);
        let lines: Vec<stock_movement::ActiveModel> = (written..written + n)
            .map(|i| {
                let p = i % products;
                let first = i < products;
                let q: i64 = if first { 1_000_000 } else { -1 };
                on_hand[p] += q;
                stock_movement::ActiveModel {
                    id: Set(uuid::Uuid::now_v7()),
                    company_id: Set(company),
                    location_id: Set(location),
                    product_id: Set(product_ids[p]),
                    kind: Set(if first { "RECEIPT" } else { "SALE" }.into()),
                    quantity: Set(q),
                    reserved_delta: Set(0),
                    unit_cost: Set(first.then_some(10_000)),
                    on_hand_after: Set(on_hand[p]),
                    avg_cost_after: Set(10_000),
                    transfer_id: Set(None),
                    reference: Set(None),
                    note: Set(None),
                    actor_user_id: Set(None),
                    created_at: Set(now),
                }
            })
            .collect();
        tx.insert_many::<stock_movement::Entity, _>(lines)
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        written += n;
    }
    {
        let tx = db.system().await.map_err(err)?;
        let balances: Vec<stock_balance::ActiveModel> = product_ids
            .iter()
            .zip(&on_hand)
            .filter(|(_, q)| **q != 0)
            .map(|(p, q)| stock_balance::ActiveModel {
                id: Set(uuid::Uuid::now_v7()),
                company_id: Set(company),
                location_id: Set(location),
                product_id: Set(*p),
                on_hand: Set(*q),
                reserved: Set(0),
                avg_cost: Set(10_000),
                low: Set(false),
                updated_at: Set(now),
            })
            .collect();
        for chunk in balances.chunks(1000) {
            tx.insert_many::<stock_balance::Entity, _>(chunk.to_vec())
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
    }
    if db.backend() == sea_orm::DbBackend::Postgres {
        use sea_orm::ConnectionTrait;
        let tx = db.system().await.map_err(err)?;
        tx.conn()
            .execute_unprepared("ANALYZE stock_movements; ANALYZE stock_balances; ANALYZE products")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        tx.commit().await.map_err(err)?;
    }
    println!(
        "seeded {rows} ledger lines over {products} products in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let run_op = |query: String, vars: serde_json::Value| {
        let schema = state.schema.clone();
        let ctx = ctx.clone();
        async move {
            let req = async_graphql::Request::new(query)
                .variables(async_graphql::Variables::from_json(vars))
                .data(ctx)
                .data(ils_kernel::ClientInfo::default());
            let started = Instant::now();
            let res = schema.execute(req).await;
            let took = started.elapsed();
            if !res.errors.is_empty() {
                anyhow::bail!("{:?}", res.errors);
            }
            Ok::<Duration, anyhow::Error>(took)
        }
    };
    let report = |what: &str, mut times: Vec<Duration>, statements: u64| {
        times.sort();
        let at =
            |p: f64| times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1];
        println!(
            "{what}: {} samples, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, {:.1} SQL statements each",
            times.len(),
            at(0.50).as_secs_f64() * 1000.0,
            at(0.95).as_secs_f64() * 1000.0,
            at(0.99).as_secs_f64() * 1000.0,
            statements as f64 / times.len() as f64,
        );
    };
    let page = "query($after: String) { stockLevels(first: 50, after: $after) { pageInfo { endCursor hasNextPage } \
                edges { node { onHand reserved available averageCost { amount currency } value { amount currency } low product { sku name } location { name } } } } }"
        .to_owned();
    // Warm up, then walk pages (starting over at the end).
    for _ in 0..20 {
        run_op(page.clone(), serde_json::json!({})).await?;
    }
    let mut times = Vec::with_capacity(samples);
    let before = counter.get();
    for _ in 0..samples {
        times.push(run_op(page.clone(), serde_json::json!({})).await?);
    }
    report("stockLevels page of 50", times, counter.get() - before);

    let post = "mutation($i: PostStockMovementInput!) { postStockMovement(input: $i) { stockMovement { id onHandAfter } } }"
        .to_owned();
    let gid = |p: uuid::Uuid| ils_kernel::id::encode(ils_inventory::model::PRODUCT, p).to_string();
    for i in 0..20 {
        let vars = serde_json::json!({ "i": { "productId": gid(product_ids[i % products]), "kind": "SALE", "quantity": 1 } });
        run_op(post.clone(), vars).await?;
    }
    let mut times = Vec::with_capacity(samples);
    let before = counter.get();
    for i in 0..samples {
        let p = product_ids[(i * 7919) % products];
        let vars = if i % 5 == 0 {
            serde_json::json!({ "i": { "productId": gid(p), "kind": "RECEIPT", "quantity": 10, "unitCost": { "amount": "1.00", "currency": "GBP" } } })
        } else {
            serde_json::json!({ "i": { "productId": gid(p), "kind": "SALE", "quantity": 1 } })
        };
        times.push(run_op(post.clone(), vars).await?);
    }
    report("postStockMovement", times, counter.get() - before);
    Ok(())
}

/// A new company of `kind` for one benchmark run, and its admin's context.
async fn bench_company(
    state: &crate::state::AppState,
    name: &str,
    kind: ils_tenancy::model::CompanyType,
) -> anyhow::Result<(ils_kernel::TenantContext, uuid::Uuid)> {
    use ils_kernel::{Role, TenantContext};
    use ils_tenancy::service::auth::{SignUp, sign_up};
    let run = uuid::Uuid::now_v7().simple().to_string();
    let session = sign_up(
        &state.db,
        &state.tokens,
        SignUp {
            company_name: format!("{name} {run}"),
            company_type: kind,
            email: format!("bench-{run}@bench.example"),
            password: format!("bench-{run}"),
            first_name: "Bench".into(),
            last_name: "Mark".into(),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let company = session
        .user
        .company_id
        .ok_or_else(|| anyhow::anyhow!("a bench company"))?;
    #[allow(clippy::disallowed_methods)] // the bench acts as the admin it just signed up
    let ctx = TenantContext::for_user(
        Some(company),
        session.user.id,
        vec![Role::CompanyAdmin],
        false,
    );
    Ok((ctx, company))
}
