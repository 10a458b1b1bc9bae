//! Domain events end to end: the `events` subscription sees its own company's events only,
//! filtered by type; an event of a rolled-back transaction never existed; events committed
//! while no dispatcher ran are dispatched by the next process; replicas share events
//! through Redis.
#![allow(clippy::disallowed_methods)] // the tests read the outbox below the guard on purpose

use ils_kernel::DomainEvent;
use ils_kernel::system::act_for;
use ils_tests::receiver::Receiver;
use ils_tests::ws;
use ils_tests::{Session, TestServer, company_uuid, create_key, email, fresh_database, redis_url};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;
use uuid::Uuid;

const REVOKE_KEY: &str =
    "mutation($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id } } }";
const INVITE: &str =
    "mutation($e: String!) { inviteUser(input: { email: $e, role: STAFF }) { invitation { id } } }";

/// A sentinel for unfiltered and `api_key.*` subscriptions: creates an API key (one
/// `api_key.created`); returns its id.
async fn key_sentinel(s: &TestServer, who: &Session) -> String {
    create_key(s, who, "sentinel").await
}

/// A sentinel for `api_key.revoked` subscriptions: creates and revokes an API key;
/// returns its id.
async fn revoked_key_sentinel(s: &TestServer, who: &Session) -> String {
    let key = create_key(s, who, "revoked sentinel").await;
    s.ok(&who.auth(), REVOKE_KEY, json!({ "id": key })).await;
    key
}

/// A sentinel for subscriptions that select `user.invited`: invites someone; returns the
/// invitee's (unique) email, which the event carries.
async fn invite_sentinel(s: &TestServer, who: &Session) -> String {
    let invitee = email("sentinel");
    s.ok(&who.auth(), INVITE, json!({ "e": invitee })).await;
    invitee
}

/// Whether `v` is the global id `gid` (events carry the same global IDs as the API).
fn same_id(v: &Value, gid: &str) -> bool {
    v.as_str() == Some(gid)
}

/// Checks the shape every delivered event has.
fn assert_event_shape(ev: &Value) {
    let id = ev["id"]
        .as_str()
        .unwrap_or_else(|| panic!("event id: {ev}"));
    assert!(Uuid::parse_str(id).is_ok(), "event id is not a uuid: {ev}");
    let at = ev["occurredAt"]
        .as_str()
        .unwrap_or_else(|| panic!("occurredAt: {ev}"));
    assert!(
        chrono::DateTime::parse_from_rfc3339(at).is_ok(),
        "occurredAt is not RFC 3339: {ev}"
    );
    assert!(ev["data"].is_object(), "data is not an object: {ev}");
}

/// One number from the test database, read as its owner.
async fn count(conn: &DatabaseConnection, sql: &str) -> i64 {
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .expect("count query")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_see_only_their_own_companys_events() {
    let s = TestServer::start().await;
    let a = s.sign_up("Alpha Optics", "ECP", &email("ev-a")).await;
    let b = s.sign_up("Beta Optics", "ECP", &email("ev-b")).await;
    let mut wa = ws::subscribe_events_ready(&s, &a.auth(), None, || key_sentinel(&s, &a)).await;
    let mut wb = ws::subscribe_events_ready(&s, &b.auth(), None, || key_sentinel(&s, &b)).await;

    let key_a = create_key(&s, &a, "alpha key").await;
    let ev = ws::next_event(&mut wa).await;
    assert_event_shape(&ev);
    assert_eq!(ev["type"], "api_key.created", "{ev}");
    assert_eq!(ev["data"]["name"], "alpha key", "{ev}");
    assert!(same_id(&ev["data"]["apiKeyId"], &key_a), "{ev} vs {key_a}");
    assert!(
        ev["data"]["role"]
            .as_str()
            .is_some_and(|r| r.eq_ignore_ascii_case("staff")),
        "{ev}"
    );
    ws::assert_no_event(&mut [&mut wb], "company B saw company A's event", || {
        key_sentinel(&s, &b)
    })
    .await;

    // B's own events reach B, and not A.
    let key_b = create_key(&s, &b, "beta key").await;
    let ev = ws::next_event(&mut wb).await;
    assert_eq!(ev["type"], "api_key.created", "{ev}");
    assert_eq!(ev["data"]["name"], "beta key", "{ev}");
    assert!(same_id(&ev["data"]["apiKeyId"], &key_b), "{ev} vs {key_b}");
    ws::assert_no_event(&mut [&mut wa], "company A saw company B's event", || {
        key_sentinel(&s, &a)
    })
    .await;
    ws::assert_no_event(&mut [&mut wb], "company B got a second event", || {
        key_sentinel(&s, &b)
    })
    .await;

    wa.close(None).await.ok();
    wb.close(None).await.ok();
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_types_filter_selects_exact_types_and_families() {
    let s = TestServer::start().await;
    let a = s.sign_up("Filter Optics", "ECP", &email("ev-f")).await;
    // Made live one after the other, each with a sentinel the ones before do not select.
    let mut exact = ws::subscribe_events_ready(&s, &a.auth(), Some(&["api_key.revoked"]), || {
        revoked_key_sentinel(&s, &a)
    })
    .await;
    let mut family =
        ws::subscribe_events_ready(&s, &a.auth(), Some(&["api_key.*"]), || key_sentinel(&s, &a))
            .await;
    let mut all = ws::subscribe_events_ready(&s, &a.auth(), None, || invite_sentinel(&s, &a)).await;

    s.ok(&a.auth(), INVITE, json!({ "e": email("ev-f-invitee") }))
        .await;
    let key = create_key(&s, &a, "filtered").await;
    s.ok(&a.auth(), REVOKE_KEY, json!({ "id": key })).await;

    // Unfiltered: all three (their order is not part of the contract).
    let mut seen = BTreeSet::new();
    for _ in 0..3 {
        let ev = ws::next_event(&mut all).await;
        assert_event_shape(&ev);
        seen.insert(ev["type"].as_str().unwrap_or_default().to_owned());
    }
    let expected: BTreeSet<String> = ["user.invited", "api_key.created", "api_key.revoked"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(seen, expected);
    // (The sentinels, in this order, are selected by the subscription checked and by none
    // checked later.)
    ws::assert_no_event(
        &mut [&mut all],
        "an unfiltered subscriber got a fourth event",
        || invite_sentinel(&s, &a),
    )
    .await;

    // `api_key.*`: the two key events, not the invitation.
    let mut seen = BTreeSet::new();
    for _ in 0..2 {
        let ev = ws::next_event(&mut family).await;
        assert!(
            ev["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("api_key.")),
            "api_key.* let through {ev}"
        );
        assert!(same_id(&ev["data"]["apiKeyId"], &key), "{ev}");
        seen.insert(ev["type"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(
        seen,
        ["api_key.created", "api_key.revoked"]
            .into_iter()
            .map(String::from)
            .collect::<BTreeSet<_>>()
    );
    ws::assert_no_event(
        &mut [&mut family],
        "api_key.* let through another event",
        || key_sentinel(&s, &a),
    )
    .await;

    // An exact type: the revocation only.
    let ev = ws::next_event(&mut exact).await;
    assert_eq!(ev["type"], "api_key.revoked", "{ev}");
    assert!(same_id(&ev["data"]["apiKeyId"], &key), "{ev}");
    ws::assert_no_event(
        &mut [&mut exact],
        "an exact filter let through another event",
        || revoked_key_sentinel(&s, &a),
    )
    .await;

    for mut w in [all, family, exact] {
        w.close(None).await.ok();
    }
    s.finish().await;
}

/// An event only these tests emit.
#[derive(Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProbeEvent {
    marker: String,
}

impl DomainEvent for ProbeEvent {
    const TYPE: &'static str = "test.probe";
}

/// A sentinel for `test.*` subscriptions: commits one `test.probe` event with a unique
/// marker for `company`; returns the marker.
async fn probe_sentinel(s: &TestServer, company: Uuid) -> String {
    let marker = format!("sentinel-{}", Uuid::new_v4().simple());
    let db = &s.server.state.db;
    let ctx = act_for(db, company, "tests.probe", "emit a sentinel event")
        .await
        .expect("a context");
    let tx = db.tenant(&ctx).await.expect("a transaction");
    tx.emit(
        &ProbeEvent {
            marker: marker.clone(),
        },
        &[],
    )
    .await
    .expect("emit");
    tx.commit().await.expect("commit");
    marker
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_a_rolled_back_transaction_are_never_delivered() {
    let s = TestServer::start().await;
    let a = s.sign_up("Rollback Optics", "ECP", &email("ev-rb")).await;
    let company = company_uuid(&a);
    let mut w = ws::subscribe_events_ready(&s, &a.auth(), Some(&["test.*"]), || {
        probe_sentinel(&s, company)
    })
    .await;

    let db = &s.server.state.db;
    let ctx = act_for(db, company, "tests.probe", "emit an event and roll back")
        .await
        .expect("a context");
    let tx = db.tenant(&ctx).await.expect("a transaction");
    let rolled_back = tx
        .emit(
            &ProbeEvent {
                marker: "rolled-back".into(),
            },
            &[],
        )
        .await
        .expect("emit");
    drop(tx); // no commit: rolled back

    let tx = db.tenant(&ctx).await.expect("a transaction");
    let committed = tx
        .emit(
            &ProbeEvent {
                marker: "committed".into(),
            },
            &[],
        )
        .await
        .expect("emit");
    tx.commit().await.expect("commit");

    let ev = ws::next_event(&mut w).await;
    assert_event_shape(&ev);
    assert_eq!(ev["type"], "test.probe", "{ev}");
    assert_eq!(ev["data"]["marker"], "committed", "{ev}");
    assert_eq!(ev["id"], committed.to_string(), "{ev}");
    ws::assert_no_event(
        &mut [&mut w],
        "an event of a rolled-back transaction arrived",
        || probe_sentinel(&s, company),
    )
    .await;

    // Nor is it in the outbox, dispatched or not.
    let conn = s.owner_connection().await;
    let n = count(
        &conn,
        &format!("SELECT COUNT(*) AS n FROM events WHERE id = '{rolled_back}' OR data LIKE '%rolled-back%'"),
    )
    .await;
    assert_eq!(n, 0, "the rolled-back event is in the outbox");
    conn.close().await.ok();

    w.close(None).await.ok();
    s.finish().await;
}

/// An event committed while no process dispatched (server 1 runs with `workers = 0`) is
/// dispatched by the next process on the same database. A subscription cannot observe
/// this reliably: server 2 dispatches the backlog as it starts, possibly before any socket
/// could subscribe. So the test observes the two durable effects of dispatching instead:
/// the webhook subscribed to the event type receives it (a real HTTP receiver), and the
/// outbox row is marked dispatched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_committed_without_a_dispatcher_are_dispatched_after_a_restart() {
    // The database outlives server 1: its folder (the SQLite file) is held here.
    let db_dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_database(&db_dir).await;
    let s1 =
        TestServer::start_at(url.clone(), tempfile::tempdir().unwrap(), |c| c.workers = 0).await;
    let a = s1
        .sign_up("Restart Optics", "ECP", &email("ev-restart"))
        .await;
    let receiver = Receiver::start().await;
    s1.ok(
        &a.auth(),
        "mutation($url: String!) { createWebhookEndpoint(input: { url: $url, eventTypes: [\"api_key.*\"] }) { secret webhookEndpoint { id } } }",
        json!({ "url": receiver.url("/hook") }),
    )
    .await;
    let key = create_key(&s1, &a, "offline key").await;

    let conn = s1.owner_connection().await;
    let undispatched = "SELECT COUNT(*) AS n FROM events WHERE event_type = 'api_key.created' AND dispatched_at IS NULL";
    let dispatched = "SELECT COUNT(*) AS n FROM events WHERE event_type = 'api_key.created' AND dispatched_at IS NOT NULL";
    assert_eq!(
        count(&conn, undispatched).await,
        1,
        "the event is not in the outbox"
    );
    // Nothing dispatches it while server 1 runs without workers. (No sentinel can prove
    // this: with no dispatcher, a sentinel would not be dispatched either.)
    ils_tests::watch_for_nothing(ws::MUST_NOT_HAPPEN).await;
    assert_eq!(
        count(&conn, undispatched).await,
        1,
        "dispatched with workers = 0"
    );
    assert_eq!(receiver.count(), 0, "a webhook went out with workers = 0");
    let event_id: String = {
        let row = conn
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                "SELECT id FROM events WHERE event_type = 'api_key.created'",
            ))
            .await
            .expect("query")
            .expect("a row");
        match row.try_get::<Uuid>("", "id") {
            Ok(id) => id.to_string(),
            Err(_) => row.try_get::<String>("", "id").expect("event id"),
        }
    };
    conn.close().await.ok();
    s1.server.stop().await;

    let s2 = TestServer::start_at(url, tempfile::tempdir().unwrap(), |c| c.job_poll_ms = 200).await;
    let got = receiver
        .wait_until(
            Duration::from_secs(20),
            "the event committed before the restart",
            |r| r.iter().any(|r| r.json()["type"] == "api_key.created"),
        )
        .await;
    let hook = got
        .iter()
        .find(|r| r.json()["type"] == "api_key.created")
        .expect("the webhook");
    let body = hook.json();
    assert_eq!(body["data"]["name"], "offline key", "{body}");
    assert!(same_id(&body["data"]["apiKeyId"], &key), "{body}");
    assert!(
        body["id"]
            .as_str()
            .is_some_and(|id| id.eq_ignore_ascii_case(&event_id)),
        "{body} vs outbox id {event_id}"
    );
    assert!(
        hook.event_id()
            .is_some_and(|id| id.eq_ignore_ascii_case(&event_id)),
        "x-ils-event-id {:?} vs {event_id}",
        hook.event_id()
    );

    let conn = s2.owner_connection().await;
    assert_eq!(count(&conn, undispatched).await, 0, "still undispatched");
    assert_eq!(count(&conn, dispatched).await, 1, "not marked dispatched");
    // Handler jobs may run before the event is published to live subscribers (both follow
    // its dispatch): a socket opened before then would receive it live.
    ils_tests::eventually(
        "the event is published",
        Duration::from_secs(10),
        || async {
            let n = count(
                &conn,
                "SELECT COUNT(*) AS n FROM events WHERE published_at IS NULL",
            )
            .await;
            if n == 0 { Ok(()) } else { Err(n) }
        },
    )
    .await;
    conn.close().await.ok();

    // Server 2's live path works too.
    let mut w = ws::subscribe_events_ready(&s2, &a.auth(), None, || key_sentinel(&s2, &a)).await;
    create_key(&s2, &a, "online key").await;
    let ev = ws::next_event(&mut w).await;
    assert_eq!(ev["data"]["name"], "online key", "{ev}");
    w.close(None).await.ok();

    s2.finish().await;
    drop(db_dir);
}

/// Two replicas on one database and one Redis namespace: an event caused through
/// replica 2 reaches a subscriber on replica 1. Replica 1 runs no dispatcher
/// (`workers = 0`), so the event can only reach it through the Redis relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_cross_replicas_through_redis() {
    if redis_url().is_none() {
        println!("skipped: TEST_REDIS_URL is not set");
        return;
    }
    let prefix = format!("ils-test-{}", Uuid::new_v4().simple());
    let p1 = prefix.clone();
    let s1 = TestServer::start_with(move |c| {
        c.redis_prefix = p1;
        c.workers = 0;
    })
    .await;
    let s2 = TestServer::start_at(s1.database_url.clone(), tempfile::tempdir().unwrap(), |c| {
        c.redis_prefix = prefix
    })
    .await;
    let a = s1.sign_up("Replica Optics", "ECP", &email("ev-rep")).await;
    let b = s1.sign_up("Other Optics", "ECP", &email("ev-rep-b")).await;
    // Keys are created through replica 2, whose dispatcher is the only one.
    let mut on1 = ws::subscribe_events(&s1, &a.auth(), None).await;
    let mut on2 = ws::subscribe_events(&s2, &a.auth(), None).await;
    ws::ready(&mut [&mut on1, &mut on2], || key_sentinel(&s2, &a)).await;
    let mut other =
        ws::subscribe_events_ready(&s1, &b.auth(), None, || key_sentinel(&s2, &b)).await;

    let key = create_key(&s2, &a, "replicated").await;
    for w in [&mut on1, &mut on2] {
        let ev = ws::next_event(w).await;
        assert_eq!(ev["type"], "api_key.created", "{ev}");
        assert_eq!(ev["data"]["name"], "replicated", "{ev}");
        assert!(same_id(&ev["data"]["apiKeyId"], &key), "{ev}");
    }
    // One path, no duplicates; and the relay keeps companies apart.
    ws::assert_no_event(
        &mut [&mut on1, &mut on2],
        "a replica delivered the event twice",
        || key_sentinel(&s2, &a),
    )
    .await;
    ws::assert_no_event(&mut [&mut other], "another company saw the event", || {
        key_sentinel(&s2, &b)
    })
    .await;

    for mut w in [on1, on2, other] {
        w.close(None).await.ok();
    }
    s2.server.stop().await;
    s1.finish().await;
}

/// A socket of `who` subscribed (as operation `events`) with `query`.
async fn subscribe_with(s: &TestServer, who: &Session, query: &str) -> ws::Ws {
    let mut w = ws::connect(s, ws::TRANSPORT_WS).await;
    ws::init(&mut w, &who.auth()).await;
    ws::subscribe(&mut w, "events", query, json!({})).await;
    w
}

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// One event fanned out to many sockets is executed once per document and company and
/// shared (`ils_api::shared`): every socket still gets exactly the fields its own document
/// asks for, a document with two root fields gets each field's own
/// result, and another company's socket with the same document gets nothing of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_execution_gives_every_socket_its_own_shape() {
    let s = TestServer::start().await;
    let a = s.sign_up("Shared Optics", "ECP", &email("ev-sh-a")).await;
    let b = s.sign_up("Apart Optics", "ECP", &email("ev-sh-b")).await;
    const RENAMED: &str = "subscription { events(types: [\"api_key.*\"]) { data kind: type id } }";
    const TWO_ROOTS: &str = "subscription { events { id type data } other: events { id } }";

    let mut same1 = ws::subscribe_events(&s, &a.auth(), None).await;
    let mut same2 = ws::subscribe_events(&s, &a.auth(), None).await;
    let mut renamed = subscribe_with(&s, &a, RENAMED).await;
    let mut two_roots = subscribe_with(&s, &a, TWO_ROOTS).await;
    let mut apart = ws::subscribe_events(&s, &b.auth(), None).await;
    ws::ready(
        &mut [&mut same1, &mut same2, &mut renamed, &mut two_roots],
        || key_sentinel(&s, &a),
    )
    .await;
    ws::ready(&mut [&mut apart], || key_sentinel(&s, &b)).await;

    let key = create_key(&s, &a, "shared key").await;
    let first = ws::next_event(&mut same1).await;
    assert_eq!(
        keys(&first),
        ["cursor", "data", "id", "occurredAt", "type"],
        "{first}"
    );
    assert_eq!(first["type"], "api_key.created", "{first}");
    assert!(same_id(&first["data"]["apiKeyId"], &key), "{first}");
    assert_event_shape(&first);
    let second = ws::next_event(&mut same2).await;
    assert_eq!(second, first, "the same document gets the same result");

    let r = ws::next_event(&mut renamed).await;
    assert_eq!(keys(&r), ["data", "id", "kind"], "{r}");
    assert_eq!(r["kind"], "api_key.created", "{r}");
    assert_eq!(r["id"], first["id"], "{r}");
    assert_eq!(r["data"], first["data"], "{r}");

    // Two root fields are two streams: one result each, each with only its own field
    // (results of the sentinels before are skipped).
    let mut results = vec![];
    while results.len() < 2 {
        match ws::recv(&mut two_roots).await {
            ils_tests::ws::Event::Json(msg) => {
                assert_eq!(msg["type"], "next", "{msg}");
                let data = msg["payload"]["data"].clone();
                if data.to_string().contains(&key) || data["other"]["id"] == first["id"] {
                    results.push(data);
                }
            }
            ils_tests::ws::Event::Closed(code) => panic!("closed ({code:?})"),
        }
    }
    results.sort_by_key(|d| keys(d).join(","));
    assert_eq!(keys(&results[0]), ["events"], "{results:?}");
    assert_eq!(
        keys(&results[0]["events"]),
        ["data", "id", "type"],
        "{results:?}"
    );
    assert_eq!(results[0]["events"]["id"], first["id"]);
    assert_eq!(keys(&results[1]), ["other"], "{results:?}");
    assert_eq!(
        results[1]["other"],
        json!({ "id": first["id"] }),
        "{results:?}"
    );

    ws::assert_no_event(
        &mut [&mut apart],
        "another company saw the shared event",
        || key_sentinel(&s, &b),
    )
    .await;
    for w in [same1, same2, renamed, two_roots, apart].iter_mut() {
        w.close(None).await.ok();
    }
    s.finish().await;
}

/// The `api_key.created` events on `w` until one names `last`: (key id, cursor) each.
async fn keys_until(w: &mut ws::Ws, last: &str) -> Vec<(String, String)> {
    let mut seen = vec![];
    loop {
        let ev = ws::next_event(w).await;
        assert_eq!(ev["type"], "api_key.created", "{ev}");
        let key = ev["data"]["apiKeyId"].as_str().unwrap().to_string();
        let cursor = ev["cursor"].as_str().unwrap().to_string();
        let done = key == last;
        seen.push((key, cursor));
        if done {
            return seen;
        }
    }
}

/// A subscriber that comes back with `after:` the last cursor it received gets every event
/// it may see that followed, in order, each once, then the live ones: nothing another
/// company caused, nothing twice. A cursor that names nothing is BAD_USER_INPUT, and so is
/// one whose followers were pruned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_resumes_after_its_cursor_with_no_gap_and_no_repeat() {
    let s = TestServer::start().await;
    let a = s.sign_up("Resume Optics", "ECP", &email("ev-res-a")).await;
    let b = s.sign_up("Other Resume", "ECP", &email("ev-res-b")).await;
    let types = Some(&["api_key.created"][..]);
    let mut w = ws::subscribe_events_ready(&s, &a.auth(), types, || key_sentinel(&s, &a)).await;
    let mut made = vec![];
    for i in 0..3 {
        made.push(create_key(&s, &a, &format!("before {i}")).await);
    }
    let before = keys_until(&mut w, &made[2]).await;
    assert_eq!(
        before.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        made
    );
    let cursors: Vec<i64> = before.iter().map(|(_, c)| c.parse().unwrap()).collect();
    assert!(cursors.windows(2).all(|p| p[0] < p[1]), "{cursors:?}");
    w.close(None).await.ok();

    // While A is away: two keys of A's, one of B's.
    for i in 0..2 {
        made.push(create_key(&s, &a, &format!("away {i}")).await);
    }
    let theirs = create_key(&s, &b, "not for A").await;
    // The events are dispatched (the keys' events have cursors) before A comes back.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut back = ws::connect(&s, ws::TRANSPORT_WS).await;
    ws::init(&mut back, &a.auth()).await;
    let resume_from = &before[0].1;
    // (Replayed events may come at once, so no probe as `ws::subscribe` sends.)
    ws::send(
        &mut back,
        json!({ "id": "events", "type": "subscribe", "payload": {
            "query": ws::EVENTS, "variables": { "types": types, "after": resume_from } } }),
    )
    .await;
    let replayed = keys_until(&mut back, &made[4]).await;
    let live = create_key(&s, &a, "live").await;
    made.push(live.clone());
    let got = keys_until(&mut back, &live).await;
    let got_keys: Vec<String> = replayed
        .iter()
        .chain(&got)
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(
        got_keys,
        made[1..].to_vec(),
        "replayed, then live, each once"
    );
    assert!(!got_keys.contains(&theirs));
    ws::assert_no_event(&mut [&mut back], "an event came twice", || {
        key_sentinel(&s, &a)
    })
    .await;
    back.close(None).await.ok();

    let bad = |after: &str| {
        let (s, a) = (&s, &a);
        let after = after.to_string();
        async move {
            let mut w = ws::connect(s, ws::TRANSPORT_WS).await;
            ws::init(&mut w, &a.auth()).await;
            ws::send(
                &mut w,
                json!({ "id": "e", "type": "subscribe", "payload": { "query": ws::EVENTS, "variables": { "after": after } } }),
            )
            .await;
            // An execution error: a `next` with the error, then `complete`.
            let msg = ws::recv_json(&mut w).await;
            assert_eq!(msg["type"], "next", "{msg}");
            assert_eq!(msg["payload"]["data"], Value::Null, "{msg}");
            let err = &msg["payload"]["errors"][0];
            assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{msg}");
            err["message"].as_str().unwrap().to_string()
        }
    };
    assert!(bad("not-a-cursor").await.contains("not an event cursor"));
    assert!(
        bad("999999999")
            .await
            .contains("not a cursor of this server")
    );
    // The events after the first cursor are pruned (as the daily pruning does after the
    // retention): resuming from it would have a gap, so it is refused.
    let owner = s.owner_connection().await;
    owner
        .execute_unprepared(&format!(
            "DELETE FROM events WHERE seq > {} AND seq <= {}",
            cursors[0] - 5,
            cursors[1]
        ))
        .await
        .unwrap();
    assert!(bad(&before[0].1).await.contains("no longer kept"));
    s.finish().await;
}

/// Events dispatched in one batch get consecutive cursors in the order they were recorded,
/// and each is marked published once the bus took it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_events_gets_consecutive_cursors_in_commit_order() {
    let db_dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_database(&db_dir).await;
    let s1 =
        TestServer::start_at(url.clone(), tempfile::tempdir().unwrap(), |c| c.workers = 0).await;
    let a = s1.sign_up("Batch Optics", "ECP", &email("ev-batch")).await;
    for i in 0..5 {
        create_key(&s1, &a, &format!("batched {i}")).await;
    }
    s1.server.stop().await;
    let s2 = TestServer::start_at(url, tempfile::tempdir().unwrap(), |c| c.job_poll_ms = 200).await;
    let conn = s2.owner_connection().await;
    ils_tests::eventually(
        "every event is published",
        Duration::from_secs(10),
        || async {
            match count(
                &conn,
                "SELECT COUNT(*) AS n FROM events WHERE published_at IS NULL",
            )
            .await
            {
                0 => Ok(()),
                n => Err(n),
            }
        },
    )
    .await;
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT seq, data FROM events WHERE event_type = 'api_key.created' ORDER BY seq",
        ))
        .await
        .unwrap();
    let names: Vec<String> = rows
        .iter()
        .map(|r| {
            let data: String = r.try_get("", "data").unwrap();
            serde_json::from_str::<Value>(&data).unwrap()["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let seqs: Vec<i64> = rows.iter().map(|r| r.try_get("", "seq").unwrap()).collect();
    assert_eq!(
        names,
        (0..5).map(|i| format!("batched {i}")).collect::<Vec<_>>()
    );
    assert!(seqs.windows(2).all(|p| p[1] == p[0] + 1), "{seqs:?}");
    conn.close().await.ok();
    s2.finish().await;
    drop(db_dir);
}
