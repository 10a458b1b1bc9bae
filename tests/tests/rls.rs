//! The second wall, on its own: PostgreSQL row-level security. These run when the suite
//! runs against PostgreSQL (`TEST_DATABASE_URL`); on SQLite there is no such wall and they
//! say so and return.
#![allow(clippy::disallowed_methods)] // these tests talk SQL below the guard on purpose

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ils_kernel::{Actor, Role, TenantContext};
use ils_tests::{Auth, PASSWORD, TestServer, email};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

fn uuid_of(global_id: &str) -> Uuid {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(global_id).unwrap()).unwrap();
    Uuid::parse_str(raw.split_once(':').unwrap().1).unwrap()
}

fn postgres_or_skip(name: &str) -> bool {
    let pg = ils_tests::postgres_admin_url().is_some();
    if !pg {
        eprintln!("{name}: PostgreSQL only (set TEST_DATABASE_URL); not run on SQLite");
    }
    pg
}

async fn count(tx: &DatabaseTransaction, sql: &str) -> i64 {
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
    for t in tables
        .iter()
        .map(String::as_str)
        .chain(["companies", "refresh_tokens"])
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
const APPEND_ONLY: [&str; 2] = ["events", "audit_log"];

/// Waits until the company's webhook deliveries exist (the dispatcher makes them).
async fn wait_for_deliveries(s: &TestServer, admin: &ils_tests::Session) {
    for _ in 0..150 {
        let data = s
            .ok(
                &admin.auth(),
                "{ webhookDeliveries(first: 1) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        if data["webhookDeliveries"]["edges"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no webhook delivery was made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_sql_as_the_app_role_sees_no_other_tenant() {
    if !postgres_or_skip("raw_sql_as_the_app_role_sees_no_other_tenant") {
        return;
    }
    let s = TestServer::start().await;
    let mut ids = vec![];
    for name in ["Alpha", "Beta"] {
        let mail = email(name);
        let admin = s.sign_up(&format!("{name} Optics"), "ECP", &mail).await;
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
            "mutation($e: String!) { inviteUser(email: $e, role: STAFF) { token } }",
            json!({ "e": email(name) }),
        )
        .await;
        s.ok(
            &admin.auth(),
            "mutation { createApiKey(name: \"k\", role: STAFF) { secret } }",
            json!({}),
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
        let deleted = tx
            .execute_unprepared(&format!("DELETE FROM {t} WHERE company_id = '{b}'"))
            .await
            .unwrap();
        assert_eq!(deleted.rows_affected(), 0, "{t}: A deleted B's rows");
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
        "mutation { createApiKey(name: \"b\", role: STAFF) { secret } }",
        json!({}),
    )
    .await;
    let ctx = TenantContext {
        company_id: Some(uuid_of(a.company_id.as_deref().unwrap())),
        actor: Actor::User(uuid_of(&a.user_id)),
        roles: vec![Role::CompanyAdmin],
        platform_admin: false,
        persisted_only: false,
    };
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
        ctx.company_id.unwrap().to_string()
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
    assert_eq!(all["companies"]["edges"].as_array().unwrap().len(), 3);
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
            "mutation { createApiKey(name: \"k\", role: STAFF) { secret } }",
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
