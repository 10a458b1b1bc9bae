//! The benchmark commands. `ils bench-jobs`: job-queue throughput on the configured
//! database. It enqueues no-op jobs (in batches, as a busy server would), then runs the
//! real workers until every one has succeeded and reports jobs per second. A benchmark,
//! not a test: run it on an idle machine, in release mode, against a throwaway database.
//! `ils bench-catalog-import` and `ils bench-inventory` measure one feature each, and
//! `ils bench-seed` writes the load benchmark's data set (`bench/run`).

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
    // The demand history the sales make (all of today), as posting them would keep it.
    for (c, chunk) in product_ids.chunks(5_000).enumerate() {
        let tx = db.system().await.map_err(err)?;
        let days: Vec<ils_entity::demand_daily::ActiveModel> = chunk
            .iter()
            .zip(&on_hand[c * 5_000..])
            .filter(|(_, q)| **q > 0 && **q < 1_000_000)
            .map(|(p, q)| ils_entity::demand_daily::ActiveModel {
                id: Set(uuid::Uuid::now_v7()),
                company_id: Set(company),
                product_id: Set(*p),
                location_id: Set(location),
                day: Set(now.date_naive()),
                units: Set(1_000_000 - q),
            })
            .collect();
        tx.insert_many::<ils_entity::demand_daily::Entity, _>(days)
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
    }
    {
        let tx = db.system().await.map_err(err)?;
        let balances: Vec<stock_balance::ActiveModel> = product_ids
            .iter()
            .zip(&on_hand)
            .filter(|(_, q)| **q != 0)
            .map(|(p, q)| stock_balance::ActiveModel {
                spike: Set(false),
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
    report(
        "stockLevels page of 50",
        times,
        Some(counter.get() - before),
    );

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
    report("postStockMovement", times, Some(counter.get() - before));
    Ok(())
}

/// What `ils bench-agent` seeds.
pub struct AgentShape {
    pub products: usize,
    pub suppliers: usize,
    pub days: usize,
    pub email: String,
    pub password: String,
    pub ids: Option<std::path::PathBuf>,
}

/// A small deterministic generator (splitmix64), so every run seeds the same history.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A Poisson draw of mean `rate` (Knuth's method; the rates here are small).
    fn poisson(&mut self, rate: f64) -> i64 {
        let limit = (-rate).exp();
        let mut k = 0;
        let mut p = self.unit();
        while p > limit {
            k += 1;
            p *= self.unit();
        }
        k
    }
}

/// `ils bench-agent`: one practice with `products` products bought from `suppliers`
/// ACTIVELY connected suppliers (an item each, 14 days' lead time, at least 5, in fives),
/// `days` days of sales history per product (daily sales drawn from a Poisson law of a
/// rate between 0.05 and 5 a day, log-uniform across products, with a weekly pattern:
/// fast and intermittent sellers alike), and stock of 3 to 60 days of its rate, all
/// written below the guard as a migration would; then the purchasing agent twice, as
/// the nightly job runs it (the first drafts, the second finds its drafts already say
/// what is needed). Reports each run's time, SQL statements, drafts and lines.
#[allow(clippy::disallowed_methods)] // the seed is written below the guard, as a migration would
pub async fn agent(config: Config, shape: AgentShape) -> anyhow::Result<()> {
    use ils_entity::{catalog_item, company, demand_daily, product, stock_balance};
    use ils_entity::{stock_location, trade_connection};
    use ils_tenancy::model::{CompanyStatus, CompanyType};
    use ils_tenancy::service::auth::{SignUp, register};
    use sea_orm::ActiveValue::Set;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, ConnectionTrait};
    let err = |e: ils_kernel::AppError| anyhow::anyhow!("{e:?}");
    let products = shape.products.max(1);
    let suppliers = shape.suppliers.clamp(1, products);
    let (state, counter) = server::build(Config {
        seed_demo: false,
        ..config
    })
    .await?;
    let db = state.db.clone();
    let started = Instant::now();
    let sign_up = |name: String, kind: CompanyType, email: String| SignUp {
        company_name: name,
        company_type: kind,
        email,
        password: shape.password.clone(),
        first_name: "Bench".into(),
        last_name: "Mark".into(),
    };
    let practice = register(
        &db,
        &state.tokens,
        sign_up(
            "Agent Bench Optics".into(),
            CompanyType::Ecp,
            shape.email.clone(),
        ),
    )
    .await
    .map_err(err)?
    .user
    .company_id
    .ok_or_else(|| anyhow::anyhow!("a practice"))?;
    let mut supplier_ids = Vec::with_capacity(suppliers);
    for i in 1..=suppliers {
        let s = register(
            &db,
            &state.tokens,
            sign_up(
                format!("Agent Bench Supplier {i}"),
                CompanyType::Supplier,
                format!("supplier-{i}-{}", shape.email),
            ),
        )
        .await
        .map_err(err)?;
        supplier_ids.push(
            s.user
                .company_id
                .ok_or_else(|| anyhow::anyhow!("a supplier"))?,
        );
    }
    let now = chrono::Utc::now();
    let today = now.date_naive();
    let mut mix = Mix(0x11_5EED);
    // Per product: its supplier, item, rate and stock.
    let rates: Vec<f64> = (0..products)
        .map(|_| (0.05f64.ln() + mix.unit() * (5.0f64.ln() - 0.05f64.ln())).exp())
        .collect();
    let item_ids: Vec<uuid::Uuid> = (0..products).map(|_| uuid::Uuid::now_v7()).collect();
    let product_ids: Vec<uuid::Uuid> = (0..products).map(|_| uuid::Uuid::now_v7()).collect();
    let supplier_of = |i: usize| supplier_ids[i % suppliers];
    let location = uuid::Uuid::now_v7();
    {
        let tx = db.system().await.map_err(err)?;
        tx.update_many::<company::Entity>(
            vec![(company::Column::Status, Expr::value(CompanyStatus::Active))],
            company::Column::Id.is_in(supplier_ids.clone()),
        )
        .await
        .map_err(err)?;
        tx.insert_many::<trade_connection::Entity, _>(
            supplier_ids
                .iter()
                .enumerate()
                .map(|(i, s)| trade_connection::ActiveModel {
                    id: Set(uuid::Uuid::now_v7()),
                    requester_company_id: Set(practice),
                    responder_company_id: Set(*s),
                    requester_name: Set("Agent Bench Optics".into()),
                    requester_type: Set(CompanyType::Ecp.as_str().into()),
                    responder_name: Set(format!("Agent Bench Supplier {}", i + 1)),
                    responder_type: Set(CompanyType::Supplier.as_str().into()),
                    pair_key: Set(ils_kernel::connections::pair_key(practice, *s)),
                    state: Set(trade_connection::ConnectionStatus::Active),
                    message: Set(None),
                    requested_by: Set(None),
                    responded_at: Set(Some(now)),
                    ended_at: Set(None),
                    ended_by_company_id: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                })
                .collect(),
        )
        .await
        .map_err(err)?;
        tx.insert_many::<stock_location::Entity, _>(vec![stock_location::ActiveModel {
            id: Set(location),
            company_id: Set(practice),
            name: Set("Main".into()),
            is_default: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
        }])
        .await
        .map_err(err)?;
        for chunk in (0..products).collect::<Vec<_>>().chunks(1_000) {
            tx.insert_many::<catalog_item::Entity, _>(
                chunk
                    .iter()
                    .map(|&i| catalog_item::ActiveModel {
                        id: Set(item_ids[i]),
                        company_id: Set(supplier_of(i)),
                        sku: Set(format!("ITEM-{i:05}")),
                        gtin: Set(None),
                        name: Set(format!("Item {i}")),
                        brand: Set(None),
                        category: Set("SUNDRY".into()),
                        price_units: Set(50_000),
                        currency: Set("GBP".into()),
                        min_order_quantity: Set(5),
                        lead_time_days: Set(14),
                        order_multiple: Set(5),
                        active: Set(true),
                        attributes: Set("{}".into()),
                        search_text: Set(format!("item-{i:05} item {i}")),
                        created_at: Set(now),
                        updated_at: Set(now),
                    })
                    .collect(),
            )
            .await
            .map_err(err)?;
            tx.insert_many::<product::Entity, _>(
                chunk
                    .iter()
                    .map(|&i| product::ActiveModel {
                        id: Set(product_ids[i]),
                        company_id: Set(practice),
                        sku: Set(format!("ITEM-{i:05}")),
                        gtin: Set(None),
                        name: Set(format!("Item {i}")),
                        brand: Set(None),
                        category: Set("SUNDRY".into()),
                        attributes: Set("{}".into()),
                        cost_units: Set(Some(50_000)),
                        price_units: Set(Some(120_000)),
                        currency: Set("GBP".into()),
                        reorder_point: Set(None),
                        min_quantity: Set(None),
                        max_quantity: Set(None),
                        lead_time_days: Set(None),
                        safety_stock: Set(None),
                        supplier_item_id: Set(Some(item_ids[i])),
                        supplier_company_id: Set(Some(supplier_of(i))),
                        active: Set(true),
                        search_text: Set(format!("item-{i:05} item {i}")),
                        created_at: Set(now - chrono::Duration::days(shape.days as i64 + 1)),
                        updated_at: Set(now),
                    })
                    .collect(),
            )
            .await
            .map_err(err)?;
        }
        let balances: Vec<stock_balance::ActiveModel> = (0..products)
            .map(|i| stock_balance::ActiveModel {
                id: Set(uuid::Uuid::now_v7()),
                company_id: Set(practice),
                location_id: Set(location),
                product_id: Set(product_ids[i]),
                on_hand: Set((rates[i] * (3.0 + 57.0 * mix.unit())).round() as i64),
                reserved: Set(0),
                avg_cost: Set(50_000),
                low: Set(false),
                spike: Set(false),
                updated_at: Set(now),
            })
            .collect();
        for chunk in balances.chunks(1_000) {
            tx.insert_many::<stock_balance::Entity, _>(chunk.to_vec())
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
    }
    // The history: a batch of days per statement, a few statements per transaction.
    const WEEK: [f64; 7] = [1.1, 1.0, 1.0, 1.1, 1.4, 0.9, 0.5];
    let mut rows = 0usize;
    let mut batch: Vec<demand_daily::ActiveModel> = Vec::with_capacity(5_000);
    let mut tx = db.system().await.map_err(err)?;
    let mut in_tx = 0usize;
    for i in 0..products {
        for back in 1..=shape.days {
            let day = today - chrono::Duration::days(back as i64);
            let weekday = chrono::Datelike::weekday(&day).num_days_from_monday() as usize;
            let units = mix.poisson(rates[i] * WEEK[weekday]);
            if units == 0 {
                continue;
            }
            batch.push(demand_daily::ActiveModel {
                id: Set(uuid::Uuid::now_v7()),
                company_id: Set(practice),
                product_id: Set(product_ids[i]),
                location_id: Set(location),
                day: Set(day),
                units: Set(units),
            });
            if batch.len() == 5_000 {
                rows += batch.len();
                tx.insert_many::<demand_daily::Entity, _>(std::mem::take(&mut batch))
                    .await
                    .map_err(err)?;
                in_tx += 1;
                if in_tx == 20 {
                    tx.commit().await.map_err(err)?;
                    tx = db.system().await.map_err(err)?;
                    in_tx = 0;
                }
            }
        }
    }
    rows += batch.len();
    if !batch.is_empty() {
        tx.insert_many::<demand_daily::Entity, _>(batch)
            .await
            .map_err(err)?;
    }
    tx.commit().await.map_err(err)?;
    if db.backend() == sea_orm::DbBackend::Postgres {
        let tx = db.system().await.map_err(err)?;
        tx.conn()
            .execute_unprepared(
                "ANALYZE demand_daily; ANALYZE products; ANALYZE catalog_items; ANALYZE stock_balances",
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        tx.commit().await.map_err(err)?;
    }
    println!(
        "seeded {products} products from {suppliers} suppliers with {} days of history ({rows} days sold) in {:.1} s",
        shape.days,
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &shape.ids {
        let gids: Vec<String> = product_ids
            .iter()
            .map(|p| ils_kernel::id::encode(ils_inventory::model::PRODUCT, *p).to_string())
            .collect();
        std::fs::write(path, gids.join("\n") + "\n")?;
    }
    for (run, what) in [(1, "drafts"), (2, "finds its drafts current")] {
        let before = counter.get();
        let t = Instant::now();
        let done = ils_inventory::service::agent::run_for(&db, practice, "benchmark")
            .await
            .map_err(err)?;
        let took = t.elapsed();
        let lines: usize = done.drafts.iter().map(|d| d.lines.len()).sum();
        println!(
            "agent run {run} ({what}): {:.2} s, {} SQL statements; {} products considered, {} drafts with {lines} lines, {} unchanged, {} skipped",
            took.as_secs_f64(),
            counter.get() - before,
            done.considered,
            done.drafts.len(),
            done.unchanged,
            done.skipped.len(),
        );
    }
    Ok(())
}

/// A new company of `kind` for one benchmark run, and its admin's context.
async fn bench_company(
    state: &crate::state::AppState,
    name: &str,
    kind: ils_tenancy::model::CompanyType,
) -> anyhow::Result<(ils_kernel::TenantContext, uuid::Uuid)> {
    use ils_kernel::{Role, TenantContext};
    use ils_tenancy::service::auth::{SignUp, register};
    let run = uuid::Uuid::now_v7().simple().to_string();
    let session = register(
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

/// What `ils bench-seed` writes: the load benchmark's data set (`bench/run`), the shape of
/// the peer's (`bench/peer/dataset.sql`) in ILS's own schema.
pub struct SeedShape {
    pub practices: usize,
    pub labs: usize,
    pub suppliers: usize,
    pub orders_per_practice: usize,
    /// Every seeded admin's password.
    pub password: String,
}

/// The seeded admins' password unless `--password` says otherwise (a benchmark's
/// throwaway database only).
pub const SEED_PASSWORD: &str = "bench-password-2026";

/// The statuses the seeded orders cycle through (the peer's: order `g` of a practice is
/// `STATUSES[g % 5]`), with the version each has reached through the real workflow.
const SEED_STATUSES: [(&str, i32); 5] = [
    ("SUBMITTED", 2),
    ("RECEIVED", 3),
    ("IN_PRODUCTION", 4),
    ("SHIPPED", 6),
    ("DELIVERED", 8),
];

/// The peer's spheres (-2.25 to -1.25 in quarter steps, each eye its own).
const SEED_SPHERES: [&str; 5] = ["-2.25", "-2.00", "-1.75", "-1.50", "-1.25"];

/// The job columns of the seeded orders, written by the same serde types the orders
/// service writes them with: every right/left pair of `SEED_SPHERES` (cylinder -0.75,
/// axis 90, add +2.00, as the peer's lines), and one progressive lens, frame and fit.
struct SeedJob {
    /// (rx, rx_minus_cyl) per sphere pair.
    rx: Vec<(String, String)>,
    lens: String,
    frame: String,
    fit: String,
}

fn seed_job() -> anyhow::Result<SeedJob> {
    use ils_marketplace::catalog::draft::LensTreatment;
    use ils_orders::lens::LensSpec;
    use ils_orders::model::Fit;
    use ils_orders::rx::{EyeFit, EyeRx, FrameMeasure, LensDesign, Rx, rx_minus_cyl};
    use rust_decimal::Decimal;
    let d = |s: &str| {
        s.parse::<Decimal>()
            .map_err(|e| anyhow::anyhow!("{s}: {e}"))
    };
    let eye = |sphere: &str| -> anyhow::Result<EyeRx> {
        Ok(EyeRx {
            sphere: d(sphere)?,
            cylinder: Some(d("-0.75")?),
            axis: Some(90),
            add: Some(d("2.00")?),
            distance_pd: Some(d("31.5")?),
            near_pd: Some(d("30.0")?),
            ..EyeRx::default()
        })
    };
    let lens = LensSpec {
        design: LensDesign::Progressive,
        index: d("1.60")?,
        treatments: vec![LensTreatment::HardCoat, LensTreatment::AntiReflective],
        tint: None,
        product_code: Some("PAL-A".into()),
    };
    let frame = FrameMeasure {
        a: d("52")?,
        b: d("38")?,
        dbl: d("18")?,
        ed: Some(d("56")?),
        trace: None,
    };
    let height = EyeFit {
        fitting_height: Some(d("20")?),
        ..EyeFit::default()
    };
    let fit = Fit {
        right: height.clone(),
        left: height,
    };
    // As the service writes the columns: `Option`s of the values, encoded by serde_json.
    fn enc<T: serde::Serialize>(v: &T) -> anyhow::Result<String> {
        Ok(serde_json::to_string(v)?)
    }
    let mut rx = Vec::new();
    for right in SEED_SPHERES {
        for left in SEED_SPHERES {
            let r = Rx {
                right: eye(right)?,
                left: eye(left)?,
                ..Rx::default()
            };
            let minus = rx_minus_cyl(&r);
            rx.push((enc(&Some(r))?, enc(&Some(minus))?));
        }
    }
    Ok(SeedJob {
        rx,
        lens: enc(&Some(lens))?,
        frame: enc(&Some(frame))?,
        fit: enc(&fit)?,
    })
}

/// A UUIDv7 for the time `ts` (an SQL expression), in SQL: the 48-bit Unix milliseconds,
/// then a random v4's bits with the version nibble turned from 4 into 7, so ids grow
/// with their rows' times as the application's `Uuid::now_v7()` ids do.
fn uuid7_sql(ts: &str) -> String {
    format!(
        "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing \
         substring(int8send(floor(extract(epoch from {ts}) * 1000)::bigint) from 3) from 1 for 6), \
         52, 1), 53, 1), 'hex')::uuid"
    )
}

/// An SQL string literal.
fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[allow(clippy::disallowed_methods)] // the data set is written below the guard, as a migration would
async fn exec(tx: &ils_kernel::Tx, sql: &str) -> anyhow::Result<u64> {
    use sea_orm::ConnectionTrait;
    let done = tx
        .conn()
        .execute_unprepared(sql)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(done.rows_affected())
}

#[allow(clippy::disallowed_methods)] // the checks read below the guard, as the seed writes
async fn count(tx: &ils_kernel::Tx, sql: &str) -> anyhow::Result<i64> {
    use sea_orm::{ConnectionTrait, Statement};
    let row = tx
        .conn()
        .query_one_raw(Statement::from_string(
            tx.conn().get_database_backend(),
            sql,
        ))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .ok_or_else(|| anyhow::anyhow!("no row from {sql}"))?;
    row.try_get_by_index::<i64>(0)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// `ils bench-seed`: the load benchmark's data set in ILS's own schema, on an empty
/// PostgreSQL database: `practices` practices, `labs` labs and `suppliers` suppliers (all
/// ACTIVE), one admin per company (`Practice 12` is `admin@practice-12.bench.example`)
/// with `password` (hashed once), an ACTIVE connection between each practice and every lab
/// its orders go to, and `orders_per_practice` submitted lens orders per practice: order
/// `g` (1 = the newest) goes to lab `1 + (practice + g) % labs` with status
/// `SEED_STATUSES[g % 5]`, created `g` hours ago (as the peer's `dataset.sql`), numbered
/// `ORD-000001` for the oldest, two eyes in its Rx. Set-based SQL (`INSERT … SELECT
/// generate_series`), one transaction, then ANALYZE; then one page is read back through the
/// real schema as Practice 1's admin. The orders carry no status history (the page does
/// not read it).
#[allow(clippy::disallowed_methods)] // the data set is written below the guard, as a migration would
pub async fn seed(config: Config, shape: SeedShape) -> anyhow::Result<()> {
    use ils_entity::{company, lens_order};
    use ils_tenancy::model::{CompanyStatus, CompanyType, Plan};
    use sea_orm::PaginatorTrait;
    let err = |e: ils_kernel::AppError| anyhow::anyhow!("{e:?}");
    let db_err = |e: sea_orm::DbErr| anyhow::anyhow!("{e}");
    if config.is_sqlite() {
        anyhow::bail!(
            "bench-seed writes with PostgreSQL's set-based SQL: DATABASE_URL must be postgres://…"
        );
    }
    let SeedShape {
        practices,
        labs,
        suppliers,
        orders_per_practice: per,
        password,
    } = shape;
    if practices == 0 || labs == 0 || per == 0 {
        anyhow::bail!("--practices, --labs and --orders-per-practice must be at least 1");
    }
    if per > 999_999 || practices > 99_999 || labs > 99_999 || suppliers > 99_999 {
        anyhow::bail!(
            "at most 999,999 orders per practice (ORD-000001) and 99,999 companies of a kind"
        );
    }
    ils_tenancy::password::validate(&password, "--password").map_err(err)?;
    let job = seed_job()?;
    // The seeded job is one `submitOrder` accepts, so every move of the workflow works on
    // the seeded orders as on real ones.
    {
        let now = chrono::Utc::now();
        let probe = lens_order::Model {
            id: uuid::Uuid::now_v7(),
            company_id: uuid::Uuid::now_v7(),
            lab_company_id: None,
            lab_name: None,
            order_number: "ORD-000001".into(),
            status: lens_order::OrderStatus::Draft,
            version: 1,
            patient_id: None,
            patient_ref: "REF1".into(),
            patient_name: None,
            patient_birth_date: None,
            rx: job.rx[0].0.clone(),
            rx_minus_cyl: job.rx[0].1.clone(),
            lens: job.lens.clone(),
            frame: Some(job.frame.clone()),
            fit: job.fit.clone(),
            job_type: lens_order::JobType::New,
            remake_of: None,
            remake_reason: None,
            requested_date: None,
            notes: None,
            lab_job_number: None,
            external_ref: None,
            dcs_source: None,
            eyes: lens_order::Eyes::Both,
            due_date: None,
            production_stage: None,
            hold_question: None,
            hold_answer: None,
            carrier: None,
            tracking_number: None,
            reject_reason: None,
            cancel_reason: None,
            submitted_at: None,
            created_at: now,
            updated_at: now,
        };
        let problems = ils_orders::model::check_job(&probe, now.date_naive()).map_err(err)?;
        if !problems.is_empty() {
            let list: Vec<String> = problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect();
            anyhow::bail!(
                "the seeded job would not pass submission: {}",
                list.join("; ")
            );
        }
    }
    let started = Instant::now();
    let (state, _) = server::build(Config {
        seed_demo: false,
        ..config
    })
    .await?;
    let db = state.db.clone();
    {
        let tx = db.system().await.map_err(err)?;
        let n = tx
            .select::<company::Entity>()
            .count(tx.conn())
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(err)?;
        if n > 0 {
            anyhow::bail!(
                "the database already has {n} companies: bench-seed writes into an empty one \
                 (create a fresh database; the migrations run first)"
            );
        }
    }
    let hash = ils_tenancy::password::hash(&password).await.map_err(err)?;
    println!(
        "seeding {practices} practices, {labs} labs, {suppliers} suppliers, {} orders",
        practices * per
    );

    let tx = db.system().await.map_err(err)?;
    // Companies and their admins, from one list of (kind, number, ids, name, email, time).
    exec(
        &tx,
        "CREATE TEMP TABLE bench_companies (kind text NOT NULL, rn int NOT NULL, id uuid NOT NULL, \
         user_id uuid NOT NULL, name text NOT NULL, email text NOT NULL, plan text NOT NULL, \
         created timestamptz NOT NULL) ON COMMIT DROP",
    )
    .await?;
    let kinds = [
        (CompanyType::Ecp, Plan::FreeEcp, "Practice", practices),
        (CompanyType::Lab, Plan::Full, "Lab", labs),
        (CompanyType::Supplier, Plan::Full, "Supplier", suppliers),
    ];
    let values: Vec<String> = kinds
        .iter()
        .enumerate()
        .map(|(i, (kind, plan, label, n))| {
            format!(
                "({}, {}, {}, {i}, {n})",
                sql_text(kind.as_str()),
                sql_text(plan.as_str()),
                sql_text(label)
            )
        })
        .collect();
    // Companies exist a day before their oldest order; each has its own millisecond.
    let born = format!("now() - interval '{} hours'", per + 24);
    exec(
        &tx,
        &format!(
            "INSERT INTO bench_companies (kind, rn, id, user_id, name, email, plan, created) \
             SELECT k.kind, g, {id}, {uid}, k.label || ' ' || g, \
                    'admin@' || lower(k.label) || '-' || g || '.bench.example', k.plan, t.c \
             FROM (VALUES {values}) AS k(kind, plan, label, ord, n) \
             CROSS JOIN LATERAL generate_series(1, k.n) AS g \
             CROSS JOIN LATERAL (SELECT {born} + (k.ord * 100000 + g) * interval '1 millisecond' AS c) AS t",
            id = uuid7_sql("t.c"),
            uid = uuid7_sql("t.c"),
            values = values.join(", "),
        ),
    )
    .await?;
    exec(
        &tx,
        &format!(
            "INSERT INTO companies (id, name, company_type, status, plan, rejection_reason, address, \
             phone, website, opening_hours, rate_overrides, created_at, updated_at) \
             SELECT id, name, kind, {active}, plan, NULL, NULL, NULL, NULL, NULL, {budgets}, created, \
             created FROM bench_companies",
            active = sql_text(CompanyStatus::Active.as_str()),
            budgets = sql_text(BENCH_BUDGETS),
        ),
    )
    .await?;
    exec(
        &tx,
        &format!(
            "INSERT INTO users (id, company_id, email, password_hash, first_name, last_name, role, \
             status, is_platform_admin, created_at, updated_at) \
             SELECT user_id, id, email, {hash}, 'Bench', 'Admin', {role}, {active}, false, created, created \
             FROM bench_companies",
            hash = sql_text(&hash),
            role = sql_text(ils_kernel::Role::CompanyAdmin.as_str()),
            active = sql_text(ils_tenancy::model::UserStatus::Active.as_str()),
        ),
    )
    .await?;
    // An ACTIVE connection from each practice to every lab its orders go to: order g goes
    // to lab 1 + (practice + g) % labs, so g = 1..min(orders, labs) names them all.
    let connections = exec(
        &tx,
        &format!(
            "INSERT INTO connections (id, requester_company_id, responder_company_id, requester_name, \
             requester_type, responder_name, responder_type, pair_key, state, message, requested_by, \
             responded_at, ended_at, ended_by_company_id, created_at, updated_at) \
             SELECT {id}, e.id, l.id, e.name, e.kind, l.name, l.kind, \
                    least(e.id, l.id)::text || ':' || greatest(e.id, l.id)::text, 'ACTIVE', NULL, \
                    e.user_id, t.c, NULL, NULL, t.c, t.c \
             FROM bench_companies e \
             CROSS JOIN LATERAL generate_series(1, {pairs}) AS g \
             JOIN bench_companies l ON l.kind = 'LAB' AND l.rn = 1 + (e.rn + g) % {labs} \
             CROSS JOIN LATERAL (SELECT l.created + interval '1 hour' + e.rn * interval '1 millisecond' AS c) AS t \
             WHERE e.kind = 'ECP'",
            id = uuid7_sql("t.c"),
            pairs = per.min(labs),
        ),
    )
    .await?;
    // The job columns: 25 prescriptions (each eye its own sphere), one lens, frame, fit.
    exec(
        &tx,
        "CREATE TEMP TABLE bench_rx (v int PRIMARY KEY, rx text NOT NULL, rx_minus_cyl text NOT NULL) \
         ON COMMIT DROP",
    )
    .await?;
    let rx_rows: Vec<String> = job
        .rx
        .iter()
        .enumerate()
        .map(|(i, (rx, minus))| format!("({i}, {}, {})", sql_text(rx), sql_text(minus)))
        .collect();
    exec(
        &tx,
        &format!("INSERT INTO bench_rx VALUES {}", rx_rows.join(", ")),
    )
    .await?;
    let statuses: Vec<String> = SEED_STATUSES
        .iter()
        .enumerate()
        .map(|(k, (status, version))| format!("({k}, {}, {version})", sql_text(status)))
        .collect();
    // The orders, a batch of practices per statement. Order g of practice p was created g
    // hours and p seconds before an hour ago: every order has its own millisecond, so ids
    // grow with created_at.
    let batch = (100_000 / per).max(1);
    let orders_started = Instant::now();
    let mut orders = 0u64;
    let mut first = 1;
    while first <= practices {
        let last = (first + batch - 1).min(practices);
        orders += exec(
            &tx,
            &format!(
                "INSERT INTO lens_orders (id, company_id, lab_company_id, lab_name, order_number, status, \
                 version, patient_id, patient_ref, patient_name, patient_birth_date, rx, rx_minus_cyl, \
                 lens, frame, fit, job_type, remake_of, remake_reason, requested_date, notes, \
                 lab_job_number, due_date, production_stage, hold_question, hold_answer, carrier, \
                 tracking_number, reject_reason, cancel_reason, submitted_at, created_at, updated_at) \
                 SELECT o.id, o.practice, o.lab, o.lab_name, 'ORD-' || lpad(({per} + 1 - o.g)::text, 6, '0'), \
                        s.status, s.version, NULL, 'REF' || o.g, NULL, NULL, x.rx, x.rx_minus_cyl, \
                        {lens}, {frame}, {fit}, 'NEW', NULL, NULL, NULL, NULL, \
                        CASE WHEN s.version > 2 THEN 'J-' || right(replace(o.id::text, '-', ''), 8) END, \
                        CASE WHEN s.version > 2 THEN (o.ts + interval '3 days')::date END, \
                        CASE WHEN s.status = 'IN_PRODUCTION' THEN 'SURFACING' END, NULL, NULL, \
                        CASE WHEN s.version > 4 THEN 'Royal Mail' END, \
                        CASE WHEN s.version > 4 THEN 'RM' || upper(left(md5(o.id::text), 10)) END, \
                        NULL, NULL, o.ts + interval '10 minutes', o.ts, \
                        o.ts + (s.version - 1) * interval '10 minutes' \
                 FROM ( \
                   SELECT {id} AS id, e.id AS practice, l.id AS lab, l.name AS lab_name, g, t.ts, \
                          floor(random() * {variants})::int AS v \
                   FROM bench_companies e \
                   CROSS JOIN LATERAL generate_series(1, {per}) AS g \
                   JOIN bench_companies l ON l.kind = 'LAB' AND l.rn = 1 + (e.rn + g) % {labs} \
                   CROSS JOIN LATERAL (SELECT now() - interval '1 hour' - g * interval '1 hour' \
                                       - e.rn * interval '1 second' AS ts) AS t \
                   WHERE e.kind = 'ECP' AND e.rn BETWEEN {first} AND {last} \
                 ) AS o \
                 JOIN (VALUES {statuses}) AS s(k, status, version) ON s.k = o.g % 5 \
                 JOIN bench_rx x ON x.v = o.v",
                id = uuid7_sql("t.ts"),
                lens = sql_text(&job.lens),
                frame = sql_text(&job.frame),
                fit = sql_text(&job.fit),
                variants = job.rx.len(),
                statuses = statuses.join(", "),
            ),
        )
        .await?;
        println!(
            "  orders: {orders} of {} ({:.1} s)",
            practices * per,
            orders_started.elapsed().as_secs_f64()
        );
        first = last + 1;
    }
    // The checks: every order there, and ids in the order of their times.
    let expected = (practices * per) as i64;
    let written = count(&tx, "SELECT count(*) FROM lens_orders").await?;
    if written != expected {
        anyhow::bail!("{written} orders written, {expected} expected");
    }
    let backwards = count(
        &tx,
        "SELECT count(*) FROM (SELECT created_at < lag(created_at) OVER (ORDER BY id) AS back \
         FROM lens_orders) AS x WHERE back",
    )
    .await?;
    if backwards != 0 {
        anyhow::bail!("{backwards} orders have an id that does not grow with created_at");
    }
    tx.commit().await.map_err(err)?;
    let analyze = db.system().await.map_err(err)?;
    exec(&analyze, "ANALYZE").await?;
    analyze.commit().await.map_err(err)?;
    println!(
        "seeded {} companies (one admin each), {connections} connections and {orders} orders in {:.1} s \
         (orders {:.1} s); ANALYZE done",
        practices + labs + suppliers,
        started.elapsed().as_secs_f64(),
        orders_started.elapsed().as_secs_f64()
    );

    // Read back through the real schema, as Practice 1's admin: the newest page.
    let (_, admin, ctx) = practice_one(&db).await?;
    let req = async_graphql::Request::new(
        "{ orders(last: 50) { edges { node { orderNumber status labName \
         rx { right { sphere cylinder axis } left { sphere cylinder axis } } } } } }",
    )
    .data(ctx)
    .data(ils_kernel::ClientInfo::default());
    let res = state.schema.execute(req).await;
    if !res.errors.is_empty() {
        anyhow::bail!("reading the seeded orders back: {:?}", res.errors);
    }
    let data = res.data.into_json()?;
    let edges = data["orders"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let newest = edges.last().map(|e| e["node"].clone()).unwrap_or_default();
    println!(
        "read back as {}: {} orders on the newest page; the newest is {} ({}, {}, right sphere {})",
        admin.email,
        edges.len(),
        newest["orderNumber"],
        newest["status"],
        newest["labName"],
        newest["rx"]["right"]["sphere"],
    );
    Ok(())
}

/// `ils bench-operations`: publishing `documents` distinct operations as one list version
/// (manifest read, every document validated, stored), then looking IDs up the way the
/// request path does: the first look-up of each ID (the database) and `lookups` repeated
/// ones (the cache), p50/p99 of each.
pub async fn operations(config: Config, documents: usize, lookups: usize) -> anyhow::Result<()> {
    use crate::operations::{manifest, store};
    let (state, _) = server::build(Config {
        seed_demo: false,
        ..config
    })
    .await?;
    let run = uuid::Uuid::now_v7().simple().to_string();
    // Distinct, valid documents shaped like a partner's: a named query with a variable.
    let map: serde_json::Map<String, serde_json::Value> = (0..documents)
        .map(|i| {
            let body = format!(
                "query Op{i}_{run}($first: Int) {{ me {{ user {{ id email }} company {{ id name }} }} \
                 users(first: $first) {{ nodes {{ id email role }} }} }}"
            );
            (manifest::sha256_hex(&body), serde_json::Value::String(body))
        })
        .collect();
    let bytes = serde_json::to_vec(&map)?;
    let checker = crate::schema::checker(&crate::extension::Protections::from(&*state.config));
    let started = Instant::now();
    let docs = manifest::parse(&bytes).map_err(|p| anyhow::anyhow!("{} problems", p.len()))?;
    let parsed = started.elapsed();
    let checked = checker
        .check(docs)
        .await
        .map_err(|p| anyhow::anyhow!("{} problems: {:?}", p.len(), p.first()))?;
    let validated = started.elapsed();
    let name = format!("bench-{run}");
    store::publish(&state.db, store::Publisher::Operator, &name, &checked)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let published = started.elapsed();
    println!(
        "publish {documents} documents ({} KB manifest): {:.2} s in all (read {:.2} s, validate {:.2} s, store {:.2} s)",
        bytes.len() / 1024,
        published.as_secs_f64(),
        parsed.as_secs_f64(),
        (validated - parsed).as_secs_f64(),
        (published - validated).as_secs_f64()
    );

    // A person's look-ups (platform lists); the first of each ID reads the database.
    let ctx = ils_kernel::TenantContext::anonymous();
    let rt = &state.operations;
    let ids: Vec<String> = map.keys().take(1_000).cloned().collect();
    let mut cold = Vec::with_capacity(ids.len());
    for id in &ids {
        let t = Instant::now();
        let found = rt
            .trusted(&state.db, &ctx, id)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        cold.push(t.elapsed());
        anyhow::ensure!(found.is_some(), "a published document was not found");
    }
    let mut warm = Vec::with_capacity(lookups);
    let started = Instant::now();
    for i in 0..lookups {
        let id = &ids[(i * 7919) % ids.len()];
        let t = Instant::now();
        let found = rt
            .trusted(&state.db, &ctx, id)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        warm.push(t.elapsed());
        anyhow::ensure!(found.is_some(), "a published document was not found");
        // The cache trusts an answer for a second: keep to look-ups it answers.
        if started.elapsed() > Duration::from_millis(900) {
            break;
        }
    }
    let pct = |v: &mut Vec<Duration>, p: f64| {
        v.sort();
        v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
    };
    println!(
        "ID look-up, first time ({} IDs, the database): p50 {:?}, p99 {:?}",
        cold.len(),
        pct(&mut cold, 0.50),
        pct(&mut cold, 0.99)
    );
    println!(
        "ID look-up, cached ({} look-ups): p50 {:?}, p99 {:?}",
        warm.len(),
        pct(&mut warm, 0.50),
        pct(&mut warm, 0.99)
    );
    Ok(())
}

/// The rate budgets of every benchmark company (its overrides): far above what one
/// machine can send, so the load runs through the limiter (which it measures) and is
/// never refused by it.
const BENCH_BUDGETS: &str = r#"{"apiKey":{"requestsPerMinute":100000000,"costPerMinute":100000000000},"user":{"requestsPerMinute":100000000,"costPerMinute":100000000000},"company":{"requestsPerMinute":100000000,"costPerMinute":100000000000}}"#;

/// What rollup maintenance adds to order submission (issue 21): as "Practice 1" of a
/// database `bench-seed` wrote (put on the full plan), `2 × orders` drafts are made; half
/// are submitted through the real schema alone (timed, statements counted: the request's
/// work), the analytics handler then run over their events in batches as the job worker
/// takes them (timed, statements counted: the work a job worker does later, off the
/// request), and the other half submitted with a worker beside them taking their events
/// as the job workers do (timed), in blocks taken in turn. No background workers of the
/// server run meanwhile.
#[allow(clippy::disallowed_methods)] // the benchmark acts as Practice 1's admin and reads the outbox below the guard
pub async fn analytics(config: Config, orders: usize) -> anyhow::Result<()> {
    use ils_entity::trade_connection as conn;
    use sea_orm::{ColumnTrait, QueryFilter};
    let err = |e: ils_kernel::AppError| anyhow::anyhow!("{e:?}");
    let (state, counter) = server::build(Config {
        seed_demo: false,
        ..config
    })
    .await?;
    let db = state.db.clone();
    let (practice, _, ctx) = practice_one(&db).await?;
    let tx = db.system().await.map_err(err)?;
    // A practice submitting this many orders a month is on the full plan (the free plan
    // includes 300), as a platform admin's `setCompanyPlan` would put it.
    {
        use ils_entity::company;
        use sea_orm::EntityTrait;
        use sea_orm::sea_query::Expr;
        company::Entity::update_many()
            .col_expr(
                company::Column::Plan,
                Expr::value(ils_common::plan::Plan::Full.as_str()),
            )
            .filter(company::Column::Id.eq(practice.id))
            .exec(tx.conn())
            .await?;
    }
    let lab = tx
        .select::<conn::Entity>()
        .filter(conn::Column::RequesterCompanyId.eq(practice.id))
        .filter(conn::Column::State.eq(conn::ConnectionStatus::Active))
        .one(tx.conn())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .ok_or_else(|| anyhow::anyhow!("Practice 1 has no lab"))?
        .responder_company_id;
    tx.commit().await.map_err(err)?;
    // Events from here on are this run's own (its drafts and submissions).
    let run_started = uuid::Uuid::now_v7();
    let run = |query: &'static str, vars: serde_json::Value| {
        let req = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(vars))
            .data(ctx.clone())
            .data(ils_kernel::ClientInfo::default());
        let schema = state.schema.clone();
        async move {
            let res = schema.execute(req).await;
            if !res.errors.is_empty() {
                anyhow::bail!("{:?}", res.errors);
            }
            Ok(res.data.into_json()?)
        }
    };
    // Two rounds of drafts: one submitted alone, one with the handler running beside it.
    let mut drafts = Vec::with_capacity(2 * orders);
    for i in 0..2 * orders {
        let d = run(
            "mutation($i: CreateOrderDraftInput!) { createOrderDraft(input: $i) { order { id } } }",
            serde_json::json!({ "i": {
                "patientRef": format!("BENCH-{i}"),
                "rx": {
                    "right": { "sphere": "-2.25", "cylinder": "-0.75", "axis": 175, "add": "2.00", "distancePd": "31.5", "nearPd": "30.0" },
                    "left": { "sphere": "-1.75", "cylinder": "-0.50", "axis": 10, "add": "2.00", "distancePd": "32.0", "nearPd": "30.5" }
                },
                "lens": { "design": "PROGRESSIVE", "index": "1.67", "treatments": ["ANTI_REFLECTIVE"] },
                "frame": { "a": "52", "b": "36", "dbl": "18", "ed": "55" },
                "right": { "fittingHeight": "19" },
                "left": { "fittingHeight": "19" }
            } }),
        )
        .await?;
        drafts.push(d["createOrderDraft"]["order"]["id"].clone());
    }
    let beside = drafts.split_off(orders);
    let lab_id = ils_kernel::id::encode(ils_common::company::COMPANY, lab);
    let submit = |id: serde_json::Value| {
        run(
            "mutation($i: SubmitOrderInput!) { submitOrder(input: $i) { order { id status } } }",
            serde_json::json!({ "i": { "id": id, "labId": lab_id } }),
        )
    };
    // Blocks of each kind of run taken in turn, so the machine's drift (and the tables'
    // growth) falls on both alike: a block of submissions alone, then the rollup handler
    // over their events as the job worker takes them (batches of up to `BATCH`; nothing
    // else running), then a block of submissions with a worker beside them taking each
    // one's event as the job workers do (`JobKind::batched`: a batch of what is due, then
    // none for `BATCH_EVERY` unless the batch was full): what maintenance adds to the
    // submission path when both run at once. That worker pauses while the other blocks
    // run: what it had not taken when its block ended (the last second's events) it takes
    // first in the next one, as a steady flow would, so that each block of submissions
    // runs beside the handling of as many events as it submits.
    use ils_analytics::rollup::{BATCH, BATCH_EVERY, handle_many};
    const BLOCK: usize = 500;
    let mut submit_times = Vec::with_capacity(orders);
    let mut roll_time = Duration::ZERO;
    let mut rolled = 0usize;
    let mut beside_times = Vec::with_capacity(orders);
    let (mut submit_statements, mut roll_statements) = (0u64, 0u64);
    let beside_ids: std::collections::HashSet<String> = beside
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let beside_ids = std::sync::Arc::new(beside_ids);
    // The beside worker's cursor (events of beside submissions handled up to here) and
    // when it may take a batch again.
    let mut cursor = run_started;
    let mut next = tokio::time::Instant::now();
    let mut handled = 0usize;
    let mut batches = 0usize;
    for (alone_ids, block) in drafts.chunks(BLOCK).zip(beside.chunks(BLOCK)) {
        let first_event = uuid::Uuid::now_v7();
        let before = counter.get();
        for id in alone_ids {
            let started = Instant::now();
            submit(id.clone()).await?;
            submit_times.push(started.elapsed());
        }
        submit_statements += counter.get() - before;
        let events = submitted_events(&db, first_event).await?;
        if events.len() != alone_ids.len() {
            anyhow::bail!(
                "{} order.submitted events for {} submissions",
                events.len(),
                alone_ids.len()
            );
        }
        let before = counter.get();
        for batch in events.chunks(BATCH) {
            let started = Instant::now();
            handle_many(&db, batch)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            roll_time += started.elapsed();
            rolled += batch.len();
        }
        roll_statements += counter.get() - before;
        let (tick, mut ticks) = tokio::sync::mpsc::unbounded_channel::<()>();
        let worker_db = db.clone();
        let ids = beside_ids.clone();
        let worker = tokio::spawn(async move {
            let (mut handled, mut batches) = (0usize, 0usize);
            loop {
                // Not before the kind may be claimed again; ticks (a submission's commit
                // waking the workers) meanwhile change nothing. The block's end stops it.
                while tokio::time::Instant::now() < next {
                    tokio::select! {
                        _ = tokio::time::sleep_until(next) => {}
                        t = ticks.recv() => if t.is_none() { return Ok::<_, anyhow::Error>((handled, batches, cursor, next)) },
                    }
                }
                let claimed_at = tokio::time::Instant::now();
                let mut due: Vec<ils_kernel::Event> = submitted_events(&worker_db, cursor)
                    .await?
                    .into_iter()
                    .filter(|e| {
                        ils_orders::events::OrderChange::of(e)
                            .is_some_and(|c| ids.contains(c.order_id.as_str()))
                    })
                    .collect();
                due.truncate(BATCH);
                let Some(last) = due.last() else {
                    // Nothing due: sleep until a submission wakes it, or the block ends.
                    match ticks.recv().await {
                        Some(()) => continue,
                        None => return Ok((handled, batches, cursor, next)),
                    }
                };
                cursor = last.id;
                handle_many(&worker_db, &due)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                handled += due.len();
                batches += 1;
                if due.len() < BATCH {
                    next = claimed_at + BATCH_EVERY;
                }
            }
        });
        for id in block {
            let started = Instant::now();
            submit(id.clone()).await?;
            beside_times.push(started.elapsed());
            let _ = tick.send(());
        }
        drop(tick);
        let (h, b, c, n) = worker.await??;
        handled += h;
        batches += b;
        (cursor, next) = (c, n);
    }
    // What the last beside block left, untimed.
    let left: Vec<ils_kernel::Event> = submitted_events(&db, cursor)
        .await?
        .into_iter()
        .filter(|e| {
            ils_orders::events::OrderChange::of(e)
                .is_some_and(|c| beside_ids.contains(c.order_id.as_str()))
        })
        .collect();
    for batch in left.chunks(BATCH) {
        handle_many(&db, batch)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let handled_beside = handled;
    handled += left.len();
    if handled != orders {
        anyhow::bail!("the worker handled {handled} of {orders} events");
    }
    // The run's events were handled here, by the rollup handler, the one this measures;
    // the server's other handlers (mail, webhooks) would otherwise take them on its next
    // start, beside whatever is measured then. They are set aside as dispatched.
    {
        use sea_orm::ConnectionTrait;
        db.raw_connection()
            .execute_unprepared(&format!(
                "UPDATE events SET dispatched_at = CURRENT_TIMESTAMP \
                 WHERE id >= '{run_started}' AND dispatched_at IS NULL"
            ))
            .await?;
    }
    let alone = report(
        "submitOrder (the request)",
        submit_times,
        Some(submit_statements),
    );
    let roll = roll_time.as_secs_f64() * 1000.0 / rolled.max(1) as f64;
    println!(
        "analytics rollup of its event (a job, off the request, in batches of up to {BATCH}): \
         {rolled} events, {roll:.3} ms and {:.2} SQL statements per event",
        roll_statements as f64 / rolled.max(1) as f64
    );
    // The worker's statements run at the same time: none are counted here.
    let with = report(
        "submitOrder with the rollup handled beside it",
        beside_times,
        None,
    );
    println!(
        "beside the submissions, the worker took {handled_beside} events in {batches} batches \
         ({:.1} a batch; {} left after the last block)",
        handled_beside as f64 / batches.max(1) as f64,
        left.len()
    );
    println!(
        "rollup maintenance: {:.1} % of the submission's own work, done in a worker after the \
         request; the submission path {:+.1} % slower with it running beside",
        100.0 * roll / alone,
        100.0 * (with - alone) / alone
    );
    Ok(())
}

/// The rate limiter's own cost per request (issue 22): a request draws its request and
/// its cost in one draw once validated, on a user's and a company's budgets at once. This
/// times `requests` such draws as a request waits for them (`RateStore::take`: answered at
/// once while far within the budgets, the round trip going on without it), beside the
/// same draw waiting for Redis's answer (`RedisRateStore::take_waiting`, what every draw
/// did before) and in process, with budgets far above what is drawn, so every draw passes
/// and counts (through the store's own thread and connection, as the server draws).
/// Beside them, a bare Redis round trip (the server's other connection, from this
/// runtime): what any use of Redis costs on this machine at that moment.
pub async fn limiter(config: Config, requests: usize) -> anyhow::Result<()> {
    use ils_kernel::ratelimit::{Draw, MemoryRateStore, Quota, RateStore};
    let url = config
        .redis_url
        .clone()
        .ok_or_else(|| anyhow::anyhow!("bench-limiter needs REDIS_URL"))?;
    let client = redis::Client::open(url.as_str())?;
    let timeout = Duration::from_millis(config.redis_timeout_ms);
    let mut ping = crate::redis_bus::connect(client.clone(), timeout).await?;
    let prefix = format!("ils-bench-limiter-{}", uuid::Uuid::new_v4().simple());
    let redis = crate::redis_ratelimit::RedisRateStore::new(
        client,
        crate::redis_bus::manager_config(timeout),
        &prefix,
    );
    let memory = MemoryRateStore::default();
    let big = Quota::per_minute(1_000_000_000);
    // What `Limiter::charge` draws for request `i`: its request and its cost on the
    // user's and the company's budgets, one draw of four lines.
    let draws = |i: usize| {
        [("r", 1), ("c", 7)]
            .into_iter()
            .flat_map(|(tag, cost)| {
                [
                    format!("user:{}:{tag}", i % 100),
                    format!("co:{}:{tag}", i % 10),
                ]
                .map(|key| Draw {
                    key,
                    quota: big,
                    cost,
                })
            })
            .collect::<Vec<Draw>>()
    };
    // A warm-up (connection, script cached in Redis, every budget heard of once).
    for i in 0..500 {
        redis.take_waiting(&draws(i)).await;
        memory.take(&draws(i)).await;
    }
    let mut taken = Vec::with_capacity(requests);
    let mut waiting = Vec::with_capacity(requests);
    let mut in_process = Vec::with_capacity(requests);
    // The floor under the Redis figures: a bare round trip (PING) on another connection,
    // interleaved, so the machine's loopback at that moment is beside them.
    let mut bare = Vec::with_capacity(requests);
    let mut passed = true;
    for i in 0..requests {
        let started = Instant::now();
        let _: String = redis::cmd("PING").query_async(&mut ping).await?;
        bare.push(started.elapsed());
        let started = Instant::now();
        let b = redis.take_waiting(&draws(i)).await;
        waiting.push(started.elapsed());
        let started = Instant::now();
        let a = redis.take(&draws(i)).await;
        taken.push(started.elapsed());
        // The round trip an answer at once left going on, out of the other figures' way.
        if !redis.settle(Duration::from_secs(5)).await {
            anyhow::bail!("a draw's answer never came back");
        }
        let started = Instant::now();
        let c = memory.take(&draws(i)).await;
        in_process.push(started.elapsed());
        passed &= a.iter().chain(&b).chain(&c).all(|v| v.allowed);
    }
    if !passed {
        anyhow::bail!("a draw far within its budget was refused");
    }
    report(
        "the limiter per request (redis: one draw, requests and cost on two budgets, as a \
         request waits for it)",
        taken,
        None,
    );
    report(
        "  the same draw waiting for Redis's answer (redis)",
        waiting,
        None,
    );
    report("  the same draw in process", in_process, None);
    report("  a bare round trip to Redis (PING), for scale", bare, None);
    if redis.degraded() {
        anyhow::bail!("Redis was unreachable during the run: the figures are the fallback's");
    }
    Ok(())
}

/// "Practice 1" of a database `bench-seed` wrote, its admin, and the context of acting as
/// that admin (as a request with their token would).
#[allow(clippy::disallowed_methods)] // the benchmark finds its company below the guard and acts as its admin
async fn practice_one(
    db: &ils_kernel::Db,
) -> anyhow::Result<(
    ils_entity::company::Model,
    ils_entity::user::Model,
    ils_kernel::TenantContext,
)> {
    use ils_entity::{company, user};
    use sea_orm::{ColumnTrait, QueryFilter};
    let tx = db.system().await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let practice = tx
        .select::<company::Entity>()
        .filter(company::Column::Name.eq("Practice 1"))
        .one(tx.conn())
        .await?
        .ok_or_else(|| anyhow::anyhow!("Practice 1 is missing: run bench-seed first"))?;
    let admin = tx
        .select::<user::Entity>()
        .filter(user::Column::CompanyId.eq(practice.id))
        .one(tx.conn())
        .await?
        .ok_or_else(|| anyhow::anyhow!("Practice 1 has no admin"))?;
    tx.commit().await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let ctx = ils_kernel::TenantContext::for_user(
        Some(practice.id),
        admin.id,
        vec![ils_kernel::Role::CompanyAdmin],
        false,
    );
    Ok((practice, admin, ctx))
}

/// Prints the samples' mean, p50, p95 and p99 (and `statements` per sample, when counted);
/// returns the mean in milliseconds.
fn report(what: &str, mut times: Vec<Duration>, statements: Option<u64>) -> f64 {
    times.sort();
    let n = times.len().max(1);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |p: f64| {
        times
            .get(((n as f64 * p).ceil() as usize).clamp(1, n) - 1)
            .copied()
            .unwrap_or_default()
    };
    let mean = times.iter().map(|d| ms(*d)).sum::<f64>() / n as f64;
    let counted = statements
        .map(|s| format!(", {:.1} SQL statements each", s as f64 / n as f64))
        .unwrap_or_default();
    println!(
        "{what}: {} samples, mean {mean:.2} ms, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms{counted}",
        times.len(),
        ms(at(0.50)),
        ms(at(0.95)),
        ms(at(0.99)),
    );
    mean
}

/// The `order.submitted` events after the event ID `after` (IDs are UUIDv7, in the order
/// they were made), as the dispatcher hands them to handlers: a range of the primary key,
/// as cheap as the dispatcher's own indexed read, whatever the outbox holds.
#[allow(clippy::disallowed_methods)] // the benchmark reads the outbox below the guard
async fn submitted_events(
    db: &ils_kernel::Db,
    after: uuid::Uuid,
) -> anyhow::Result<Vec<ils_kernel::Event>> {
    use sea_orm::{ConnectionTrait, Statement};
    let rows = db
        .raw_connection()
        .query_all_raw(Statement::from_string(
            db.backend(),
            format!(
                "SELECT id, event_type, company_id, audience, admins_only, data, version, occurred_at \
                 FROM events WHERE id > '{after}' AND event_type = 'order.submitted' ORDER BY id"
            ),
        ))
        .await?;
    let mut events = Vec::new();
    for r in rows {
        let audience: String = r.try_get("", "audience")?;
        let data: String = r.try_get("", "data")?;
        events.push(ils_kernel::Event {
            id: r.try_get("", "id")?,
            event_type: r.try_get("", "event_type")?,
            company_id: r.try_get("", "company_id")?,
            audience: serde_json::from_str(&audience)?,
            admins_only: r.try_get("", "admins_only")?,
            version: r.try_get("", "version")?,
            data: serde_json::from_str(&data)?,
            occurred_at: r.try_get("", "occurred_at")?,
            seq: None,
        });
    }
    Ok(events)
}
