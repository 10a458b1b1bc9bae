//! The database going away under a running server: while PostgreSQL is down every request
//! answers within the acquire timeout with SERVICE_UNAVAILABLE, HTTP 503 and `Retry-After`
//! (never INTERNAL, never a hang); when it is back the same server answers again without a
//! restart, and no write it acknowledged is lost. On SQLite, a database locked by another
//! writer past the busy timeout is SERVICE_UNAVAILABLE too.
//!
//! The outage uses a private PostgreSQL server of the test's own (`ils_tests::private`),
//! whatever `TEST_DATABASE_URL` says: the shared one is never stopped.
#![allow(clippy::disallowed_methods)] // the SQLite test holds the write lock below the guard

use ils_tests::private::PrivatePostgres;
use ils_tests::{Session, TestServer, email, eventually, nodes};
use sea_orm::{ConnectionTrait, Database, TransactionTrait};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The acquire timeout the servers here run with (`ILS_DB_ACQUIRE_TIMEOUT_SECS`).
const ACQUIRE: Duration = Duration::from_secs(2);

const KEYS: &str = "query($after: String) { apiKeys(first: 100, after: $after) {
    edges { node { name } } pageInfo { hasNextPage endCursor } } }";

fn create_key(name: &str) -> (String, Value) {
    (
        "mutation($name: String!) { createApiKey(input: { name: $name, role: STAFF }) { apiKey { id name } } }".to_owned(),
        json!({ "name": name }),
    )
}

/// One answer as a client sees it.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
    took: Duration,
}

impl Answer {
    fn code(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["code"].as_str()
    }
}

async fn send(s: &TestServer, who: &Session, query: &str, variables: Value) -> Answer {
    let started = Instant::now();
    let resp = s
        .http
        .post(s.url("/graphql"))
        .bearer_auth(&who.access)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("the server answers (it is up; only its database is down)");
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap_or("").to_owned());
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    Answer {
        status,
        retry_after,
        body,
        took: started.elapsed(),
    }
}

/// Asserts `a` is the answer of an unavailable database: 503, `Retry-After` in seconds,
/// SERVICE_UNAVAILABLE with `retryAfter`, within the acquire timeout and a second.
fn assert_unavailable(a: &Answer, what: &str) {
    assert_eq!(a.status, 503, "{what}: {a:?}");
    assert_eq!(a.code(), Some("SERVICE_UNAVAILABLE"), "{what}: {a:?}");
    let secs: u64 = a
        .retry_after
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{what}: no Retry-After in seconds: {a:?}"));
    assert!(secs >= 1, "{what}: {a:?}");
    assert_eq!(
        a.body["errors"][0]["extensions"]["retryAfter"],
        json!(secs),
        "{what}: {a:?}"
    );
    assert!(
        a.took <= ACQUIRE + Duration::from_secs(1),
        "{what}: answered after {:?}",
        a.took
    );
}

/// Every API key name of the caller's company, page by page.
async fn key_names(s: &TestServer, who: &Session) -> Vec<String> {
    let mut names = vec![];
    let mut after = Value::Null;
    loop {
        let data = s.ok(&who.auth(), KEYS, json!({ "after": after })).await;
        for n in nodes(&data["apiKeys"]) {
            names.push(n["name"].as_str().unwrap().to_owned());
        }
        let page = &data["apiKeys"]["pageInfo"];
        if page["hasNextPage"] != json!(true) {
            return names;
        }
        after = page["endCursor"].clone();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgres_is_down_requests_answer_503_and_the_server_recovers_by_itself() {
    if !ils_tests::private::require() {
        return;
    }
    let pg = Arc::new(
        tokio::task::spawn_blocking(PrivatePostgres::start)
            .await
            .unwrap(),
    );
    let admin = Database::connect(pg.admin_url())
        .await
        .expect("private PostgreSQL");
    admin
        .execute_unprepared("CREATE DATABASE ils")
        .await
        .unwrap();
    admin.close().await.ok();
    let url = format!("postgres://postgres@127.0.0.1:{}/ils", pg.port);
    let s = TestServer::start_at(url, tempfile::tempdir().unwrap(), |c| {
        c.db_acquire_timeout_secs = ACQUIRE.as_secs();
    })
    .await;
    let who = s.sign_up("Outage Optical", "ECP", &email("outage")).await;

    // A client writing all along: numbered keys, one after the other.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let log: Arc<Mutex<Vec<(String, Answer)>>> = Arc::default();
    let writer = {
        let (stop, log, who) = (stop.clone(), log.clone(), who.clone());
        let s = &s;
        async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                i += 1;
                let name = format!("w-{i}");
                let (q, v) = create_key(&name);
                let a = send(s, &who, &q, v).await;
                log.lock().unwrap().push((name, a));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let scenario = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let p = pg.clone();
        tokio::task::spawn_blocking(move || p.down()).await.unwrap();
        let down_at = Instant::now();

        // Reads and writes, each answered 503 within the acquire timeout and a second;
        // the pool's connections are dead at first, then it cannot open new ones.
        for i in 0..4 {
            let a = send(&s, &who, KEYS, json!({ "after": null })).await;
            assert_unavailable(&a, &format!("read {i} while down"));
            let (q, v) = create_key(&format!("probe-{i}"));
            let a = send(&s, &who, &q, v).await;
            assert_unavailable(&a, &format!("write {i} while down"));
        }
        // Readiness says so too.
        let ready = s.http.get(s.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status().as_u16(), 503);
        let down_for = down_at.elapsed();

        let p = pg.clone();
        tokio::task::spawn_blocking(move || p.up()).await.unwrap();
        let up_at = Instant::now();
        // The same server, not restarted, answers again.
        let back = eventually(
            "requests succeed again",
            Duration::from_secs(15),
            || async {
                let a = send(&s, &who, KEYS, json!({ "after": null })).await;
                if a.status == 200 && a.body.get("errors").is_none() {
                    Ok(a)
                } else {
                    Err(a)
                }
            },
        )
        .await;
        assert!(back.body["data"]["apiKeys"].is_object(), "{back:?}");
        let recovered_in = up_at.elapsed();
        // Some more writes after the recovery.
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        (down_for, recovered_in)
    };
    let ((down_for, recovered_in), ()) = tokio::join!(scenario, writer);

    let stored = key_names(&s, &who).await;
    let log = std::mem::take(&mut *log.lock().unwrap());
    let mut acknowledged = 0;
    let mut refused = 0;
    for (name, a) in &log {
        if a.status == 200 && a.body.get("errors").is_none() {
            acknowledged += 1;
            assert_eq!(
                a.body["data"]["createApiKey"]["apiKey"]["name"],
                json!(name)
            );
            assert!(
                stored.contains(name),
                "{name} was acknowledged but is not stored"
            );
        } else {
            refused += 1;
            assert_unavailable(a, name);
        }
    }
    let refused_stored = log
        .iter()
        .filter(|(n, a)| a.status != 200 && stored.contains(n))
        .count();
    println!(
        "writes: {} sent, {acknowledged} acknowledged (all stored), {refused} answered 503 \
         ({refused_stored} of them stored anyway: committed as the connection died); \
         database down for {down_for:?}, requests succeeded again {recovered_in:?} after it \
         was back",
        log.len()
    );
    assert!(acknowledged > 0 && refused > 0, "{log:?}");
    // No probe written while the database was down.
    assert!(
        !stored.iter().any(|n| n.starts_with("probe-")),
        "{stored:?}"
    );
    s.server.stop().await;
}

/// SQLite: a write that finds the database locked by another writer for longer than the
/// busy timeout is SERVICE_UNAVAILABLE (503, `Retry-After`), not INTERNAL; once the lock is
/// released the same write succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_database_locked_past_the_busy_timeout_is_unavailable() {
    if ils_tests::postgres_admin_url().is_some() {
        return; // SQLite only
    }
    let s = TestServer::start().await;
    let who = s.sign_up("Locked Optical", "ECP", &email("locked")).await;
    // Another process's writer holds the write lock (a write in an open transaction).
    let other = s.owner_connection().await;
    let holder = other.begin().await.unwrap();
    holder
        .execute_unprepared("CREATE TABLE holds_the_write_lock (x INTEGER)")
        .await
        .expect("the write lock");
    let (q, v) = create_key("while-locked");
    let started = Instant::now();
    let (status, body) = s.post(&who.auth(), &q, v.clone()).await;
    let took = started.elapsed();
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{body}"
    );
    println!("a locked SQLite database answered 503 after {took:?}");
    holder.rollback().await.unwrap();
    other.close().await.ok();
    let data = s.ok(&who.auth(), &q, v).await;
    assert_eq!(data["createApiKey"]["apiKey"]["name"], "while-locked");
    s.finish().await;
}
