//! Every paginated list is one index range at any size: the statement a list sends is
//! captured as the server sent it (with its values) and PostgreSQL's plan for it is read
//! under the same role and tenant settings the guard uses. A counted fact, not a timing:
//! no Sort, no sequential scan, and, for a tenant's list, an index condition on the
//! column that scopes it. One practice is loaded with 20,000 orders (and another with as
//! many) so the orders pages are also planned on real statistics.
#![allow(clippy::disallowed_methods)] // plans are read, and the bulk written, below the guard on purpose

use ils_tests::orders::connected;
use ils_tests::{Session, TestServer, company_uuid, connect, email, listed_company};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use serde_json::{Value, json};

/// One list as a client asks for it, and what its plan must show.
struct List {
    name: &'static str,
    query: String,
    /// The table the page reads.
    table: &'static str,
    /// The column an index condition must name (the tenant's scope); `None` for the lists
    /// that are not one tenant's (the directory, the platform's companies), which must
    /// still be an ordered index scan.
    scoped_by: Option<&'static str>,
}

fn list(
    name: &'static str,
    args: &str,
    table: &'static str,
    scoped_by: Option<&'static str>,
) -> List {
    let args = if args.is_empty() {
        String::new()
    } else {
        format!("{args}, ")
    };
    List {
        name,
        query: format!(
            "{{ {name}({args}last: 50) {{ nodes {{ id }} pageInfo {{ hasPreviousPage }} }} }}"
        ),
        table,
        scoped_by,
    }
}

/// Every plan node of a JSON plan, depth first.
fn nodes(plan: &Value, out: &mut Vec<Value>) {
    out.push(plan.clone());
    if let Some(children) = plan["Plans"].as_array() {
        for c in children {
            nodes(c, out);
        }
    }
}

/// The user row id behind a session.
fn user_uuid(session: &Session) -> uuid::Uuid {
    ils_kernel::id::decode_any(&session.user_id)
        .expect("a global id")
        .1
}

/// PostgreSQL's plan for `statement` as the guard would run it for `who` (the application
/// role and the tenant settings); with `forced`, sequential and bitmap scans are priced
/// out, so the plan shows whether an ordered index range exists at all, whatever the
/// table's size.
async fn plan(
    owner: &DatabaseConnection,
    who: Option<&Session>,
    platform: bool,
    statement: &Statement,
    forced: bool,
) -> Vec<Value> {
    let tx = owner.begin().await.unwrap();
    let company = who
        .and_then(|w| w.company_id.as_ref().map(|_| company_uuid(w).to_string()))
        .unwrap_or_default();
    let user = who.map(|w| user_uuid(w).to_string()).unwrap_or_default();
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config('role', 'ils_app', true), set_config('app.company_id', $1, true), \
         set_config('app.user_id', $2, true), set_config('app.lookup', '', true), \
         set_config('app.platform_admin', $3, true)",
        [
            company.into(),
            user.into(),
            (if platform { "on" } else { "off" }).into(),
        ],
    ))
    .await
    .unwrap();
    if forced {
        tx.execute_unprepared("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
            .await
            .unwrap();
    }
    let explain = Statement {
        sql: format!("EXPLAIN (FORMAT JSON) {}", statement.sql),
        values: statement.values.clone(),
        db_backend: DbBackend::Postgres,
    };
    let row = tx.query_one_raw(explain).await.unwrap().expect("a plan");
    let text: Value = row.try_get_by_index(0).unwrap();
    tx.rollback().await.unwrap();
    let mut out = Vec::new();
    nodes(&text[0]["Plan"], &mut out);
    out
}

/// The page statement a list sent: the one that reads its table ordered by id, limited.
async fn page_statement(s: &TestServer, who: &Session, l: &List) -> Statement {
    s.server.statements.record();
    let data = s.ok(&who.auth(), &l.query, json!({})).await;
    let sent = s.server.statements.take_recorded();
    assert!(data[l.name]["nodes"].is_array(), "{}: {data}", l.name);
    let quoted = format!("FROM \"{}\"", l.table);
    let pages: Vec<Statement> = sent
        .into_iter()
        .filter(|st| st.sql.contains(&quoted) && st.sql.contains(" LIMIT "))
        .collect();
    assert_eq!(
        pages.len(),
        1,
        "{}: one page statement expected: {pages:#?}",
        l.name
    );
    pages.into_iter().next().unwrap()
}

/// What a list's plan must show; returns a one-line summary of it, or what is wrong.
fn check(l: &List, plan: &[Value]) -> Result<String, String> {
    let summary: Vec<String> = plan
        .iter()
        .map(|n| {
            let mut s = n["Node Type"].as_str().unwrap_or("?").to_owned();
            if let Some(i) = n["Index Name"].as_str() {
                s.push_str(&format!(" using {i}"));
            }
            if n["Scan Direction"] == "Backward" {
                s.push_str(" (backward)");
            }
            s
        })
        .collect();
    let summary = summary.join(" > ");
    let wrong = |what: String| Err(format!("{}: {what}: {summary}", l.name));
    for n in plan {
        let ty = n["Node Type"].as_str().unwrap_or("");
        if ty.ends_with("Sort") {
            return wrong("a sort".into());
        }
        if n["Relation Name"] == l.table && ty != "Index Scan" && ty != "Index Only Scan" {
            return wrong(format!("{} is read by a {ty}", l.table));
        }
    }
    let scans: Vec<&Value> = plan
        .iter()
        .filter(|n| n["Relation Name"] == l.table)
        .collect();
    if scans.len() != 1 {
        return wrong(format!("{} is read {} times", l.table, scans.len()));
    }
    if let Some(col) = l.scoped_by {
        let cond = scans[0]["Index Cond"].as_str().unwrap_or("");
        if !cond.contains(col) {
            return wrong(format!("the index condition ({cond}) does not name {col}"));
        }
    }
    Ok(summary)
}

/// Copies `template` (a row of `table`) `n` times for the same tenant: the bulk that
/// makes PostgreSQL plan on real statistics.
async fn clone_rows(
    owner: &DatabaseConnection,
    table: &str,
    template: uuid::Uuid,
    n: u32,
    overrides: &str,
) {
    owner
        .execute_unprepared("SELECT set_config('app.system', 'on', false)")
        .await
        .unwrap();
    owner
        .execute_unprepared(&format!(
            "INSERT INTO {table} SELECT (jsonb_populate_record(null::{table}, to_jsonb(t) || \
             jsonb_build_object('id', gen_random_uuid()) || {overrides})).* \
             FROM {table} t, generate_series(1, {n}) g WHERE t.id = '{template}'"
        ))
        .await
        .unwrap();
    owner
        .execute_unprepared(&format!("ANALYZE {table}"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_is_an_index_range_scan() {
    let s = TestServer::start_with(|c| c.workers = 0).await;
    if !s.is_postgres() {
        eprintln!("plans are read on PostgreSQL; this run is on SQLite");
        s.finish().await;
        return;
    }
    let (pa, practice, lab) = connected(&s, "Plans").await;
    let supplier = listed_company(&s, &pa, "Plans Supply", "SUPPLIER", json!({})).await;
    connect(&s, &practice, &supplier).await;
    let other = s.sign_up("Other Plans", "ECP", &email("other-plans")).await;
    connect(&s, &other, &lab).await;

    // 20,000 orders of one practice, half of them sent to the lab; as many of another.
    let owner = s.owner_connection().await;
    let started = std::time::Instant::now();
    for who in [&practice, &other] {
        let draft = s
            .ok(
                &who.auth(),
                "mutation { createOrderDraft(input: { patientRef: \"BULK\" }) { order { id } } }",
                json!({}),
            )
            .await;
        let id =
            ils_kernel::id::decode_any(draft["createOrderDraft"]["order"]["id"].as_str().unwrap())
                .unwrap()
                .1;
        let lab_id = company_uuid(&lab);
        clone_rows(
            &owner,
            "lens_orders",
            id,
            10_000,
            "jsonb_build_object('order_number', 'B-' || g)",
        )
        .await;
        clone_rows(
            &owner,
            "lens_orders",
            id,
            10_000,
            &format!(
                "jsonb_build_object('order_number', 'S-' || g, 'status', 'SUBMITTED', \
                 'lab_company_id', '{lab_id}', 'lab_name', 'Plans Lens Lab')"
            ),
        )
        .await;
    }

    eprintln!("loaded the orders in {:?}", started.elapsed());
    let supplier_id = supplier.company_id.clone().unwrap();
    let lists: Vec<(List, &Session)> = vec![
        (
            list("orders", "", "lens_orders", Some("company_id")),
            &practice,
        ),
        (
            list("labOrders", "", "lens_orders", Some("lab_company_id")),
            &lab,
        ),
        (list("users", "", "users", Some("company_id")), &practice),
        (
            list("invitations", "", "invitations", Some("company_id")),
            &practice,
        ),
        (
            list("apiKeys", "", "api_keys", Some("company_id")),
            &practice,
        ),
        (list("jobs", "", "jobs", Some("company_id")), &practice),
        (
            list(
                "webhookEndpoints",
                "",
                "webhook_endpoints",
                Some("company_id"),
            ),
            &practice,
        ),
        (
            list(
                "webhookDeliveries",
                "",
                "webhook_deliveries",
                Some("company_id"),
            ),
            &practice,
        ),
        (
            list("auditLog", "", "audit_log", Some("company_id")),
            &practice,
        ),
        (
            list(
                "connections",
                "filter: { direction: OUTGOING }",
                "connections",
                Some("requester_company_id"),
            ),
            &practice,
        ),
        (
            list(
                "connections",
                "filter: { direction: INCOMING }",
                "connections",
                Some("responder_company_id"),
            ),
            &lab,
        ),
        (
            list("catalogItems", "", "catalog_items", Some("company_id")),
            &supplier,
        ),
        (
            list(
                "supplierCatalog",
                &format!("supplierId: \"{supplier_id}\""),
                "catalog_items",
                Some("company_id"),
            ),
            &practice,
        ),
        (
            list("catalogImports", "", "data_imports", Some("company_id")),
            &supplier,
        ),
        (
            list("patients", "", "patients", Some("company_id")),
            &practice,
        ),
        (
            list("productImports", "", "data_imports", Some("company_id")),
            &practice,
        ),
        (
            list("products", "", "products", Some("company_id")),
            &practice,
        ),
        (
            list("purchaseOrders", "", "purchase_orders", Some("company_id")),
            &practice,
        ),
        (
            list(
                "supplierPurchaseOrders",
                "",
                "purchase_orders",
                Some("supplier_company_id"),
            ),
            &supplier,
        ),
        (
            list("stockLevels", "", "stock_balances", Some("company_id")),
            &practice,
        ),
        (
            list("stockMovements", "", "stock_movements", Some("company_id")),
            &practice,
        ),
        (
            list(
                "marketplaceLabs",
                "",
                "marketplace_profiles",
                Some("company_type"),
            ),
            &practice,
        ),
        (
            list(
                "marketplaceSuppliers",
                "",
                "marketplace_profiles",
                Some("company_type"),
            ),
            &practice,
        ),
    ];

    let (mut report, mut wrong) = (Vec::new(), Vec::new());
    let mut note = |name: &str, checked: Result<String, String>, how: &str| match checked {
        Ok(summary) => report.push(format!("{name:<24} {summary}{how}")),
        Err(e) => wrong.push(e),
    };
    for (l, who) in &lists {
        let statement = page_statement(&s, who, l).await;
        let forced = plan(&owner, Some(who), false, &statement, true).await;
        note(l.name, check(l, &forced), "");
    }
    // The orders pages on real statistics: no settings priced anything out.
    for (l, who) in &lists[..2] {
        let statement = page_statement(&s, who, l).await;
        let real = plan(&owner, Some(who), false, &statement, false).await;
        note(l.name, check(l, &real), " (real statistics)");
    }
    // The platform's list of companies.
    let companies = list("companies", "", "companies", None);
    let statement = page_statement(&s, &pa, &companies).await;
    let forced = plan(&owner, Some(&pa), true, &statement, true).await;
    note(companies.name, check(&companies, &forced), "");
    println!("{}", report.join("\n"));
    assert!(
        wrong.is_empty(),
        "lists that are not one index range:\n{}",
        wrong.join("\n")
    );
    s.finish().await;
}
