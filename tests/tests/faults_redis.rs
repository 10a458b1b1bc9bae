//! The fault suite, Redis: a private Redis server (never the machine's shared one) is
//! stopped and started while sockets are subscribed on two replicas and events are being
//! written. Every event reaches every socket exactly once, in order, after Redis returns;
//! a socket that dropped during the outage resumes with its last cursor and gets the rest,
//! each once. While Redis is away, requests do not wait on it: a log-in answers and
//! `/readyz` says 503 within a second. Prints its counts.

use ils_tests::private::{self, PrivatePostgres, PrivateRedis};
use ils_tests::{PASSWORD, Session, TestServer, create_key, email, ws};
use serde_json::json;
use std::time::{Duration, Instant};

const TYPES: &[&str] = &["api_key.created"];

/// The `api_key.created` key ids on `w` until `last` (included), with the last cursor.
async fn keys_until(w: &mut ws::Ws, last: &str) -> (Vec<String>, String) {
    let mut keys = vec![];
    loop {
        let ev = ws::next_event_within(w, "events", Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("no event within 30 s; had {keys:?}, waiting for {last}"));
        assert_eq!(ev["type"], "api_key.created", "{ev}");
        let key = ev["data"]["apiKeyId"].as_str().unwrap().to_string();
        let cursor = ev["cursor"].as_str().unwrap().to_string();
        let done = key == last;
        keys.push(key);
        if done {
            return (keys, cursor);
        }
    }
}

async fn subscribe(s: &TestServer, who: &Session, after: Option<&str>) -> ws::Ws {
    let mut w = ws::connect(s, ws::TRANSPORT_WS).await;
    ws::init(&mut w, &who.auth()).await;
    ws::send(
        &mut w,
        json!({ "id": "events", "type": "subscribe", "payload": {
            "query": ws::EVENTS, "variables": { "types": TYPES, "after": after } } }),
    )
    .await;
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_outage_loses_no_live_event_and_blocks_no_request() {
    if !private::require() {
        return;
    }
    let pg = PrivatePostgres::start();
    let mut redis = PrivateRedis::start();
    let prefix = format!("ils-fault-{}", uuid::Uuid::new_v4().simple());
    let (url, redis_url) = (pg.admin_url(), redis.url());
    // Replica 1 holds the sockets and dispatches nothing: events reach it through Redis
    // only. Replica 2 takes the writes and dispatches.
    let (p1, r1) = (prefix.clone(), redis_url.clone());
    let s1 = TestServer::start_at(url.clone(), tempfile::tempdir().unwrap(), move |c| {
        c.redis_url = Some(r1);
        c.redis_prefix = p1;
        c.workers = 0;
    })
    .await;
    let s2 = TestServer::start_at(url, tempfile::tempdir().unwrap(), move |c| {
        c.redis_url = Some(redis_url);
        c.redis_prefix = prefix;
        c.job_poll_ms = 200;
    })
    .await;
    let owner_email = email("fault-redis");
    let a = s2.sign_up("Outage Optics", "ECP", &owner_email).await;

    // Three sockets on replica 1, one on replica 2, and one on replica 1 that will drop.
    let mut sockets = vec![];
    for _ in 0..3 {
        sockets.push(ws::subscribe_events(&s1, &a.auth(), Some(TYPES)).await);
    }
    sockets.push(ws::subscribe_events(&s2, &a.auth(), Some(TYPES)).await);
    let mut dropping = ws::subscribe_events(&s1, &a.auth(), Some(TYPES)).await;
    {
        let mut all: Vec<&mut ws::Ws> = sockets.iter_mut().collect();
        all.push(&mut dropping);
        ws::ready(&mut all, || create_key(&s2, &a, "sentinel")).await;
    }

    let mut made = vec![];
    for i in 0..10 {
        made.push(create_key(&s2, &a, &format!("before {i}")).await);
    }
    let (seen, mut resume_from) = keys_until(&mut dropping, &made[9]).await;
    assert_eq!(seen, made);

    redis.down();
    dropping.close(None).await.ok();
    // Requests do not wait on Redis: a log-in and /readyz answer within a second.
    let t = Instant::now();
    let session = s2.log_in(&owner_email, PASSWORD).await;
    let log_in = t.elapsed();
    assert!(!session.access.is_empty());
    let t = Instant::now();
    let ready = s1.http.get(s1.url("/readyz")).send().await.unwrap();
    let readyz = t.elapsed();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["redis"], "unavailable", "{body}");
    assert_eq!(body["database"], "ok", "{body}");
    // The log-in above was throttled on this process's own counts.
    let (t1, r1) = (s1.http.clone(), s2.url("/readyz"));
    let b2: serde_json::Value = t1.get(r1).send().await.unwrap().json().await.unwrap();
    assert!(
        b2["throttle"].as_str().unwrap().starts_with("degraded"),
        "{b2}"
    );
    assert!(log_in < Duration::from_secs(2), "log-in took {log_in:?}");
    assert!(readyz < Duration::from_secs(1), "/readyz took {readyz:?}");

    // Writes go on while Redis is away; each one is acknowledged.
    let t = Instant::now();
    for i in 0..10 {
        made.push(create_key(&s2, &a, &format!("during {i}")).await);
    }
    let writes_during = t.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.up();
    for i in 0..10 {
        made.push(create_key(&s2, &a, &format!("after {i}")).await);
    }
    let last = made.last().unwrap().clone();
    // Back on Redis: the throttle shares its counts again.
    s2.log_in(&owner_email, PASSWORD).await;
    let ready: serde_json::Value = s2
        .http
        .get(s2.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["throttle"], "ok", "{ready}");
    assert_eq!(ready["redis"], "ok", "{ready}");

    let mut delivered = 0;
    for (n, w) in sockets.iter_mut().enumerate() {
        let (got, _) = keys_until(w, &last).await;
        assert_eq!(got, made, "socket {n}: every event once, in order");
        delivered += got.len();
    }
    // Nothing more is on its way: the next event is a new one.
    let mut all: Vec<&mut ws::Ws> = sockets.iter_mut().collect();
    ws::assert_no_event(&mut all, "an event came twice", || {
        create_key(&s2, &a, "after the check")
    })
    .await;

    // The socket that dropped comes back with its last cursor.
    let mut back = subscribe(&s1, &a, Some(&resume_from)).await;
    let (got, cursor) = keys_until(&mut back, &last).await;
    assert_eq!(got, made[10..].to_vec(), "resumed: the rest, each once");
    resume_from = cursor;
    let _ = resume_from;

    println!(
        "redis outage: {} events written ({} while Redis was away, {writes_during:?}), {delivered} deliveries to 4 live sockets, {} replayed to the resumed socket; log-in {log_in:?}, /readyz {readyz:?} during the outage",
        made.len(),
        10,
        got.len()
    );
    for w in sockets.iter_mut().chain([&mut back]) {
        w.close(None).await.ok();
    }
    s1.server.stop().await;
    s2.server.stop().await;
}
