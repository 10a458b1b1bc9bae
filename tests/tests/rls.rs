//! The second wall, on its own: PostgreSQL row-level security. These run when the suite
//! runs against PostgreSQL (`TEST_DATABASE_URL`); on SQLite there is no such wall and they
//! say so and return.
#![allow(clippy::disallowed_methods)] // these tests talk SQL below the guard on purpose

use ils_kernel::module::ModuleList;
use ils_kernel::{Role, TenantContext};
use ils_tests::{Auth, PASSWORD, TestServer, email, nodes, uuid_of};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

fn postgres_or_skip(name: &str) -> bool {
    let pg = ils_tests::postgres_admin_url().is_some();
    if !pg {
        eprintln!("{name}: PostgreSQL only (set TEST_DATABASE_URL); not run on SQLite");
    }
    pg
}

async fn count(tx: &impl ConnectionTrait, sql: &str) -> i64 {
    let row = tx
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn tenant_tables(tx: &DatabaseTransaction) -> Vec<String> {
    let rows = tx
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT table_name::text FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'company_id' ORDER BY 1",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rls_is_enabled_and_forced_on_every_tenant_table() {
    if !postgres_or_skip("rls_is_enabled_and_forced_on_every_tenant_table") {
        return;
    }
    let s = TestServer::start().await;
    let conn = s.owner_connection().await;
    let tx = conn.begin().await.unwrap();
    let tables = tenant_tables(&tx).await;
    assert!(tables.len() >= 3, "{tables:?}");
    // Every module's tables (its `Module::tables`), and no tenant table without a module:
    // a new domain's tables are checked here without anyone listing them again.
    let owned = ils_api::schema::Modules::tables();
    let owned_names: Vec<&str> = owned.iter().map(|(_, t)| t.name).collect();
    for t in &tables {
        // The outbox is written below the guard (`Tx::emit`) and read only by the
        // dispatcher; no module reads it.
        if t != "events" {
            assert!(
                owned_names.contains(&t.as_str()),
                "{t} has company_id but no module lists it in Module::tables"
            );
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (module, t) in &owned {
        assert!(seen.insert(t.name), "{} is listed twice ({module})", t.name);
    }
    for t in tables
        .iter()
        .map(String::as_str)
        .chain(owned_names.iter().copied())
    {
        let sql = format!(
            "SELECT (relrowsecurity AND relforcerowsecurity)::int::int8 FROM pg_class WHERE oid = 'public.{t}'::regclass"
        );
        assert_eq!(
            count(&tx, &sql).await,
            1,
            "{t}: row-level security must be enabled and forced"
        );
        let policies = count(
            &tx,
            &format!(
                "SELECT count(*) FROM pg_policies WHERE schemaname = 'public' AND tablename = '{t}'"
            ),
        )
        .await;
        assert!(policies >= 1, "{t} has no policy");
    }
    let role = count(&tx, "SELECT (NOT rolbypassrls AND NOT rolsuper)::int::int8 FROM pg_roles WHERE rolname = 'ils_app'").await;
    assert_eq!(role, 1, "the application role must not bypass RLS");
    tx.rollback().await.unwrap();
    s.finish().await;
}

/// Tables the application role may only add to: the outbox (which it cannot read at all)
/// and the audit log (which it reads, but can neither change nor delete).
const APPEND_ONLY: [&str; 4] = [
    "events",
    "audit_log",
    "order_status_changes",
    "stock_movements",
];

/// Waits until the company's webhook deliveries exist (the dispatcher makes them).
async fn wait_for_deliveries(s: &TestServer, admin: &ils_tests::Session) {
    ils_tests::eventually(
        "a webhook delivery is made",
        std::time::Duration::from_secs(20),
        || async {
            let data = s
                .ok(
                    &admin.auth(),
                    "{ webhookDeliveries(first: 1) { edges { node { id } } } }",
                    json!({}),
                )
                .await;
            if nodes(&data["webhookDeliveries"]).is_empty() {
                Err(data)
            } else {
                Ok(())
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_sql_as_the_app_role_sees_no_other_tenant() {
    if !postgres_or_skip("raw_sql_as_the_app_role_sees_no_other_tenant") {
        return;
    }
    let s = TestServer::start().await;
    // A platform operation list every company may run by ID.
    let platform_doc = "query RlsPlatform { me { roles } }";
    let platform_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        platform_doc.as_bytes(),
    ));
    let pa = s.platform_admin().await;
    publish_one(&s, &pa, "rls-platform", platform_doc).await;
    let mut ids = vec![];
    for name in ["Alpha", "Beta"] {
        let mail = email(name);
        // Suppliers, so that every tenant table (catalogs and their imports too) has rows.
        let admin = s
            .sign_up(&format!("{name} Supplies"), "SUPPLIER", &mail)
            .await;
        s.log_in(&mail, PASSWORD).await; // a second refresh token
        // An endpoint for every event, so the events below leave webhook deliveries too
        // (nothing listens on port 9: they only need to exist).
        s.ok(
            &admin.auth(),
            "mutation { createWebhookEndpoint(input: { url: \"http://127.0.0.1:9/hook\", eventTypes: [\"*\"] }) { secret } }",
            json!({}),
        )
        .await;
        s.ok(
            &admin.auth(),
            "mutation($e: String!) { inviteUser(input: { email: $e, role: STAFF }) { token } }",
            json!({ "e": email(name) }),
        )
        .await;
        // An operation list of its own, a key granted it, and a run by ID (usage).
        publish_one(
            &s,
            &admin,
            "walled",
            &format!("query Rls{name} {{ me {{ roles }} }}"),
        )
        .await;
        let made = s
            .ok(
                &admin.auth(),
                "mutation { createApiKey(input: { name: \"k\", role: STAFF, operationLists: [\"walled\"] }) { secret } }",
                json!({}),
            )
            .await;
        assert!(made["createApiKey"]["secret"].is_string(), "{made}");
        // (The supplier waits for approval, so its key does not work yet: the admin runs
        // the platform's document by ID, which counts for the company.)
        let (_, ran) = s
            .post_body(&admin.auth(), json!({ "documentId": platform_hash }))
            .await;
        assert!(ran["data"]["me"].is_object(), "{ran}");
        ils_tests::eventually(
            "the run's usage",
            std::time::Duration::from_secs(10),
            || async {
                let d = s
                    .ok(
                        &admin.auth(),
                        "{ operationLists { name versions { documents { usage { count } } } } }",
                        json!({}),
                    )
                    .await;
                let used = d["operationLists"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|l| {
                        l["name"] == "rls-platform"
                            && l["versions"][0]["documents"][0]["usage"]
                                .as_array()
                                .is_some_and(|u| !u.is_empty())
                    });
                if used { Ok(()) } else { Err(d) }
            },
        )
        .await;
        s.ok(
            &admin.auth(),
            "mutation { updateMarketplaceProfile(input: { description: \"walled\" }) { marketplaceProfile { listed } } }",
            json!({}),
        )
        .await;
        let (_, imported) = s
            .upload(
                &admin.auth(),
                "mutation($file: Upload!) { importCatalog(input: { file: $file }) { catalogImport { id } } }",
                "catalog.csv",
                b"sku,name,category,price,currency\nCLOTH-1,Cloth,SUNDRY,0.45,GBP\n",
            )
            .await;
        assert!(
            imported["data"]["importCatalog"]["catalogImport"]["id"].is_string(),
            "{imported}"
        );
        ils_tests::eventually(
            "the import's item",
            std::time::Duration::from_secs(10),
            || async {
                let data = s
                    .ok(
                        &admin.auth(),
                        "{ catalogItems { edges { node { sku } } } }",
                        json!({}),
                    )
                    .await;
                if data["catalogItems"]["edges"]
                    .as_array()
                    .is_some_and(|e| e.len() == 1)
                {
                    Ok(())
                } else {
                    Err(data)
                }
            },
        )
        .await;
        wait_for_deliveries(&s, &admin).await;
        ids.push((
            uuid_of(admin.company_id.as_deref().unwrap()),
            uuid_of(&admin.user_id),
        ));
    }
    let ((a, a_user), (b, b_user)) = (ids[0], ids[1]);

    let conn = s.owner_connection().await;
    // Health data belongs to practices, and these tenants are suppliers: their rows are
    // written below the wall (the owner in system scope), since the wall is what is tested.
    let seed = conn.begin().await.unwrap();
    seed.execute_unprepared("SELECT set_config('app.system', 'on', true)")
        .await
        .unwrap();
    for company in [a, b] {
        let patient = Uuid::now_v7();
        seed.execute_unprepared(&format!(
            "INSERT INTO patients (id, company_id, first_name, last_name, search_text, created_at, updated_at) \
             VALUES ('{patient}', '{company}', 'Pat', 'Ient', 'pat ient', now(), now());\n\
             INSERT INTO prescriptions (id, company_id, patient_id, rx, rx_minus_cyl, created_at, updated_at) \
             VALUES ('{}', '{company}', '{patient}', '{{}}', '{{}}', now(), now());\n\
             INSERT INTO lens_orders (id, company_id, order_number, status, version, patient_ref, rx, \
             rx_minus_cyl, lens, fit, job_type, created_at, updated_at) VALUES ('{order}', '{company}', \
             'ORD-000001', 'DRAFT', 1, 'REF', '{{}}', '{{}}', '{{}}', '{{}}', 'NEW', now(), now());\n\
             INSERT INTO order_status_changes (id, order_id, company_id, to_status, actor_company_id, created_at) \
             VALUES ('{}', '{order}', '{company}', 'DRAFT', '{company}', now());\n\
             INSERT INTO lab_turnarounds (company_id, rules, updated_at) VALUES ('{company}', '{{}}', now());\n\
             INSERT INTO stock_locations (id, company_id, name, is_default, created_at, updated_at) \
             VALUES ('{location}', '{company}', 'Main', true, now(), now());\n\
             INSERT INTO products (id, company_id, sku, name, category, attributes, currency, active, \
             search_text, created_at, updated_at) VALUES ('{product}', '{company}', 'SKU-1', 'Cloth', \
             'SUNDRY', '{{}}', 'GBP', true, 'sku 1 cloth', now(), now());\n\
             INSERT INTO stock_balances (id, company_id, location_id, product_id, on_hand, reserved, avg_cost, \
             low, updated_at) VALUES ('{}', '{company}', '{location}', '{product}', 5, 0, 10000, false, now());\n\
             INSERT INTO stock_movements (id, company_id, location_id, product_id, kind, quantity, reserved_delta, \
             on_hand_after, avg_cost_after, created_at) VALUES ('{}', '{company}', '{location}', '{product}', \
             'RECEIPT', 5, 0, 5, 10000, now());\n\
             INSERT INTO inventory_settings (company_id, allow_negative_stock, updated_at) \
             VALUES ('{company}', false, now());\n\
             INSERT INTO purchase_orders (id, company_id, supplier_id, supplier_name, po_number, status, version, \
             currency, location_id, created_by_system, created_at, updated_at) VALUES ('{po}', '{company}', \
             '{company}', 'S', 'PO-000001', 'DRAFT', 1, 'GBP', '{location}', false, now(), now());\n\
             INSERT INTO purchase_order_lines (id, order_id, company_id, catalog_item_id, product_id, sku, name, \
             quantity, unit_price, received_quantity) VALUES ('{}', '{po}', '{company}', '{product}', '{product}', \
             'SKU-1', 'Cloth', 1, 4500, 0);\n\
             INSERT INTO stock_counts (id, company_id, location_id, status, created_at, updated_at) \
             VALUES ('{count}', '{company}', '{location}', 'OPEN', now(), now());\n\
             INSERT INTO stock_count_lines (id, count_id, company_id, product_id, counted, updated_at) \
             VALUES ('{}', '{count}', '{company}', '{product}', 4, now());\n\
             INSERT INTO stock_discrepancies (id, company_id, location_id, product_id, balance_on_hand, \
             ledger_on_hand, balance_reserved, ledger_reserved, status, found_at) VALUES ('{}', '{company}', \
             '{location}', '{product}', 6, 5, 0, 0, 'OPEN', now());\n\
             INSERT INTO demand_daily (id, company_id, product_id, location_id, day, units) \
             VALUES ('{}', '{company}', '{product}', '{location}', '2026-12-01', 3);\n\
             INSERT INTO agent_settings (company_id, enabled, review_days, decline_memory_days, updated_at) \
             VALUES ('{company}', true, 7, 30, now());\n\
             INSERT INTO analytics_daily (id, company_id, metric, dim, day, value, count) \
             VALUES ('{}', '{company}', 'orders', '', '2026-12-01', 1, 1);\n\
             INSERT INTO analytics_sources (id, company_id, source_id, facts, updated_at) \
             VALUES ('{}', '{company}', '{order}', '[]', now());\n\
             INSERT INTO analytics_settings (company_id, contribute, updated_at) \
             VALUES ('{company}', true, now());\n\
             INSERT INTO usage_daily (id, company_id, day, caller, operation, requests, cost, \
             refusals, errors) VALUES ('{}', '{company}', '2026-12-01', 'user:{company}', 'Me', 1, 1, 0, 0);",
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            order = Uuid::now_v7(),
            location = Uuid::now_v7(),
            product = Uuid::now_v7(),
            po = Uuid::now_v7(),
            count = Uuid::now_v7(),
        ))
        .await
        .unwrap();
    }
    // A release of market insights is the platform's row: every company reads it.
    seed.execute_unprepared(&format!(
        "INSERT INTO insight_releases (id, company_id, month, epsilon, contributors, body, created_at) \
         VALUES ('{}', NULL, '2026-11-01', 1, 0, '{{}}', now())",
        Uuid::now_v7()
    ))
    .await
    .unwrap();
    // The assistant's tables: settings, usage and the answer cache are the company's; a
    // conversation and its messages are also private to their person.
    for (company, user) in [(a, a_user), (b, b_user)] {
        let conversation = Uuid::now_v7();
        let message = Uuid::now_v7();
        seed.execute_unprepared(&format!(
            "INSERT INTO ai_settings (company_id, share_patient_data, updated_at) VALUES ('{company}', false, now());\n\
             INSERT INTO ai_conversations (id, company_id, user_id, title, created_at, updated_at) \
             VALUES ('{conversation}', '{company}', '{user}', 'walled', now(), now());\n\
             INSERT INTO ai_messages (id, company_id, user_id, conversation_id, role, content, tool_failed, \
             input_tokens, output_tokens, cost_micros, created_at) VALUES ('{message}', '{company}', '{user}', \
             '{conversation}', 'USER', 'walled question', false, 0, 0, 0, now());\n\
             INSERT INTO ai_usage (id, company_id, user_id, message_id, provider, model, input_tokens, \
             output_tokens, cost_micros, created_at) VALUES ('{}', '{company}', '{user}', '{message}', \
             'openai', 'm', 1, 1, 1, now());\n\
             INSERT INTO ai_spend (id, company_id, month, cost_micros, updated_at) \
             VALUES ('{}', '{company}', '2026-12', 1, now());\n\
             INSERT INTO ai_answers (id, company_id, question_hash, tool_calls, fingerprint, answer, provider, \
             model, hits, created_at) VALUES ('{}', '{company}', 'h', '[]', 'f', 'walled answer', 'openai', 'm', \
             0, now());",
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        ))
        .await
        .unwrap();
    }
    seed.commit().await.unwrap();
    let tx = conn.begin().await.unwrap();
    // The append-only tables have walls of their own, tested below.
    let tables: Vec<String> = tenant_tables(&tx)
        .await
        .into_iter()
        .filter(|t| !APPEND_ONLY.contains(&t.as_str()))
        .collect();
    tx.execute_unprepared("SET LOCAL ROLE ils_app")
        .await
        .unwrap();

    // With no tenant set, nothing at all is visible.
    for t in tables
        .iter()
        .map(String::as_str)
        .chain(["companies", "refresh_tokens"])
    {
        assert_eq!(
            count(&tx, &format!("SELECT count(*) FROM {t}")).await,
            0,
            "{t} without a tenant"
        );
    }

    tx.execute_unprepared(&format!(
        "SELECT set_config('app.company_id', '{a}', true), set_config('app.user_id', '{a_user}', true)"
    ))
    .await
    .unwrap();
    for t in &tables {
        assert_eq!(
            count(
                &tx,
                &format!("SELECT count(*) FROM {t} WHERE company_id = '{b}'")
            )
            .await,
            0,
            "{t}: B's rows leak to A"
        );
        assert!(
            count(&tx, &format!("SELECT count(*) FROM {t}")).await > 0,
            "{t}: A must see its own rows (the test would prove nothing)"
        );
        let updated = tx
            .execute_unprepared(&format!(
                "UPDATE {t} SET company_id = company_id WHERE company_id = '{b}'"
            ))
            .await
            .unwrap();
        assert_eq!(updated.rows_affected(), 0, "{t}: A updated B's rows");
        // Some tables (lens orders) may not be deleted from at all: refused is fine too.
        tx.execute_unprepared("SAVEPOINT before_delete")
            .await
            .unwrap();
        match tx
            .execute_unprepared(&format!("DELETE FROM {t} WHERE company_id = '{b}'"))
            .await
        {
            Ok(deleted) => assert_eq!(deleted.rows_affected(), 0, "{t}: A deleted B's rows"),
            Err(e) => {
                assert!(e.to_string().contains("permission denied"), "{t}: {e}");
                tx.execute_unprepared("ROLLBACK TO SAVEPOINT before_delete")
                    .await
                    .unwrap();
            }
        }
    }
    // A release of market insights (the platform's row): A reads it, never changes it.
    for sql in [
        "UPDATE insight_releases SET epsilon = 99",
        "DELETE FROM insight_releases",
    ] {
        let done = tx.execute_unprepared(sql).await.unwrap();
        assert_eq!(done.rows_affected(), 0, "{sql}");
    }
    tx.execute_unprepared("SAVEPOINT release").await.unwrap();
    let forged = tx
        .execute_unprepared(&format!(
            "INSERT INTO insight_releases (id, company_id, month, epsilon, contributors, body, created_at) \
             VALUES ('{}', NULL, '2026-10-01', 1, 0, '{{}}', now())",
            Uuid::now_v7()
        ))
        .await;
    assert!(forged.is_err(), "a company published a release: {forged:?}");
    tx.execute_unprepared("ROLLBACK TO SAVEPOINT release")
        .await
        .unwrap();
    // The stock ledger: A reads its own lines only, and nobody rewrites one.
    assert_eq!(
        count(
            &tx,
            &format!("SELECT count(*) FROM stock_movements WHERE company_id = '{b}'")
        )
        .await,
        0,
        "B's stock movements leak to A"
    );
    assert!(count(&tx, "SELECT count(*) FROM stock_movements").await > 0);
    for sql in [
        "UPDATE stock_movements SET quantity = 0",
        "DELETE FROM stock_movements",
    ] {
        tx.execute_unprepared("SAVEPOINT ledger").await.unwrap();
        let err = tx.execute_unprepared(sql).await.expect_err(sql).to_string();
        assert!(err.contains("permission denied"), "{sql}: {err}");
        tx.execute_unprepared("ROLLBACK TO SAVEPOINT ledger")
            .await
            .unwrap();
    }
    assert_eq!(
        count(
            &tx,
            &format!("SELECT count(*) FROM companies WHERE id = '{b}'")
        )
        .await,
        0
    );
    assert_eq!(count(&tx, "SELECT count(*) FROM companies").await, 1);
    assert_eq!(
        count(
            &tx,
            &format!("SELECT count(*) FROM refresh_tokens WHERE user_id = '{b_user}'")
        )
        .await,
        0
    );
    assert_eq!(count(&tx, "SELECT count(*) FROM refresh_tokens").await, 2);
    // Another person of A's own company sees none of A's conversations or messages.
    tx.execute_unprepared(&format!(
        "SAVEPOINT colleague; SELECT set_config('app.user_id', '{}', true)",
        Uuid::now_v7()
    ))
    .await
    .unwrap();
    for t in ["ai_conversations", "ai_messages"] {
        assert_eq!(
            count(&tx, &format!("SELECT count(*) FROM {t}")).await,
            0,
            "{t}: a colleague reads another person's conversation"
        );
    }
    assert_eq!(count(&tx, "SELECT count(*) FROM ai_usage").await, 1);
    tx.execute_unprepared("ROLLBACK TO SAVEPOINT colleague")
        .await
        .unwrap();

    // Writing a row for B is refused by the policy's check.
    tx.execute_unprepared("SAVEPOINT before_insert")
        .await
        .unwrap();
    let forged = tx
        .execute_unprepared(&format!(
            "INSERT INTO api_keys (id, company_id, name, role, persisted_only, key_prefix, key_hash, created_by, created_at) \
             VALUES ('{}', '{b}', 'forged', 'COMPANY_ADMIN', false, 'ils_x', 'forged', '{a_user}', now())",
            Uuid::now_v7()
        ))
        .await;
    let err = forged
        .expect_err("inserting a row for another tenant must fail")
        .to_string();
    assert!(err.contains("row-level security"), "{err}");
    tx.rollback().await.unwrap();
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_work_runs_as_the_app_role_and_survives_a_missing_filter() {
    if !postgres_or_skip("guarded_work_runs_as_the_app_role_and_survives_a_missing_filter") {
        return;
    }
    let s = TestServer::start().await;
    let a = s.sign_up("Alpha Optics", "ECP", &email("a")).await;
    let b = s.sign_up("Beta Optics", "ECP", &email("b")).await;
    s.ok(
        &b.auth(),
        "mutation { createApiKey(input: { name: \"b\", role: STAFF }) { secret } }",
        json!({}),
    )
    .await;
    let ctx = TenantContext::for_user(
        Some(uuid_of(a.company_id.as_deref().unwrap())),
        uuid_of(&a.user_id),
        vec![Role::CompanyAdmin],
        false,
    );
    let tx = s.server.state.db.tenant(&ctx).await.unwrap();
    let who = tx
        .conn()
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_user::text, current_setting('app.company_id')",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(who.try_get_by_index::<String>(0).unwrap(), "ils_app");
    assert_eq!(
        who.try_get_by_index::<String>(1).unwrap(),
        ctx.company_id().unwrap().to_string()
    );
    // A query that forgot the tenant filter (a bug in the first wall) still sees only A.
    assert_eq!(count(tx.conn(), "SELECT count(*) FROM users").await, 1);
    assert_eq!(count(tx.conn(), "SELECT count(*) FROM api_keys").await, 0);
    assert_eq!(count(tx.conn(), "SELECT count(*) FROM companies").await, 1);
    drop(tx);
    let _ = Auth::None;
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_role_gains_nothing_from_the_system_flag_or_a_lookup() {
    if !postgres_or_skip("the_app_role_gains_nothing_from_the_system_flag_or_a_lookup") {
        return;
    }
    let s = TestServer::start().await;
    let mail = email("victim");
    s.sign_up("Victim Optics", "ECP", &mail).await;
    let conn = s.owner_connection().await;
    let tx = conn.begin().await.unwrap();
    tx.execute_unprepared("SET LOCAL ROLE ils_app")
        .await
        .unwrap();
    tx.execute_unprepared("SELECT set_config('app.system', 'on', true)")
        .await
        .unwrap();
    for t in [
        "companies",
        "users",
        "invitations",
        "api_keys",
        "refresh_tokens",
    ] {
        assert_eq!(
            count(&tx, &format!("SELECT count(*) FROM {t}")).await,
            0,
            "{t} with app.system as ils_app"
        );
    }
    // A credential look-up reads the row it names and cannot change it.
    tx.execute_unprepared(&format!("SELECT set_config('app.lookup', '{mail}', true)"))
        .await
        .unwrap();
    assert_eq!(count(&tx, "SELECT count(*) FROM users").await, 1);
    let moved = tx
        .execute_unprepared("UPDATE users SET first_name = 'Mallory'")
        .await
        .unwrap();
    assert_eq!(moved.rows_affected(), 0, "a look-up wrote a row");
    let deleted = tx.execute_unprepared("DELETE FROM users").await.unwrap();
    assert_eq!(deleted.rows_affected(), 0, "a look-up deleted a row");
    tx.rollback().await.unwrap();
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_without_superuser_or_bypassrls_runs_the_server() {
    if !postgres_or_skip("an_owner_without_superuser_or_bypassrls_runs_the_server") {
        return;
    }
    // The set-up README.md documents: an owner role that may use ils_app, nothing more.
    let admin = sea_orm::Database::connect(ils_tests::postgres_admin_url().unwrap())
        .await
        .unwrap();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (owner, db) = (format!("ils_owner_{tag}"), format!("ils_t_{tag}"));
    for sql in [
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ils_app') THEN CREATE ROLE ils_app NOLOGIN NOBYPASSRLS; END IF; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$".to_owned(),
        format!("CREATE ROLE {owner} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE"),
        format!("GRANT ils_app TO {owner}"),
        format!("CREATE DATABASE {db} OWNER {owner}"),
    ] {
        admin.execute_unprepared(&sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let admin_url = ils_tests::postgres_admin_url().unwrap();
    let host = admin_url
        .split('@')
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let url = format!("postgres://{owner}@{host}/{db}");
    let s = TestServer::start_at(url, tempfile::tempdir().unwrap(), |c| c.seed_demo = true).await;

    // Seeding ran through the owner's system policy: the demo logins work.
    let lab = s
        .log_in("admin@clearview.example", "clearview-demo-2026")
        .await;
    assert_eq!(lab.company_status.as_deref(), Some("ACTIVE"));
    let pa = s.log_in("platform@ils.example", "platform-demo-2026").await;
    let all = s
        .ok(
            &pa.auth(),
            "{ companies { edges { node { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(nodes(&all["companies"]).len(), 3);
    // A sale, then the demand history's migration again (down and up) as this owner: its
    // backfill reads the ledger through the forced wall and finds the sale (the agent's
    // migration after it goes down and up too).
    let product = s
        .ok(
            &lab.auth(),
            "mutation { createProduct(input: { sku: \"BLANK-1\", name: \"Blank\", category: SUNDRY, currency: \"EUR\" }) { product { id } } }",
            json!({}),
        )
        .await["createProduct"]["product"]["id"]
        .clone();
    for (kind, q) in [("RECEIPT", 10), ("SALE", 4)] {
        let cost = if kind == "RECEIPT" {
            json!({ "amount": "1.00", "currency": "EUR" })
        } else {
            Value::Null
        };
        s.ok(
            &lab.auth(),
            "mutation($i: PostStockMovementInput!) { postStockMovement(input: $i) { stockMovement { id } } }",
            json!({ "i": { "productId": product, "kind": kind, "quantity": q, "unitCost": cost } }),
        )
        .await;
    }
    {
        use ils_migration::{Migrator, MigratorTrait};
        let conn = s.owner_connection().await;
        Migrator::down(&conn, Some(2)).await.unwrap();
        Migrator::up(&conn, None).await.unwrap();
        conn.close().await.ok();
    }
    let got = s
        .ok(
            &lab.auth(),
            "query($p: ID!) { demandForecast(productId: $p) { recentDemand { units } } }",
            json!({ "p": product }),
        )
        .await;
    assert_eq!(
        got["demandForecast"]["recentDemand"][27]["units"], 4,
        "today's sale, backfilled: {got}"
    );
    // And without the system flag the owner itself sees nothing (RLS is forced).
    let conn = s.owner_connection().await;
    let tx = conn.begin().await.unwrap();
    assert_eq!(count(&tx, "SELECT count(*) FROM users").await, 0);
    tx.rollback().await.unwrap();
    conn.close().await.ok();
    s.finish().await;
    admin
        .execute_unprepared(&format!("DROP ROLE IF EXISTS {owner}"))
        .await
        .ok();
}

/// The outbox and the audit log are append-only for the application role: it cannot read
/// the outbox at all, reads only its own company's audit rows, and can neither change nor
/// delete either; a trigger refuses changes to the audit log even by the owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_and_the_audit_log_are_append_only() {
    if !postgres_or_skip("the_outbox_and_the_audit_log_are_append_only") {
        return;
    }
    let s = TestServer::start().await;
    let a = s.sign_up("Alpha Optics", "ECP", &email("a")).await;
    let b = s.sign_up("Beta Optics", "ECP", &email("b")).await;
    for admin in [&a, &b] {
        s.ok(
            &admin.auth(),
            "mutation { createApiKey(input: { name: \"k\", role: STAFF }) { secret } }",
            json!({}),
        )
        .await;
    }
    let (a_id, b_id) = (
        uuid_of(a.company_id.as_deref().unwrap()),
        uuid_of(b.company_id.as_deref().unwrap()),
    );
    let conn = s.owner_connection().await;
    let tx = conn.begin().await.unwrap();
    tx.execute_unprepared(&format!(
        "SET LOCAL ROLE ils_app; SELECT set_config('app.company_id', '{a_id}', true)"
    ))
    .await
    .unwrap();
    let refused = |sql: &'static str| {
        let tx = &tx;
        async move {
            tx.execute_unprepared("SAVEPOINT probe").await.unwrap();
            let err = tx.execute_unprepared(sql).await.expect_err(sql).to_string();
            tx.execute_unprepared("ROLLBACK TO SAVEPOINT probe")
                .await
                .unwrap();
            assert!(err.contains("permission denied"), "{sql}: {err}");
        }
    };
    refused("SELECT count(*) FROM events").await;
    refused("UPDATE events SET dispatched_at = NULL").await;
    refused("DELETE FROM events").await;
    refused("UPDATE audit_log SET outcome = 'SUCCESS'").await;
    refused("DELETE FROM audit_log").await;
    assert!(count(&tx, "SELECT count(*) FROM audit_log").await > 0);
    assert_eq!(
        count(
            &tx,
            &format!("SELECT count(*) FROM audit_log WHERE company_id = '{b_id}'")
        )
        .await,
        0,
        "B's audit rows leak to A"
    );
    tx.rollback().await.unwrap();

    // Even the owner (here a superuser) cannot rewrite history: the trigger refuses.
    let tx = conn.begin().await.unwrap();
    let err = tx
        .execute_unprepared("DELETE FROM audit_log")
        .await
        .expect_err("the audit log refuses deletes")
        .to_string();
    assert!(err.contains("append-only"), "{err}");
    tx.rollback().await.unwrap();
    s.finish().await;
}

/// Runs `sql` as the application role acting for `company` and returns the count it selects.
async fn count_as(s: &TestServer, company: Uuid, sql: &str) -> i64 {
    let conn = s.owner_connection().await;
    let tx = conn.begin().await.unwrap();
    tx.execute_unprepared(&format!(
        "SET LOCAL ROLE ils_app; SELECT set_config('app.company_id', '{company}', true)"
    ))
    .await
    .unwrap();
    let n = count(&tx, sql).await;
    tx.rollback().await.unwrap();
    n
}

/// Runs a write as the application role acting for `company`; the rows it touched, or
/// the database's refusal.
async fn write_as(s: &TestServer, company: Uuid, sql: &str) -> Result<u64, String> {
    let conn = s.owner_connection().await;
    let tx = conn.begin().await.unwrap();
    tx.execute_unprepared(&format!(
        "SET LOCAL ROLE ils_app; SELECT set_config('app.company_id', '{company}', true)"
    ))
    .await
    .unwrap();
    let out = tx
        .execute_unprepared(sql)
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| e.to_string());
    tx.rollback().await.unwrap();
    out
}

/// The marketplace's extra ways into walled tables, proved in the database alone: a listed
/// profile is readable by every company, a supplier's catalog only by companies actively
/// connected to it (and not after the connection ends), a connection only by its two
/// parties; none of these reads lets anyone change a row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marketplace_reads_open_only_through_listing_and_active_connections() {
    if !postgres_or_skip("marketplace_reads_open_only_through_listing_and_active_connections") {
        return;
    }
    let s = TestServer::start().await;
    let platform = s.platform_admin().await;
    let supplier = s
        .sign_up("Wall Supplies", "SUPPLIER", &email("wall-sup"))
        .await;
    let lab = s.sign_up("Wall Lab", "LAB", &email("wall-lab")).await;
    let buyer = s.sign_up("Wall Optics", "ECP", &email("wall-ecp")).await;
    let stranger = s.sign_up("Other Optics", "ECP", &email("wall-x")).await;
    for c in [&supplier, &lab] {
        s.ok(
            &platform.auth(),
            "mutation($id: ID!) { approveCompany(input: { id: $id }) { company { status } } }",
            json!({ "id": c.company_id }),
        )
        .await;
    }
    s.ok(
        &supplier.auth(),
        "mutation { updateMarketplaceProfile(input: { listed: true, description: \"frames\" }) { marketplaceProfile { listed } } }",
        json!({}),
    )
    .await;
    s.ok(
        &lab.auth(),
        "mutation { updateMarketplaceProfile(input: { listed: false, description: \"private lab\" }) { marketplaceProfile { listed } } }",
        json!({}),
    )
    .await;
    s.ok(
        &supplier.auth(),
        "mutation { createCatalogItem(input: { sku: \"CLOTH-1\", name: \"Cloth\", category: SUNDRY, price: { amount: \"0.45\", currency: \"GBP\" } }) { catalogItem { id } } }",
        json!({}),
    )
    .await;
    let asked = s
        .ok(
            &buyer.auth(),
            "mutation($c: ID!) { requestConnection(input: { companyId: $c }) { connection { id } } }",
            json!({ "c": supplier.company_id }),
        )
        .await;
    let connection = asked["requestConnection"]["connection"]["id"].clone();
    let (sup, lab_id, buy, other) = (
        uuid_of(supplier.company_id.as_deref().unwrap()),
        uuid_of(lab.company_id.as_deref().unwrap()),
        uuid_of(buyer.company_id.as_deref().unwrap()),
        uuid_of(stranger.company_id.as_deref().unwrap()),
    );
    let items_of_sup = format!("SELECT count(*) FROM catalog_items WHERE company_id = '{sup}'");

    // A pending request opens nothing.
    assert_eq!(count_as(&s, buy, &items_of_sup).await, 0);

    // The database decides how a connection comes about, whatever the first wall does.
    let refused = |r: &Result<u64, String>, what: &str| {
        assert!(r.is_err(), "{what} must be refused, got {r:?}");
    };
    let key = |a: Uuid, b: Uuid| {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        format!("{lo}:{hi}")
    };
    // The lab grants itself the supplier's catalog: an ACTIVE row, or one it did not ask.
    for (requester, state) in [(lab_id, "ACTIVE"), (sup, "PENDING")] {
        let responder = if requester == sup { lab_id } else { sup };
        let forged = write_as(
            &s,
            lab_id,
            &format!(
                "INSERT INTO connections (id, requester_company_id, responder_company_id, requester_name, \
                 requester_type, responder_name, responder_type, pair_key, state, created_at, updated_at) \
                 VALUES ('{}', '{requester}', '{responder}', 'x', 'LAB', 'y', 'SUPPLIER', '{}', '{state}', now(), now())",
                Uuid::now_v7(),
                key(requester, responder)
            ),
        )
        .await;
        refused(
            &forged,
            &format!("a forged {state} connection asked by {requester}"),
        );
    }
    // The buyer accepts its own request; re-points it at the lab; deletes it.
    let conn_of_buyer = format!("requester_company_id = '{buy}'");
    for (sql, what) in [
        (
            format!("UPDATE connections SET state = 'ACTIVE' WHERE {conn_of_buyer}"),
            "accepting one's own request",
        ),
        (
            format!(
                "UPDATE connections SET responder_company_id = '{lab_id}' WHERE {conn_of_buyer}"
            ),
            "moving a connection",
        ),
        (
            format!("UPDATE connections SET responder_name = 'Fake' WHERE {conn_of_buyer}"),
            "renaming the other side",
        ),
    ] {
        refused(&write_as(&s, buy, &sql).await, what);
    }
    let deleted = write_as(
        &s,
        buy,
        &format!("DELETE FROM connections WHERE {conn_of_buyer}"),
    )
    .await;
    refused(&deleted, "deleting a connection");
    // A profile's copy of its company cannot be made up: not ACTIVE while pending, not
    // another name.
    let pending = s
        .sign_up("Pending Lab", "LAB", &email("wall-pending"))
        .await;
    s.ok(
        &pending.auth(),
        "mutation { updateMarketplaceProfile(input: { description: \"soon\" }) { marketplaceProfile { listed } } }",
        json!({}),
    )
    .await;
    let pend = uuid_of(pending.company_id.as_deref().unwrap());
    for sql in [
        format!(
            "UPDATE marketplace_profiles SET status = 'ACTIVE', listed = true WHERE company_id = '{pend}'"
        ),
        format!(
            "UPDATE marketplace_profiles SET name = 'Wall Supplies' WHERE company_id = '{pend}'"
        ),
    ] {
        let r = write_as(&s, pend, &sql).await;
        assert!(
            r.as_ref().is_err_and(|e| e.contains("row-level security")),
            "{sql}: {r:?}"
        );
    }
    // The honest edit passes.
    let ok = format!(
        "UPDATE marketplace_profiles SET description = 'later' WHERE company_id = '{pend}'"
    );
    assert_eq!(write_as(&s, pend, &ok).await, Ok(1));
    s.ok(
        &supplier.auth(),
        "mutation($id: ID!) { respondToConnection(input: { id: $id, accept: true }) { connection { status } } }",
        json!({ "id": connection }),
    )
    .await;

    // The listed supplier's profile is readable by anyone signed in; the unlisted lab's
    // by nobody else.
    for who in [buy, other] {
        let p = format!("SELECT count(*) FROM marketplace_profiles WHERE company_id = '{sup}'");
        assert_eq!(count_as(&s, who, &p).await, 1);
        let p = format!("SELECT count(*) FROM marketplace_profiles WHERE company_id = '{lab_id}'");
        assert_eq!(count_as(&s, who, &p).await, 0);
    }
    // The catalog and the connection: the connected buyer reads them, the stranger not.
    assert_eq!(count_as(&s, buy, &items_of_sup).await, 1);
    assert_eq!(count_as(&s, other, &items_of_sup).await, 0);
    assert_eq!(
        count_as(&s, buy, "SELECT count(*) FROM connections").await,
        1
    );
    assert_eq!(
        count_as(&s, sup, "SELECT count(*) FROM connections").await,
        1
    );
    assert_eq!(
        count_as(&s, other, "SELECT count(*) FROM connections").await,
        0
    );
    assert_eq!(
        count_as(&s, lab_id, "SELECT count(*) FROM connections").await,
        0
    );

    // Reading is not writing: the buyer changes and deletes nothing of the supplier's,
    // and cannot add to its catalog or edit its profile.
    for sql in [
        format!("UPDATE catalog_items SET name = 'mine' WHERE company_id = '{sup}'"),
        format!("DELETE FROM catalog_items WHERE company_id = '{sup}'"),
        format!("UPDATE marketplace_profiles SET description = 'x' WHERE company_id = '{sup}'"),
        format!("DELETE FROM marketplace_profiles WHERE company_id = '{sup}'"),
    ] {
        assert_eq!(write_as(&s, buy, &sql).await, Ok(0), "{sql}");
    }
    let forged = write_as(
        &s,
        buy,
        &format!(
            "INSERT INTO catalog_items (id, company_id, sku, name, category, price_units, currency, \
             min_order_quantity, lead_time_days, active, attributes, search_text, created_at, updated_at) \
             VALUES ('{}', '{sup}', 'FORGED', 'x', 'SUNDRY', 1, 'GBP', 1, 0, true, '{{}}', 'x', now(), now())",
            Uuid::now_v7()
        ),
    )
    .await;
    assert!(
        forged
            .as_ref()
            .is_err_and(|e| e.contains("row-level security")),
        "{forged:?}"
    );
    // A stranger cannot touch the connection either.
    let end =
        format!("UPDATE connections SET state = 'ENDED' WHERE requester_company_id = '{buy}'");
    assert_eq!(write_as(&s, other, &end).await, Ok(0));

    // Ending the connection closes the catalog at the next statement.
    s.ok(
        &buyer.auth(),
        "mutation($id: ID!) { endConnection(input: { id: $id }) { connection { status } } }",
        json!({ "id": connection }),
    )
    .await;
    assert_eq!(count_as(&s, buy, &items_of_sup).await, 0);
    assert_eq!(count_as(&s, sup, &items_of_sup).await, 1);
    s.finish().await;
}

/// A lens order is shared by exactly two companies, in the database too: the lab reads
/// the order and its history; nobody else reads either; only the practice creates an
/// order (as its own draft); nobody deletes one; history is written by a party as itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lens_order_is_walled_to_its_practice_and_its_lab() {
    if !postgres_or_skip("a_lens_order_is_walled_to_its_practice_and_its_lab") {
        return;
    }
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let lab = ils_tests::listed_company(&s, &pa, "Wall Lab", "LAB", json!({})).await;
    let practice = s.sign_up("Wall Optics", "ECP", &email("w-ecp")).await;
    let stranger = ils_tests::listed_company(&s, &pa, "Other Lab", "LAB", json!({})).await;
    ils_tests::connect(&s, &practice, &lab).await;
    let draft = s
        .ok(
            &practice.auth(),
            "mutation { createOrderDraft(input: { patientRef: \"R1\", rx: { right: { sphere: \"-1.00\" }, left: { sphere: \"-1.00\" }, binocularPd: \"63.0\" }, lens: { design: SINGLE_VISION, index: \"1.50\" } }) { order { id } } }",
            json!({}),
        )
        .await;
    s.ok(
        &practice.auth(),
        "mutation($id: ID!, $lab: ID!) { submitOrder(input: { id: $id, labId: $lab }) { order { status } } }",
        json!({ "id": draft["createOrderDraft"]["order"]["id"], "lab": lab.company_id }),
    )
    .await;
    let (ecp, lab_id, other) = (
        uuid_of(practice.company_id.as_deref().unwrap()),
        uuid_of(lab.company_id.as_deref().unwrap()),
        uuid_of(stranger.company_id.as_deref().unwrap()),
    );
    // The lab sees the history from the submission on (the draft was the practice's own).
    for (who, orders, steps) in [(ecp, 1, 2), (lab_id, 1, 1), (other, 0, 0)] {
        assert_eq!(
            count_as(&s, who, "SELECT count(*) FROM lens_orders").await,
            orders
        );
        assert_eq!(
            count_as(&s, who, "SELECT count(*) FROM order_status_changes").await,
            steps
        );
    }
    // The lab cannot create orders for the practice, or a submitted one for itself.
    for (company, status, lab_col) in [
        (ecp, "DRAFT", "NULL".to_owned()),
        (lab_id, "SUBMITTED", format!("'{lab_id}'")),
    ] {
        let forged = write_as(
            &s,
            lab_id,
            &format!(
                "INSERT INTO lens_orders (id, company_id, lab_company_id, order_number, status, version, patient_ref, \
                 rx, rx_minus_cyl, lens, fit, job_type, created_at, updated_at) VALUES ('{}', '{company}', {lab_col}, \
                 'X-1', '{status}', 1, 'R', '{{}}', '{{}}', '{{}}', '{{}}', 'NEW', now(), now())",
                Uuid::now_v7()
            ),
        )
        .await;
        assert!(forged.is_err(), "{company} {status}: {forged:?}");
    }
    // The parties and the job are fixed in the database too: the lab cannot hand the
    // order to another practice or rewrite the prescription; the practice cannot re-send a
    // submitted order to another lab; no change skips the version.
    for (who, sql) in [
        (
            lab_id,
            format!("UPDATE lens_orders SET company_id = '{other}', version = version + 1"),
        ),
        (
            lab_id,
            "UPDATE lens_orders SET rx = '{}', version = version + 1".to_owned(),
        ),
        (
            ecp,
            format!("UPDATE lens_orders SET lab_company_id = '{other}', version = version + 1"),
        ),
        (
            ecp,
            "UPDATE lens_orders SET status = 'CANCELLED'".to_owned(),
        ),
    ] {
        let r = write_as(&s, who, &sql).await;
        assert!(r.is_err(), "{sql}: {r:?}");
    }
    // Once submitted, the job is fixed for the practice too, and the lab re-measures it
    // (frame and fitting heights only) only while it holds it.
    let measure = "UPDATE lens_orders SET frame = '{\"a\":\"50\"}', version = version + 1";
    for (who, sql) in [
        (
            ecp,
            "UPDATE lens_orders SET rx = '{}', version = version + 1",
        ),
        (ecp, measure),
        (lab_id, measure),
    ] {
        let r = write_as(&s, who, sql).await;
        assert!(r.is_err(), "SUBMITTED, {sql}: {r:?}");
    }
    s.ok(
        &lab.auth(),
        "mutation($id: ID!) { moveOrder(input: { id: $id, version: 2, to: RECEIVED }) { order { status } } }",
        json!({ "id": draft["createOrderDraft"]["order"]["id"] }),
    )
    .await;
    assert_eq!(write_as(&s, lab_id, measure).await, Ok(1));
    // The lab's fields are the lab's, a cancellation's reason the practice's, and the
    // rest of the job (notes included) is fixed for both.
    for (who, sql) in [
        (
            ecp,
            "UPDATE lens_orders SET notes = 'changed', version = version + 1",
        ),
        (
            lab_id,
            "UPDATE lens_orders SET notes = 'changed', version = version + 1",
        ),
        (
            ecp,
            "UPDATE lens_orders SET due_date = '2030-01-01', version = version + 1",
        ),
        (
            ecp,
            "UPDATE lens_orders SET lab_job_number = 'X', version = version + 1",
        ),
        (
            lab_id,
            "UPDATE lens_orders SET cancel_reason = 'X', version = version + 1",
        ),
        // The practice's job reference and the eyes are the job (m0013).
        (
            ecp,
            "UPDATE lens_orders SET external_ref = 'X', version = version + 1",
        ),
        (
            lab_id,
            "UPDATE lens_orders SET eyes = 'LEFT', version = version + 1",
        ),
        // The DCS file measured from goes with the measurements: the lab's while it holds
        // the job.
        (
            ecp,
            "UPDATE lens_orders SET dcs_source = 'JOB=1', version = version + 1",
        ),
    ] {
        let r = write_as(&s, who, sql).await;
        assert!(r.is_err(), "RECEIVED, {sql}: {r:?}");
    }
    assert_eq!(
        write_as(
            &s,
            lab_id,
            "UPDATE lens_orders SET dcs_source = 'JOB=1', version = version + 1"
        )
        .await,
        Ok(1)
    );
    assert_eq!(
        write_as(
            &s,
            lab_id,
            "UPDATE lens_orders SET due_date = '2030-01-01', version = version + 1"
        )
        .await,
        Ok(1)
    );
    for (who, sql) in [
        (ecp, measure.to_owned()),
        (
            lab_id,
            "UPDATE lens_orders SET lens = '{}', version = version + 1".to_owned(),
        ),
        (
            lab_id,
            "UPDATE lens_orders SET frame = '{}', status = 'SHIPPED', version = version + 1"
                .to_owned(),
        ),
    ] {
        let r = write_as(&s, who, &sql).await;
        assert!(r.is_err(), "RECEIVED, {sql}: {r:?}");
    }

    // A step must name its order's own parties: the lab cannot slip a step into another
    // lab's order by naming itself.
    let forged = write_as(
        &s,
        lab_id,
        &format!(
            "INSERT INTO order_status_changes (id, order_id, company_id, lab_company_id, to_status, actor_company_id, created_at) \
             SELECT '{}', id, company_id, '{lab_id}', 'CANCELLED', '{lab_id}', now() FROM lens_orders",
            Uuid::now_v7()
        ),
    )
    .await;
    assert_eq!(forged, Ok(1), "its own order's step, as itself, is fine");
    let order_id = uuid_of(draft["createOrderDraft"]["order"]["id"].as_str().unwrap());
    let forged = write_as(
        &s,
        other,
        &format!(
            "INSERT INTO order_status_changes (id, order_id, company_id, lab_company_id, to_status, actor_company_id, created_at) \
             VALUES ('{}', '{order_id}', '{ecp}', '{other}', 'CANCELLED', '{other}', now())",
            Uuid::now_v7()
        ),
    )
    .await;
    assert!(
        forged.is_err(),
        "a step in someone else's order: {forged:?}"
    );
    // A stranger changes nothing; nobody deletes; history is written as oneself.
    assert_eq!(
        write_as(&s, other, "UPDATE lens_orders SET status = 'CANCELLED'").await,
        Ok(0)
    );
    let deleted = write_as(&s, ecp, "DELETE FROM lens_orders").await;
    assert!(
        deleted
            .as_ref()
            .is_err_and(|e| e.contains("permission denied")),
        "{deleted:?}"
    );
    let forged = write_as(
        &s,
        lab_id,
        &format!(
            "INSERT INTO order_status_changes (id, order_id, company_id, lab_company_id, to_status, actor_company_id, created_at) \
             SELECT '{}', id, company_id, lab_company_id, 'CANCELLED', company_id, now() FROM lens_orders",
            Uuid::now_v7()
        ),
    )
    .await;
    assert!(
        forged.is_err(),
        "history in the practice's name: {forged:?}"
    );
    s.finish().await;
}

/// A purchase order in the database: the buyer's, and the supplier's to read and answer
/// once submitted; nobody else's. Only the buyer creates one (its own draft, no supplier
/// yet), the supplier changes nothing but its answer, lines change by the buyer only, and
/// a submitted order is never deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_order_is_walled_to_its_buyer_and_its_supplier() {
    if !postgres_or_skip("a_purchase_order_is_walled_to_its_buyer_and_its_supplier") {
        return;
    }
    let s = TestServer::start().await;
    let pa = s.platform_admin().await;
    let supplier = ils_tests::listed_company(&s, &pa, "Wall Supplies", "SUPPLIER", json!({})).await;
    let buyer = s
        .sign_up("Wall Buyer Optics", "ECP", &email("w-buyer"))
        .await;
    let stranger = s.sign_up("Other Optics", "ECP", &email("w-other")).await;
    ils_tests::connect(&s, &buyer, &supplier).await;
    let item = s
        .ok(
            &supplier.auth(),
            "mutation { createCatalogItem(input: { sku: \"CLOTH-1\", name: \"Cloth\", category: SUNDRY, price: { amount: \"0.45\", currency: \"GBP\" } }) { catalogItem { id } } }",
            json!({}),
        )
        .await["createCatalogItem"]["catalogItem"]["id"]
        .clone();
    let po = s
        .ok(
            &buyer.auth(),
            "mutation($s: ID!, $i: ID!) { createPurchaseOrder(input: { supplierId: $s, lines: [{ catalogItemId: $i, quantity: 10 }] }) { purchaseOrder { id version } } }",
            json!({ "s": supplier.company_id, "i": item }),
        )
        .await["createPurchaseOrder"]["purchaseOrder"]
        .clone();
    let (b, sup, other) = (
        uuid_of(buyer.company_id.as_deref().unwrap()),
        uuid_of(supplier.company_id.as_deref().unwrap()),
        uuid_of(stranger.company_id.as_deref().unwrap()),
    );
    // A draft is the buyer's alone.
    for (who, n) in [(b, 1), (sup, 0), (other, 0)] {
        assert_eq!(
            count_as(&s, who, "SELECT count(*) FROM purchase_orders").await,
            n
        );
        assert_eq!(
            count_as(&s, who, "SELECT count(*) FROM purchase_order_lines").await,
            n
        );
    }
    s.ok(
        &buyer.auth(),
        "mutation($id: ID!, $v: Int!) { submitPurchaseOrder(input: { id: $id, version: $v }) { purchaseOrder { status } } }",
        json!({ "id": po["id"], "v": po["version"] }),
    )
    .await;
    for (who, n) in [(b, 1), (sup, 1), (other, 0)] {
        assert_eq!(
            count_as(&s, who, "SELECT count(*) FROM purchase_orders").await,
            n
        );
        assert_eq!(
            count_as(&s, who, "SELECT count(*) FROM purchase_order_lines").await,
            n
        );
    }
    // The supplier answers, and does nothing else.
    for sql in [
        "UPDATE purchase_orders SET notes = 'x', version = version + 1",
        "UPDATE purchase_orders SET status = 'RECEIVED', version = version + 1",
        "DELETE FROM purchase_orders",
    ] {
        let r = write_as(&s, sup, sql).await;
        assert!(r.is_err() || r == Ok(0), "{sql}: {r:?}");
    }
    assert_eq!(
        write_as(&s, sup, "UPDATE purchase_order_lines SET quantity = 1").await,
        Ok(0),
        "the supplier cannot change lines"
    );
    assert_eq!(
        write_as(
            &s,
            sup,
            "UPDATE purchase_orders SET status = 'ACKNOWLEDGED', supplier_reference = 'S-1', version = version + 1"
        )
        .await,
        Ok(1)
    );
    // Strangers change nothing; nobody creates an order for someone else, or one already
    // naming its supplier; a submitted order is not deleted.
    assert_eq!(
        write_as(
            &s,
            other,
            "UPDATE purchase_orders SET notes = 'x', version = version + 1"
        )
        .await,
        Ok(0)
    );
    let forged = write_as(
        &s,
        b,
        &format!(
            "INSERT INTO purchase_orders (id, company_id, supplier_id, supplier_company_id, supplier_name, po_number, \
             status, version, currency, location_id, created_by_system, created_at, updated_at) \
             SELECT '{}', '{b}', '{sup}', '{sup}', 'S', 'PO-X', 'SUBMITTED', 1, 'GBP', location_id, false, now(), now() \
             FROM purchase_orders LIMIT 1",
            Uuid::now_v7()
        ),
    )
    .await;
    assert!(forged.is_err(), "{forged:?}");
    assert_eq!(write_as(&s, b, "DELETE FROM purchase_orders").await, Ok(0));
    // Nor does the buyer rewrite a submitted order: its lines' quantities and prices, whom
    // they go to, the supplier's answer, the way back to a draft, extra lines; and no
    // product, location or balance is deleted (their ledger would go with them).
    for sql in [
        "UPDATE purchase_order_lines SET unit_price = 1".to_owned(),
        "UPDATE purchase_order_lines SET quantity = 999".to_owned(),
        format!("UPDATE purchase_order_lines SET supplier_company_id = '{other}'"),
        "UPDATE purchase_order_lines SET received_quantity = received_quantity - 1".to_owned(),
        "UPDATE purchase_orders SET supplier_reference = 'forged', version = version + 1"
            .to_owned(),
        "UPDATE purchase_orders SET status = 'DRAFT', version = version + 1".to_owned(),
        "UPDATE purchase_orders SET currency = 'USD', version = version + 1".to_owned(),
        format!(
            "INSERT INTO purchase_order_lines (id, order_id, company_id, catalog_item_id, product_id, sku, name, \
             quantity, unit_price, received_quantity) SELECT '{}', order_id, company_id, catalog_item_id, \
             product_id, 'X', 'X', 1, 1, 0 FROM purchase_order_lines LIMIT 1",
            Uuid::now_v7()
        ),
        "DELETE FROM products".to_owned(),
        "DELETE FROM stock_locations".to_owned(),
        "DELETE FROM stock_balances".to_owned(),
    ] {
        let r = write_as(&s, b, &sql).await;
        assert!(r.is_err(), "{sql}: {r:?}");
    }
    // What the buyer does do still works: receiving adds up, once the supplier answered.
    s.ok(
        &supplier.auth(),
        "mutation($id: ID!) { acknowledgePurchaseOrder(input: { id: $id, version: 2 }) { purchaseOrder { status } } }",
        json!({ "id": po["id"] }),
    )
    .await;
    assert_eq!(
        write_as(
            &s,
            b,
            "UPDATE purchase_order_lines SET received_quantity = received_quantity + 1"
        )
        .await,
        Ok(1)
    );
    s.finish().await;
}

/// Operation lists in the database alone: a company reads its own lists and the
/// platform's, never another company's, and changes or deletes only its own; the
/// platform's rows (null owner) are read-only to every company.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operation_lists_are_walled_and_the_platforms_are_read_only() {
    if !postgres_or_skip("operation_lists_are_walled_and_the_platforms_are_read_only") {
        return;
    }
    let s = TestServer::start().await;
    let a = s.sign_up("Lists A", "ECP", &email("ol-a")).await;
    let b = s.sign_up("Lists B", "ECP", &email("ol-b")).await;
    let pa = s.platform_admin().await;
    for (who, list) in [(&a, "a-own"), (&b, "b-own"), (&pa, "platform")] {
        let doc = format!("query Q_{} {{ me {{ roles }} }}", list.replace('-', "_"));
        publish_one(&s, who, list, &doc).await;
    }
    let ca = uuid_of(a.company_id.as_deref().unwrap());
    for table in [
        "operation_lists",
        "operation_list_versions",
        "persisted_documents",
    ] {
        // Its own and the platform's.
        assert_eq!(
            count_as(&s, ca, &format!("SELECT count(*) AS n FROM {table}")).await,
            2,
            "{table}"
        );
        // The platform's rows: readable, never changed or deleted by a company.
        assert_eq!(
            write_as(
                &s,
                ca,
                &format!("DELETE FROM {table} WHERE company_id IS NULL")
            )
            .await,
            Ok(0),
            "{table}"
        );
        // Another company's: neither.
        assert_eq!(
            write_as(
                &s,
                ca,
                &format!("DELETE FROM {table} WHERE company_id <> '{ca}'")
            )
            .await,
            Ok(0),
            "{table}"
        );
    }
    assert_eq!(
        write_as(
            &s,
            ca,
            "UPDATE operation_lists SET name = 'stolen' WHERE company_id IS NULL"
        )
        .await,
        Ok(0)
    );
    // A company cannot write a platform row (a null owner) either.
    let refused = write_as(
        &s,
        ca,
        &format!("INSERT INTO operation_lists (id, company_id, name, created_at) VALUES ('{}', NULL, 'mine', now())", Uuid::now_v7()),
    )
    .await;
    assert!(refused.is_err(), "{refused:?}");
    // Its own it may delete.
    assert_eq!(
        write_as(
            &s,
            ca,
            &format!("DELETE FROM persisted_documents WHERE company_id = '{ca}'")
        )
        .await,
        Ok(1)
    );
    s.finish().await;
}

/// Publishes `doc` as the only document of `who`'s operation list `list`.
async fn publish_one(s: &TestServer, who: &ils_tests::Session, list: &str, doc: &str) {
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(doc.as_bytes()));
    let (status, body) = s
        .upload(
            &who.auth(),
            &format!("mutation($file: Upload!) {{ publishOperations(input: {{ list: \"{list}\", manifest: $file }}) {{ version {{ id }} }} }}"),
            "m.json",
            &serde_json::to_vec(&json!({ hash: doc })).unwrap(),
        )
        .await;
    assert!(status == 200 && body.get("errors").is_none(), "{body}");
}
