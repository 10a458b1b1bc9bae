//! Dashboards: a practice, its lab and a supplier trade (orders through production to
//! shipping, a remake, a purchase order received in part), and each reads its own
//! dashboard with the figures that trade makes; every event handled a second time changes
//! nothing; `ils analytics rebuild` (the binary) gives the same dashboards from scratch;
//! staff, anonymous callers and other companies read nothing of them.
#![allow(clippy::disallowed_methods)] // the job queue is read and replayed below the guard on purpose

use chrono::{Datelike, Duration, Utc};
use ils_tests::orders::{Orders, connected};
use ils_tests::{
    Session, TestServer, email, eventually, listed_company, progressive_draft, staff_of,
};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const ORDERS: Orders =
    Orders::new("fragment O on LensOrder { id status version orderNumber dueDate }");

const DASHBOARD: &str = "query($p: PeriodInput!, $g: DashboardGranularity) {
  dashboard(period: $p, granularity: $g) {
    kind from to granularity
    series { key label unit dimension companyId currency total contributions points { start value } }
    now { key label unit dimension currency value }
    rankings { key label unit entries { label id value } }
  } }";

const EXPORT: &str = "mutation($i: ExportDashboardSeriesInput!) {
  exportDashboardSeries(input: $i) { dashboardExport { fileName rows downloadUrl } } }";

fn period() -> Value {
    let today = Utc::now().date_naive();
    json!({ "from": (today - Duration::days(2)).to_string(), "to": (today + Duration::days(1)).to_string() })
}

async fn dashboard(s: &TestServer, who: &Session) -> Value {
    s.ok(&who.auth(), DASHBOARD, json!({ "p": period(), "g": "DAY" }))
        .await["dashboard"]
        .clone()
}

/// The series of `d` with `key` (and `dimension`, when given).
fn series<'a>(d: &'a Value, key: &str, dimension: Option<&str>) -> Vec<&'a Value> {
    d["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["key"] == key && dimension.is_none_or(|dim| s["dimension"] == dim))
        .collect()
}

fn total(d: &Value, key: &str, dimension: Option<&str>) -> Value {
    let found = series(d, key, dimension);
    assert_eq!(found.len(), 1, "one series {key} {dimension:?} in {d}");
    found[0]["total"].clone()
}

fn now_figure(d: &Value, key: &str, dimension: Option<&str>) -> Value {
    d["now"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == key && dimension.is_none_or(|dim| f["dimension"] == dim))
        .unwrap_or_else(|| panic!("a figure {key} {dimension:?} in {d}"))["value"]
        .clone()
}

/// `d` (by `granularity`) has `by_day`'s series with the same totals, each point at the
/// start of its bucket, and the points of every sum adding up to the same figure.
fn same_series_by_bucket(by_day: &Value, d: &Value, granularity: &str) {
    let (days, buckets) = (
        by_day["series"].as_array().unwrap(),
        d["series"].as_array().unwrap(),
    );
    assert_eq!(days.len(), buckets.len(), "{granularity}: {d}");
    assert!(!buckets.is_empty(), "{d}");
    let sum = |s: &Value| -> f64 {
        s["points"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["value"].as_f64())
            .sum()
    };
    for (a, b) in days.iter().zip(buckets) {
        for k in ["key", "dimension", "unit", "total", "contributions"] {
            assert_eq!(a[k], b[k], "{granularity} {k}: {a} / {b}");
        }
        for p in b["points"].as_array().unwrap() {
            let start = chrono::NaiveDate::parse_from_str(p["start"].as_str().unwrap(), "%Y-%m-%d")
                .unwrap();
            match granularity {
                "WEEK" => assert_eq!(start.weekday(), chrono::Weekday::Mon, "{b}"),
                _ => assert_eq!(start.day(), 1, "{b}"),
            }
        }
        if ["COUNT", "MONEY"].contains(&b["unit"].as_str().unwrap()) {
            assert!((sum(a) - sum(b)).abs() < 1e-9, "{granularity}: {a} / {b}");
            assert!(
                (sum(b) - b["total"].as_f64().unwrap()).abs() < 1e-9,
                "{granularity}: {b}"
            );
        }
    }
}

/// Waits until every event is dispatched and no rollup job is queued or running (the
/// handler has seen every event).
async fn rollups_settled(s: &TestServer) {
    let db = s.owner_connection().await;
    eventually(
        "the rollup jobs have run",
        std::time::Duration::from_secs(30),
        || {
            let db = &db;
            async move {
                let row = db
                    .query_one_raw(sea_orm::Statement::from_string(
                        db.get_database_backend(),
                        "SELECT (SELECT COUNT(*) FROM jobs WHERE kind = 'analytics.rollup' \
                     AND state IN ('QUEUED', 'RUNNING')) \
                     + (SELECT COUNT(*) FROM events WHERE dispatched_at IS NULL) AS n",
                    ))
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or("no row")?;
                let n: i64 = row.try_get("", "n").map_err(|e| e.to_string())?;
                if n == 0 {
                    Ok(())
                } else {
                    Err(format!("{n} events or rollup jobs left"))
                }
            }
        },
    )
    .await;
}

/// A supplier with a cloth at 0.45 GBP, connected with `practice`; returns the supplier
/// and the item's ID.
async fn supplier_of(s: &TestServer, pa: &Session, practice: &Session) -> (Session, Value) {
    let supplier = listed_company(s, pa, "Dash Supplies", "SUPPLIER", json!({})).await;
    let item = s
        .ok(
            &supplier.auth(),
            "mutation($i: CreateCatalogItemInput!) { createCatalogItem(input: $i) { catalogItem { id } } }",
            json!({ "i": {
                "sku": "DS-CLOTH", "name": "Cloth", "category": "SUNDRY",
                "price": { "amount": "0.45", "currency": "GBP" }, "minOrderQuantity": 10, "leadTimeDays": 2
            } }),
        )
        .await["createCatalogItem"]["catalogItem"]["id"]
        .clone();
    ils_tests::connect(s, practice, &supplier).await;
    (supplier, item)
}

/// 20 cloths ordered, submitted, acknowledged, and 10 received.
async fn buy_cloths(s: &TestServer, practice: &Session, supplier: &Session, item: &Value) {
    const PO: &str = "purchaseOrder { id version lines { id } }";
    let po = s
        .ok(
            &practice.auth(),
            &format!("mutation($i: CreatePurchaseOrderInput!) {{ createPurchaseOrder(input: $i) {{ {PO} }} }}"),
            json!({ "i": { "supplierId": supplier.company_id, "lines": [{ "catalogItemId": item, "quantity": 20 }] } }),
        )
        .await["createPurchaseOrder"]["purchaseOrder"]
        .clone();
    let step = |who: &Session, op: &str, extra: &str, po: &Value| {
        let q = format!(
            "mutation($id: ID!, $v: Int!) {{ {op}(input: {{ id: $id, version: $v {extra} }}) {{ {PO} }} }}"
        );
        let vars = json!({ "id": po["id"], "v": po["version"] });
        let auth = who.auth();
        let op = op.to_owned();
        async move { s.ok(&auth, &q, vars).await[&op]["purchaseOrder"].clone() }
    };
    let po = step(practice, "submitPurchaseOrder", "", &po).await;
    let po = step(supplier, "acknowledgePurchaseOrder", "", &po).await;
    let line = po["lines"][0]["id"].clone();
    let po = step(
        practice,
        "receivePurchaseOrder",
        &format!(
            ", lines: [{{ lineId: \"{}\", quantity: 10 }}]",
            line.as_str().unwrap()
        ),
        &po,
    )
    .await;
    assert!(po["id"].is_string(), "received: {po}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_follow_the_trade_count_each_event_once_and_equal_a_rebuild() {
    let s = TestServer::start().await;
    let (pa, practice, lab) = connected(&s, "Dash").await;
    let due = (Utc::now().date_naive() + Duration::days(5)).to_string();

    // Four jobs: one shipped by its due date, one in production, one waiting, and a remake
    // of the shipped one.
    let mut shipped = Value::Null;
    let mut orders = Vec::new();
    for r in ["D-1", "D-2", "D-3"] {
        let o = ORDERS.draft(&s, &practice, progressive_draft(r)).await;
        orders.push(ORDERS.submitted(&s, &practice, &o, &lab).await);
    }
    for (i, o) in orders.iter().enumerate().take(2) {
        let o = ORDERS
            .moved(&s, &lab, o, "RECEIVED", json!({ "dueDate": due }))
            .await;
        if i == 0 {
            let o = ORDERS.through_production(&s, &lab, &o).await;
            shipped = ORDERS
                .moved(
                    &s,
                    &lab,
                    &o,
                    "SHIPPED",
                    json!({ "carrier": "DPD", "trackingNumber": "1" }),
                )
                .await;
        } else {
            ORDERS
                .moved(&s, &lab, &o, "IN_PRODUCTION", json!({ "stage": "COATING" }))
                .await;
        }
    }
    let mut remake = progressive_draft("D-1R");
    remake["jobType"] = json!("REMAKE");
    remake["remakeOfId"] = shipped["id"].clone();
    remake["remakeReason"] = json!("NON_ADAPT");
    let remake = ORDERS.draft(&s, &practice, remake).await;
    ORDERS.submitted(&s, &practice, &remake, &lab).await;

    // Another practice of the same lab: the lab counts its job, the first practice doesn't.
    let other = s
        .sign_up("Elsewhere Optics", "ECP", &email("elsewhere"))
        .await;
    ils_tests::connect(&s, &other, &lab).await;
    let o = ORDERS.draft(&s, &other, progressive_draft("E-1")).await;
    ORDERS.submitted(&s, &other, &o, &lab).await;

    let (supplier, item) = supplier_of(&s, &pa, &practice).await;
    buy_cloths(&s, &practice, &supplier, &item).await;
    rollups_settled(&s).await;
    // The events came faster than one a second: the handler took some of them together
    // (`JobKind::batched`; a batch of one is run by the kind's own handler, not counted).
    let metrics = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let batches: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix(r#"ils_job_batch_size_count{kind="analytics.rollup"} "#))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0.0);
    assert!(batches >= 1.0, "no batch of rollups: {metrics}");

    // The practice.
    let d = dashboard(&s, &practice).await;
    assert_eq!(d["kind"], "PRACTICE", "{d}");
    assert_eq!(d["granularity"], "DAY", "{d}");
    assert_eq!(total(&d, "orders", None), 4.0, "{d}");
    let points = &series(&d, "orders", None)[0]["points"];
    assert_eq!(points.as_array().unwrap().len(), 4, "a point a day: {d}");
    assert_eq!(
        points
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["value"].as_f64().unwrap())
            .sum::<f64>(),
        4.0
    );
    assert_eq!(total(&d, "orders_by_status", Some("SUBMITTED")), 2.0, "{d}");
    assert_eq!(
        total(&d, "orders_by_status", Some("IN_PRODUCTION")),
        1.0,
        "{d}"
    );
    assert_eq!(total(&d, "orders_by_status", Some("SHIPPED")), 1.0, "{d}");
    assert_eq!(total(&d, "remake_rate", None), 25.0, "{d}");
    assert_eq!(total(&d, "remakes", Some("NON_ADAPT")), 1.0, "{d}");
    let lab_name = "Dash Lens Lab";
    let turnaround = series(&d, "turnaround_days", Some(lab_name));
    assert_eq!(turnaround.len(), 1, "{d}");
    assert_eq!(turnaround[0]["companyId"], json!(lab.company_id), "{d}");
    assert!(
        turnaround[0]["total"].as_f64().unwrap() <= 1.0,
        "shipped the day it came: {d}"
    );
    assert!(
        total(&d, "promised_days", Some(lab_name)).as_f64().unwrap() >= 4.0,
        "{d}"
    );
    assert_eq!(total(&d, "on_time_rate", Some(lab_name)), 100.0, "{d}");
    let spend = series(&d, "spend", Some("Dash Supplies"));
    assert_eq!(spend.len(), 1, "{d}");
    assert_eq!(spend[0]["currency"], "GBP", "{d}");
    assert_eq!(spend[0]["unit"], "MONEY", "{d}");
    assert_eq!(spend[0]["total"], 9.0, "20 cloths at 0.45: {d}");
    let stock = d["now"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "stock_value")
        .unwrap_or_else(|| panic!("stock value in {d}"));
    assert_eq!(stock["currency"], "GBP", "{d}");
    assert_eq!(stock["value"], 4.5, "10 cloths received at 0.45: {d}");
    assert!(now_figure(&d, "low_stock", None).is_number(), "{d}");
    assert_eq!(d["rankings"][0]["key"], "top_sellers", "{d}");

    // The lab.
    let d = dashboard(&s, &lab).await;
    assert_eq!(d["kind"], "LAB", "{d}");
    assert_eq!(total(&d, "jobs", None), 5.0, "{d}");
    assert_eq!(total(&d, "remake_rate", None), 20.0, "{d}");
    assert_eq!(total(&d, "on_time_rate", None), 100.0, "{d}");
    assert_eq!(
        now_figure(&d, "work_in_progress", Some("IN_PRODUCTION/COATING")),
        1.0,
        "{d}"
    );
    assert_eq!(
        now_figure(&d, "work_in_progress", Some("SUBMITTED")),
        3.0,
        "{d}"
    );
    let top = &d["rankings"][0];
    assert_eq!(top["key"], "top_customers", "{d}");
    assert_eq!(top["entries"][0]["label"], "Dash Optics", "{d}");
    assert_eq!(top["entries"][0]["id"], json!(practice.company_id), "{d}");
    assert_eq!(top["entries"][0]["value"], 4.0, "{d}");
    assert_eq!(top["entries"][1]["value"], 1.0, "{d}");

    // The supplier.
    let d = dashboard(&s, &supplier).await;
    assert_eq!(d["kind"], "SUPPLIER", "{d}");
    assert_eq!(total(&d, "purchase_orders", None), 1.0, "{d}");
    let value = series(&d, "purchase_order_value", None);
    assert_eq!(value[0]["currency"], "GBP", "{d}");
    assert_eq!(value[0]["total"], 9.0, "{d}");
    assert_eq!(total(&d, "fill_rate", None), 50.0, "10 of 20 received: {d}");
    assert_eq!(
        series(&d, "lead_time_days", None)[0]["contributions"],
        0,
        "{d}"
    );
    assert_eq!(
        d["rankings"][0]["entries"][0]["label"], "Cloth (DS-CLOTH)",
        "{d}"
    );
    assert_eq!(d["rankings"][0]["entries"][0]["value"], 20.0, "{d}");

    // A dashboard read goes to the rollups, the balances and the demand history: never
    // to the orders, their history, purchase orders or the stock ledger, and in a fixed
    // number of statements (the job workers' polls of the queue aside).
    for who in [&practice, &lab, &supplier] {
        s.server.statements.record();
        dashboard(&s, who).await;
        let sent: Vec<String> = s
            .server
            .statements
            .take_recorded()
            .into_iter()
            .map(|st| st.sql)
            // The job workers' and the dispatcher's polls run meanwhile.
            .filter(|sql| {
                !["jobs", "events"]
                    .iter()
                    .any(|t| sql.contains(&format!("\"{t}\"")) || sql.contains(&format!(" {t} ")))
            })
            .collect();
        for table in [
            "lens_orders",
            "order_status_changes",
            "purchase_orders",
            "purchase_order_lines",
            "stock_movements",
        ] {
            assert!(
                sent.iter()
                    .all(|sql| !sql.contains(&format!("\"{table}\""))),
                "a dashboard read {table}: {sent:#?}"
            );
        }
        assert!(sent.len() <= 12, "{} statements: {sent:#?}", sent.len());
    }

    // By week and by month: the same series with the same totals, the points summed in
    // the database by bucket (ISO weeks from Monday, months from the 1st, on both backends).
    for who in [&practice, &lab, &supplier] {
        let by_day = dashboard(&s, who).await;
        for g in ["WEEK", "MONTH"] {
            let d = s
                .ok(&who.auth(), DASHBOARD, json!({ "p": period(), "g": g }))
                .await["dashboard"]
                .clone();
            same_series_by_bucket(&by_day, &d, g);
        }
    }

    // The other practice counts its own order only.
    let d = dashboard(&s, &other).await;
    assert_eq!(total(&d, "orders", None), 1.0, "{d}");
    assert!(series(&d, "spend", None).is_empty(), "{d}");

    // Every event handled a second time changes nothing.
    let mut before = Vec::new();
    for who in [&practice, &lab, &supplier, &other] {
        before.push(dashboard(&s, who).await);
    }
    let db = s.owner_connection().await;
    let requeued = db
        .execute_unprepared(
            "UPDATE jobs SET state = 'QUEUED', attempts = 0, locked_by = NULL, lease_until = NULL, \
             finished_at = NULL WHERE kind = 'analytics.rollup'",
        )
        .await
        .unwrap()
        .rows_affected();
    assert!(
        requeued >= 10,
        "the trade's events were handled: {requeued}"
    );
    rollups_settled(&s).await;
    for (who, was) in [&practice, &lab, &supplier, &other].iter().zip(&before) {
        assert_eq!(&dashboard(&s, who).await, was, "an event counted twice");
    }

    // Handling a submission's event for both its parties is one transaction of a fixed
    // number of statements: the source rows taken and locked, the order read, the day
    // rows and the source rows written (here it has been handled: nothing to write).
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT id, event_type, company_id, audience, admins_only, data, version, \
             occurred_at FROM events WHERE event_type = 'order.submitted' ORDER BY occurred_at",
        ))
        .await
        .unwrap()
        .expect("an order.submitted event");
    let text = |c: &str| -> String { row.try_get("", c).unwrap() };
    let event = ils_kernel::Event {
        id: row.try_get("", "id").unwrap(),
        event_type: text("event_type"),
        company_id: row.try_get("", "company_id").unwrap(),
        audience: serde_json::from_str(&text("audience")).unwrap(),
        admins_only: row.try_get("", "admins_only").unwrap(),
        version: row.try_get("", "version").unwrap(),
        data: serde_json::from_str(&text("data")).unwrap(),
        occurred_at: row.try_get("", "occurred_at").unwrap(),
        seq: None,
    };
    assert_eq!(event.audience.len(), 2, "{event:?}");
    s.server.statements.record();
    ils_analytics::rollup::handle(&s.server.state.db, &event)
        .await
        .unwrap();
    let sent: Vec<String> = s
        .server
        .statements
        .take_recorded()
        .into_iter()
        .map(|st| st.sql)
        .filter(|sql| !sql.contains("\"jobs\"") && !sql.contains("\"events\""))
        // PostgreSQL's BEGIN goes with the scope's setting in one round trip.
        .filter(|sql| !sql.starts_with("BEGIN"))
        .collect();
    assert!(
        sent[0].starts_with("INSERT INTO \"analytics_sources\"") && sent[0].contains("RETURNING"),
        "the source rows are taken first: {sent:#?}"
    );
    let reads = ["lens_orders", "order_status_changes"];
    assert!(
        sent[1..]
            .iter()
            .all(|sql| sql.starts_with("SELECT") && reads.iter().any(|t| sql.contains(t))),
        "then the order is read, and nothing is left to write: {sent:#?}"
    );
    assert!(sent.len() <= 3, "{} statements: {sent:#?}", sent.len());
    for who in [&practice, &lab, &supplier, &other].iter().zip(&before) {
        assert_eq!(
            &dashboard(&s, who.0).await,
            who.1,
            "a handled event counted again"
        );
    }

    // `ils analytics rebuild` computes the same from scratch.
    let data = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ils-under-test"))
        .args(["analytics", "rebuild"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &s.database_url)
        .env("ILS_DATA_DIR", data.path())
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("rollups rebuilt"), "{said}");
    assert!(
        said.contains("5 lens orders and 1 purchase orders"),
        "{said}"
    );
    for (who, was) in [&practice, &lab, &supplier, &other].iter().zip(&before) {
        assert_eq!(&dashboard(&s, who).await, was, "rebuilt differs");
    }
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_is_for_its_company_managers_and_exports_as_csv() {
    let s = TestServer::start().await;
    let (_pa, practice, lab) = connected(&s, "Csv").await;
    let o = ORDERS.draft(&s, &practice, progressive_draft("C-1")).await;
    ORDERS.submitted(&s, &practice, &o, &lab).await;
    rollups_settled(&s).await;

    // Staff and anonymous callers read nothing.
    let staff = staff_of(&s, &practice).await;
    let err = s
        .error(&staff.auth(), DASHBOARD, json!({ "p": period() }))
        .await;
    assert_eq!(err["extensions"]["code"], "FORBIDDEN", "{err}");
    assert_eq!(
        s.error_code(&ils_tests::Auth::None, DASHBOARD, json!({ "p": period() }))
            .await,
        "UNAUTHENTICATED"
    );
    // A period backwards or over two years is refused with its field.
    let err = s
        .error(
            &practice.auth(),
            DASHBOARD,
            json!({ "p": { "from": "2026-03-02", "to": "2026-03-01" } }),
        )
        .await;
    ils_tests::assert_bad_input(&err, &["period", "to"]);
    let err = s
        .error(
            &practice.auth(),
            DASHBOARD,
            json!({ "p": { "from": "2020-01-01", "to": "2026-03-01" } }),
        )
        .await;
    ils_tests::assert_bad_input(&err, &["period"]);

    // Weeks by default; the CSV of a series through a signed link.
    let d = s
        .ok(&practice.auth(), DASHBOARD, json!({ "p": period() }))
        .await;
    assert_eq!(d["dashboard"]["granularity"], "WEEK", "{d}");
    let export = s
        .ok(
            &practice.auth(),
            EXPORT,
            json!({ "i": { "period": period(), "granularity": "DAY", "key": "orders" } }),
        )
        .await["exportDashboardSeries"]["dashboardExport"]
        .clone();
    assert_eq!(export["rows"], 4, "{export}");
    let csv = s
        .http
        .get(s.url(export["downloadUrl"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "start,orders", "{csv}");
    assert_eq!(lines.len(), 5, "{csv}");
    let today = Utc::now().date_naive().to_string();
    assert!(lines.contains(&format!("{today},1").as_str()), "{csv}");
    let err = s
        .error(
            &practice.auth(),
            EXPORT,
            json!({ "i": { "period": period(), "key": "nothing" } }),
        )
        .await;
    ils_tests::assert_bad_input(&err, &["input", "key"]);

    // The lab's dashboard says nothing of the practice's other figures, and a practice
    // with no trade of its own sees none.
    let stranger = s
        .sign_up("Stranger Optics", "ECP", &email("stranger"))
        .await;
    let d = dashboard(&s, &stranger).await;
    assert_eq!(total(&d, "orders", None), 0.0, "{d}");
    assert!(series(&d, "turnaround_days", None).is_empty(), "{d}");
    assert!(series(&d, "orders_by_status", None).is_empty(), "{d}");
    s.finish().await;
}

const RELEASE: &str =
    "mutation($m: Date!) { publishInsightRelease(input: { month: $m }) { release {
    month epsilon contributors createdAt
    cells { measure label unit dimensions { name value } value margin suppressed }
    peers { companyType key quartiles suppressed } } } }";

const PEERS: &str = "query($m: Date) { peerBenchmarks(month: $m) {
    contributing month benchmarks { key label unit yours quartiles suppressed } } }";

/// Sets the region of `who`'s marketplace profile.
async fn in_region(s: &TestServer, who: &Session, region: &str) {
    s.ok(
        &who.auth(),
        "mutation($i: UpdateMarketplaceProfileInput!) { updateMarketplaceProfile(input: $i) { marketplaceProfile { region } } }",
        json!({ "i": { "region": region } }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_insights_publish_only_what_reveals_no_company_and_peers_see_quartiles() {
    let s = TestServer::start().await;
    let (pa, first, lab) = connected(&s, "Insight").await;
    // Twelve practices in the North (two orders each), one in the South (three), and one
    // in the North that does not contribute (five).
    let mut north = vec![first];
    for i in 1..12 {
        north.push(
            s.sign_up(
                &format!("North Optics {i}"),
                "ECP",
                &email(&format!("north{i}")),
            )
            .await,
        );
    }
    let south = s.sign_up("South Optics", "ECP", &email("south")).await;
    let shy = s.sign_up("Shy Optics", "ECP", &email("shy")).await;
    let off = s
        .ok(
            &shy.auth(),
            "mutation { updateAnalyticsSettings(input: { contributeToInsights: false }) { analyticsSettings { contributeToInsights } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        off["updateAnalyticsSettings"]["analyticsSettings"]["contributeToInsights"],
        false
    );
    let orders = north
        .iter()
        .map(|p| (p, "North", 2))
        .chain([(&south, "South", 3), (&shy, "North", 5)]);
    for (who, region, n) in orders {
        in_region(&s, who, region).await;
        if who.company_id != north[0].company_id {
            ils_tests::connect(&s, who, &lab).await;
        }
        for k in 0..n {
            let o = ORDERS
                .draft(&s, who, progressive_draft(&format!("I-{k}")))
                .await;
            ORDERS.submitted(&s, who, &o, &lab).await;
        }
    }
    rollups_settled(&s).await;

    // Only a month that has ended is released; only platform admins publish.
    let today = Utc::now().date_naive();
    let err = s
        .error(&pa.auth(), RELEASE, json!({ "m": today.to_string() }))
        .await;
    ils_tests::assert_bad_input(&err, &["input", "month"]);
    let err = s
        .error(&north[0].auth(), RELEASE, json!({ "m": "2026-01-15" }))
        .await;
    assert_eq!(err["extensions"]["code"], "FORBIDDEN", "{err}");

    // The trade moves to last month (below the guard), and the rollups are rebuilt.
    let last = today.with_day(1).unwrap() - Duration::days(1);
    let day = format!("{}", last.with_day(3).unwrap());
    let db = s.owner_connection().await;
    for sql in [
        format!(
            "UPDATE lens_orders SET submitted_at = '{day}T10:00:00+00:00' WHERE submitted_at IS NOT NULL"
        ),
        format!("UPDATE order_status_changes SET created_at = '{day}T10:00:00+00:00'"),
    ] {
        db.execute_unprepared(&sql).await.unwrap();
    }
    ils_analytics::rollup::rebuild(&s.server.state.db)
        .await
        .unwrap();

    let release = s
        .ok(&pa.auth(), RELEASE, json!({ "m": last.to_string() }))
        .await["publishInsightRelease"]["release"]
        .clone();
    assert_eq!(release["epsilon"], 1.0, "{release}");
    let text = release.to_string();
    // No company is named or identified anywhere in it.
    for who in north.iter().chain([&south, &shy, &lab]) {
        let id = who.company_id.as_deref().unwrap();
        assert!(!text.contains(id), "{id} in {text}");
        assert!(!text.contains(&ils_tests::company_uuid(who).to_string()));
    }
    for name in ["North Optics", "South Optics", "Shy Optics", "Insight"] {
        assert!(!text.contains(name), "{name} in {text}");
    }
    let cell = |region: Option<&str>| {
        release["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                c["measure"] == "practice_orders"
                    && c["dimensions"] == json!([{ "name": "region", "value": region }])
            })
            .cloned()
    };
    // A region of one practice is not even named (its label would say it exists), and
    // the total over regions less the North would give it away: one of the two goes.
    assert!(cell(Some("South")).is_none(), "{release}");
    assert!(!text.contains("South"), "{release}");
    let north = cell(Some("North")).unwrap_or_else(|| panic!("{release}"));
    let total = cell(None).unwrap_or_else(|| panic!("{release}"));
    assert!(
        north["value"].is_null() || total["value"].is_null(),
        "North and the total together give the South away: {release}"
    );
    assert!(
        [&north, &total]
            .iter()
            .any(|c| c["suppressed"] == "COMPLEMENTARY"),
        "{release}"
    );
    // Every published figure says how far its noise goes.
    for c in release["cells"].as_array().unwrap() {
        assert_eq!(c["value"].is_number(), c["margin"].is_number(), "{c}");
        assert_eq!(c["value"].is_null(), c["suppressed"].is_string(), "{c}");
    }

    // Practices see their place among their peers: 13 contributing practices.
    let peers = s.ok(&south.auth(), PEERS, json!({})).await["peerBenchmarks"].clone();
    assert_eq!(peers["contributing"], true, "{peers}");
    assert_eq!(
        peers["month"],
        json!(last.with_day(1).unwrap().to_string()),
        "{peers}"
    );
    let orders = peers["benchmarks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["key"] == "orders")
        .unwrap_or_else(|| panic!("{peers}"));
    assert_eq!(orders["yours"], 3.0, "{peers}");
    let q: Vec<f64> = orders["quartiles"]
        .as_array()
        .unwrap_or_else(|| panic!("published: {peers}"))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        q[0] <= q[1] && q[1] <= q[2] && q[2] <= 400.0 && q[0] >= 0.0,
        "{q:?}"
    );
    let remakes = peers["benchmarks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["key"] == "remake_rate")
        .unwrap();
    assert_eq!(remakes["yours"], 0.0, "{peers}");
    // The lab is one lab: its distribution is not published.
    let lab_peers = s.ok(&lab.auth(), PEERS, json!({})).await["peerBenchmarks"].clone();
    for b in lab_peers["benchmarks"].as_array().unwrap() {
        assert_eq!(b["suppressed"], "TOO_FEW_CONTRIBUTORS", "{lab_peers}");
        assert!(b["quartiles"].is_null(), "{lab_peers}");
    }
    // A company that does not contribute sees no peer figures.
    let none = s.ok(&shy.auth(), PEERS, json!({})).await["peerBenchmarks"].clone();
    assert_eq!(
        none,
        json!({ "contributing": false, "month": null, "benchmarks": [] })
    );
    // Market insights are the platform's: a practice reads none.
    let err = s
        .error(
            &south.auth(),
            "query($m: Date!) { marketInsights(month: $m) { month } }",
            json!({ "m": last.to_string() }),
        )
        .await;
    assert_eq!(err["extensions"]["code"], "FORBIDDEN", "{err}");

    // Asking again gives the same release, even after more trade and a change of heart.
    s.ok(
        &shy.auth(),
        "mutation { updateAnalyticsSettings(input: { contributeToInsights: true }) { analyticsSettings { contributeToInsights } } }",
        json!({}),
    )
    .await;
    let again = s
        .ok(&pa.auth(), RELEASE, json!({ "m": last.to_string() }))
        .await["publishInsightRelease"]["release"]
        .clone();
    assert_eq!(again, release);
    let read = s
        .ok(
            &pa.auth(),
            "query($m: Date!) { marketInsights(month: $m) { month contributors } insightReleases { month } }",
            json!({ "m": last.to_string() }),
        )
        .await;
    assert_eq!(
        read["marketInsights"]["contributors"], release["contributors"],
        "{read}"
    );
    assert_eq!(
        read["insightReleases"].as_array().unwrap().len(),
        1,
        "{read}"
    );
    s.finish().await;
}
