//! SIGTERM under load, on a real `ils serve` process: keep-alive clients writing in a loop
//! and WebSocket subscribers. The server stops accepting, answers what it has read, closes
//! its connections, and closes every WebSocket with 1012 (service restart): no request is
//! left read but unanswered, and every socket learns it should reconnect.

use ils_tests::ws::{self, TRANSPORT_WS};
use ils_tests::{Auth, TestServer, email, nodes};
use serde_json::{Value, json};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ILS: &str = env!("CARGO_BIN_EXE_ils-under-test");

/// What one request of a load client came to.
#[derive(Debug)]
enum Outcome {
    /// A full answer: HTTP status and body.
    Answered(u16, Value),
    /// No answer: a connection error (refused, or closed before an answer came).
    Failed(String),
}

const CREATE: &str = "mutation($name: String!) { createApiKey(input: { name: $name, role: STAFF }) { apiKey { name } } }";

/// One keep-alive client: its own connection pool, writing key `c<n>-<i>` after key until
/// `stop`, or until requests fail several times in a row (the server is gone).
async fn client(
    base: String,
    token: String,
    n: usize,
    stop: Arc<AtomicBool>,
) -> Vec<(String, Outcome)> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut out = vec![];
    let mut failures = 0;
    for i in 0.. {
        if stop.load(Ordering::SeqCst) || failures >= 3 {
            break;
        }
        let name = format!("c{n}-{i}");
        let sent = http
            .post(format!("{base}/graphql"))
            .bearer_auth(&token)
            .json(&json!({ "query": CREATE, "variables": { "name": name } }))
            .send()
            .await;
        let outcome = match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match resp.json::<Value>().await {
                    Ok(body) => {
                        failures = 0;
                        Outcome::Answered(status, body)
                    }
                    // Headers came but not the whole body: a cut answer.
                    Err(e) => Outcome::Failed(format!("body cut: {e}")),
                }
            }
            Err(e) => {
                failures += 1;
                Outcome::Failed(format!("{e:?}"))
            }
        };
        out.push((name, outcome));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_answers_what_it_read_and_closes_sockets_with_1012() {
    let dir = tempfile::tempdir().unwrap();
    let url = ils_tests::fresh_database(&dir).await;
    let port = ils_tests::process::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let stderr = dir.path().join("stderr.log");
    let mut cmd = tokio::process::Command::new(ILS);
    cmd.env_clear()
        .current_dir(dir.path())
        .arg("serve")
        .env("RUST_BACKTRACE", "1")
        .env("DATABASE_URL", &url)
        .env("ILS_JWT_SECRET", ils_tests::JWT_SECRET)
        .env("ILS_LISTEN", format!("127.0.0.1:{port}"))
        .env("ILS_DATA_DIR", dir.path().join("data"))
        .env("ILS_SEED_DEMO", "false")
        .env("ILS_SHUTDOWN_GRACE_SECS", "10")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .kill_on_drop(true);
    if let Some(r) = ils_tests::redis_url() {
        cmd.env("REDIS_URL", r).env(
            "ILS_REDIS_PREFIX",
            format!("ils-test-{}", uuid::Uuid::new_v4().simple()),
        );
    }
    let mut child = cmd.spawn().expect("ils serve started");
    let logs = || std::fs::read_to_string(&stderr).unwrap_or_default();
    ils_tests::process::wait_until_up(&mut child, &base, logs).await;

    let signed = ils_tests::sign_up_at(
        &base,
        &url,
        &dir.path().join("data/mail"),
        "Shutdown Optical",
        &email("term"),
    )
    .await;
    let token = signed["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{signed}"))
        .to_owned();

    // Subscribers, each with a live subscription.
    let mut sockets = vec![];
    for _ in 0..3 {
        let mut socket = ws::connect_to(&base, TRANSPORT_WS).await;
        ws::init(&mut socket, &Auth::Bearer(token.clone())).await;
        ws::subscribe(
            &mut socket,
            "events",
            ws::EVENTS,
            json!({ "types": ["company.*"] }),
        )
        .await;
        sockets.push(socket);
    }

    // Keep-alive clients writing in a loop; SIGTERM in the middle.
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|n| tokio::spawn(client(base.clone(), token.clone(), n, stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pid = child.id().expect("a pid");
    let term_at = Instant::now();
    let killed = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .expect("kill ran");
    assert!(killed.success());

    // Every socket is closed with 1012.
    let closes: Arc<Mutex<Vec<Option<u16>>>> = Arc::default();
    for mut socket in sockets {
        let (_, code) = ws::until_closed_within(&mut socket, Duration::from_secs(15)).await;
        closes.lock().unwrap().push(code);
    }
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap_or_else(|_| panic!("still running 30 s after SIGTERM:\n{}", logs()))
        .unwrap();
    let exited_after = term_at.elapsed();
    stop.store(true, Ordering::SeqCst);
    let mut outcomes = vec![];
    for c in clients {
        outcomes.extend(c.await.unwrap());
    }
    assert!(status.success(), "exit after SIGTERM: {status}\n{}", logs());
    assert_eq!(
        *closes.lock().unwrap(),
        vec![Some(1012); 3],
        "every socket closed with 1012 (service restart)"
    );

    // What was stored, read by a new server on the same database.
    let again = TestServer::start_at(url.clone(), tempfile::tempdir().unwrap(), |_| {}).await;
    let data = again
        .ok(
            &Auth::Bearer(token.clone()),
            "query($after: String) { apiKeys(first: 100, after: $after) { edges { node { name } } pageInfo { hasNextPage endCursor } } }",
            json!({ "after": null }),
        )
        .await;
    let mut stored: Vec<String> = nodes(&data["apiKeys"])
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_owned())
        .collect();
    let mut page = data["apiKeys"]["pageInfo"].clone();
    while page["hasNextPage"] == json!(true) {
        let data = again
            .ok(
                &Auth::Bearer(token.clone()),
                "query($after: String) { apiKeys(first: 100, after: $after) { edges { node { name } } pageInfo { hasNextPage endCursor } } }",
                json!({ "after": page["endCursor"] }),
            )
            .await;
        stored.extend(
            nodes(&data["apiKeys"])
                .iter()
                .map(|n| n["name"].as_str().unwrap().to_owned()),
        );
        page = data["apiKeys"]["pageInfo"].clone();
    }
    again.finish().await;

    let mut answered = 0;
    let mut failed = 0;
    for (name, outcome) in &outcomes {
        match outcome {
            Outcome::Answered(status, body) => {
                answered += 1;
                assert_eq!(*status, 200, "{name}: {body}");
                assert_eq!(
                    body["data"]["createApiKey"]["apiKey"]["name"],
                    json!(name),
                    "{name}: {body}"
                );
                assert!(stored.contains(name), "{name} answered but not stored");
            }
            Outcome::Failed(why) => {
                failed += 1;
                // Never read by the server: a request it read would have run, and stored
                // its key, before the connection went.
                assert!(
                    !stored.contains(name),
                    "{name} was read and run but its answer was lost: {why}"
                );
            }
        }
    }
    let refused = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Failed(why) if why.contains("ConnectionRefused")))
        .count();
    println!(
        "{} requests: {answered} answered in full, {failed} failed with a connection error \
         before the server read them ({refused} refused: the listener was closed), 0 read \
         and left unanswered; the process exited {exited_after:?} after SIGTERM; sockets \
         closed with {:?}",
        outcomes.len(),
        closes.lock().unwrap()
    );
    assert!(answered > 0 && failed > 0, "{outcomes:?}");
    assert!(!logs().contains("panicked"), "{}", logs());
    ils_tests::drop_database(&url).await;
}
