//! `/graphql/ws`: graphql-transport-ws and the legacy graphql-ws, authenticated in
//! `connection_init` like HTTP; bad credentials are refused without an ack.

use futures_util::{SinkExt, StreamExt};
use ils_api::config::{Environment, Introspection};
use ils_tests::ws::{
    Event, LEGACY_WS, TRANSPORT_WS, Ws, connect, init, init_raw, recv, recv_json, run, send,
    until_closed, until_closed_within,
};
use ils_tests::{Auth, TestServer, create_api_key, email, eventually};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::Message;

const ME_EMAIL: &str = "{ me { user { email } } }";

async fn signed_in_query_runs(protocol: &str) {
    let s = TestServer::start().await;
    let mail = email("ws");
    let session = s.sign_up("Socket Optics", "ECP", &mail).await;
    let mut ws = connect(&s, protocol).await;
    init(&mut ws, &session.auth()).await;

    let payload = run(&mut ws, protocol, "1", ME_EMAIL).await;
    assert_eq!(
        payload["data"]["me"]["user"]["email"],
        mail.as_str(),
        "{payload}"
    );
    assert!(payload.get("errors").is_none(), "{payload}");

    // The connection stays usable for further operations.
    let payload = run(
        &mut ws,
        protocol,
        "2",
        "{ me { company { name } roles } users { edges { node { email } } } }",
    )
    .await;
    assert_eq!(payload["data"]["me"]["company"]["name"], "Socket Optics");
    assert_eq!(payload["data"]["me"]["roles"], json!(["COMPANY_ADMIN"]));
    assert_eq!(
        payload["data"]["users"]["edges"][0]["node"]["email"],
        mail.as_str()
    );

    // Errors of an operation arrive as its result, with a code.
    let payload = run(&mut ws, protocol, "3", "{ companies { edges { cursor } } }").await;
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{payload}"
    );
    ws.close(None).await.ok();
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_ws_runs_queries_for_the_signed_in_user() {
    signed_in_query_runs(TRANSPORT_WS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_graphql_ws_runs_queries_for_the_signed_in_user() {
    signed_in_query_runs(LEGACY_WS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_connections_see_no_user() {
    let s = TestServer::start().await;
    for protocol in [TRANSPORT_WS, LEGACY_WS] {
        let mut ws = connect(&s, protocol).await;
        init(&mut ws, &Auth::None).await;
        let payload = run(&mut ws, protocol, "a", "{ __typename me { roles } }").await;
        assert_eq!(payload["data"]["__typename"], "Query", "{payload}");
        assert!(payload["data"]["me"].is_null(), "{payload}");
        assert_eq!(
            payload["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{payload}"
        );
        let payload = run(&mut ws, protocol, "b", "{ users { edges { cursor } } }").await;
        assert_eq!(
            payload["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{payload}"
        );
        ws.close(None).await.ok();
    }
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_authenticate_in_connection_init() {
    let s = TestServer::start().await;
    let mail = email("ws-key");
    let session = s.sign_up("Key Optics", "ECP", &mail).await;
    let data = s
        .ok(
            &session.auth(),
            "mutation { createApiKey(input: { name: \"socket\", role: STAFF }) { secret } }",
            json!({}),
        )
        .await;
    let secret = data["createApiKey"]["secret"].as_str().unwrap().to_owned();

    for protocol in [TRANSPORT_WS, LEGACY_WS] {
        let mut ws = connect(&s, protocol).await;
        init(&mut ws, &Auth::ApiKey(secret.clone())).await;
        let payload = run(
            &mut ws,
            protocol,
            "k",
            "{ me { roles } users { edges { node { email } } } }",
        )
        .await;
        assert_eq!(
            payload["data"]["me"]["roles"],
            json!(["STAFF"]),
            "{payload}"
        );
        assert_eq!(
            payload["data"]["users"]["edges"][0]["node"]["email"],
            mail.as_str(),
            "{payload}"
        );
        ws.close(None).await.ok();
    }

    // A persisted-only key may run nothing ad hoc, over WebSocket neither.
    let data = s
        .ok(
            &session.auth(),
            "mutation { createApiKey(input: { name: \"persisted\", role: STAFF, persistedOnly: true }) { secret } }",
            json!({}),
        )
        .await;
    let persisted = data["createApiKey"]["secret"].as_str().unwrap().to_owned();
    for protocol in [TRANSPORT_WS, LEGACY_WS] {
        let mut ws = connect(&s, protocol).await;
        send(
            &mut ws,
            json!({ "type": "connection_init", "payload": Auth::ApiKey(persisted.clone()).init_payload() }),
        )
        .await;
        let (seen, _) = until_closed(&mut ws).await;
        assert!(
            !seen.iter().any(|m| m["type"] == "connection_ack"),
            "{protocol}: persisted-only key acknowledged: {seen:?}"
        );
    }
    s.finish().await;
}

/// Bad credentials: no ack, and the socket is closed (transport-ws) or a
/// `connection_error` is sent (legacy).
async fn refused(s: &TestServer, protocol: &str, payload: Value) {
    let mut ws = connect(s, protocol).await;
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    let (seen, code) = until_closed(&mut ws).await;
    assert!(
        !seen.iter().any(|m| m["type"] == "connection_ack"),
        "{protocol} acknowledged {payload}: {seen:?}"
    );
    let errored = seen
        .iter()
        .any(|m| m["type"] == "connection_error" || m["type"] == "error");
    assert!(
        errored || code.is_some_and(|c| c == 4403 || c == 1002 || c == 4401),
        "{protocol}: refused without an error message or a close code: {seen:?} {code:?}"
    );
    // Nothing can run on the refused connection.
    let _ = send_and_expect_nothing(&mut ws, protocol).await;
}

/// After a refusal, an operation must not produce a result.
async fn send_and_expect_nothing(ws: &mut Ws, protocol: &str) -> bool {
    let start = if protocol == TRANSPORT_WS {
        "subscribe"
    } else {
        "start"
    };
    if ws
        .send(Message::text(
            json!({ "id": "x", "type": start, "payload": { "query": ME_EMAIL } }).to_string(),
        ))
        .await
        .is_err()
    {
        return true;
    }
    match tokio::time::timeout(Duration::from_secs(2), ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => {
            let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
            assert!(
                !matches!(v["type"].as_str(), Some("next" | "data")),
                "an operation ran on a refused connection: {v}"
            );
            true
        }
        _ => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_refused_without_an_ack() {
    let s = TestServer::start().await;
    let session = s.sign_up("Refused Optics", "ECP", &email("ws-bad")).await;
    let payloads = [
        Auth::Bearer("garbage".into()).init_payload(),
        Auth::Bearer(format!("{}x", session.access)).init_payload(),
        Auth::ApiKey("ils_not-a-real-key".into()).init_payload(),
        Auth::Raw("Basic dXNlcjpwdw==".into()).init_payload(),
        // Both credentials at once.
        json!({ "Authorization": format!("Bearer {}", session.access), "X-Api-Key": "ils_x" }),
    ];
    for protocol in [TRANSPORT_WS, LEGACY_WS] {
        for p in &payloads {
            refused(&s, protocol, p.clone()).await;
        }
    }
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_before_connection_init_do_not_run() {
    let s = TestServer::start().await;
    for protocol in [TRANSPORT_WS, LEGACY_WS] {
        let mut ws = connect(&s, protocol).await;
        let start = if protocol == TRANSPORT_WS {
            "subscribe"
        } else {
            "start"
        };
        send(
            &mut ws,
            json!({ "id": "early", "type": start, "payload": { "query": "{ __typename }" } }),
        )
        .await;
        let (seen, code) = until_closed(&mut ws).await;
        assert!(
            !seen
                .iter()
                .any(|m| matches!(m["type"].as_str(), Some("next" | "data"))),
            "{protocol}: ran before connection_init: {seen:?}"
        );
        assert!(
            code.is_some() || !seen.is_empty(),
            "{protocol}: closed silently"
        );
    }
    s.finish().await;
}

/// The production rules of HTTP hold over WebSocket too: anonymous callers may not
/// introspect and get no "Did you mean" hints (refusing their sockets outright is fine);
/// `introspection = off` holds for everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_introspection_rules_hold_over_websocket() {
    let mut problems = vec![];
    let s = TestServer::start_with(|c| {
        c.env = Environment::Production;
        c.introspection = Introspection::Auto;
    })
    .await;
    let session = s.sign_up("Prod Optics", "ECP", &email("ws-prod")).await;
    for protocol in [TRANSPORT_WS, LEGACY_WS] {
        let mut ws = connect(&s, protocol).await;
        send(&mut ws, json!({ "type": "connection_init", "payload": {} })).await;
        match recv(&mut ws).await {
            Event::Json(m) if m["type"] == "connection_ack" => {
                let payload = run(
                    &mut ws,
                    protocol,
                    "i",
                    "{ __schema { queryType { name } } }",
                )
                .await;
                if !payload["data"]["__schema"].is_null() {
                    problems.push(format!(
                        "{protocol}: anonymous introspection in production: {payload}"
                    ));
                }
                let payload = run(
                    &mut ws,
                    protocol,
                    "s",
                    "{ userss { pageInfo { hasNextPage } } }",
                )
                .await;
                assert!(payload["errors"].is_array(), "{payload}");
                if payload.to_string().contains("Did you mean") {
                    problems.push(format!(
                        "{protocol}: suggestions for an anonymous caller in production: {payload}"
                    ));
                }
                ws.close(None).await.ok();
            }
            // Refused: an error message and/or the close; nothing may run afterwards.
            Event::Json(m) => {
                assert!(
                    matches!(m["type"].as_str(), Some("connection_error" | "error")),
                    "{protocol}: {m}"
                );
                let _ = send_and_expect_nothing(&mut ws, protocol).await;
            }
            Event::Closed(_) => {
                let _ = send_and_expect_nothing(&mut ws, protocol).await;
            }
        }

        // Signed in, introspection works.
        let mut ws = connect(&s, protocol).await;
        init(&mut ws, &session.auth()).await;
        let payload = run(
            &mut ws,
            protocol,
            "i",
            "{ __schema { queryType { name } } }",
        )
        .await;
        assert_eq!(
            payload["data"]["__schema"]["queryType"]["name"], "Query",
            "{payload}"
        );
        ws.close(None).await.ok();
    }
    s.finish().await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `introspection = off` holds for every caller, over WebSocket as over HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_off_holds_over_websocket() {
    let mut problems = vec![];
    let s = TestServer::start_with(|c| c.introspection = Introspection::Off).await;
    let session = s.sign_up("Off Optics", "ECP", &email("ws-off")).await;
    for protocol in [TRANSPORT_WS, LEGACY_WS] {
        let mut ws = connect(&s, protocol).await;
        init(&mut ws, &session.auth()).await;
        let payload = run(
            &mut ws,
            protocol,
            "i",
            "{ __schema { queryType { name } } }",
        )
        .await;
        if !payload["data"]["__schema"].is_null() {
            problems.push(format!(
                "{protocol}: introspection with introspection = off: {payload}"
            ));
        }
        ws.close(None).await.ok();
    }
    s.finish().await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_apply_over_websocket() {
    let s = TestServer::start().await;
    for protocol in [TRANSPORT_WS, LEGACY_WS] {
        let mut ws = connect(&s, protocol).await;
        init(&mut ws, &Auth::None).await;
        let aliases = (0..31)
            .map(|i| format!("a{i}: __typename"))
            .collect::<Vec<_>>()
            .join(" ");
        let start = if protocol == TRANSPORT_WS {
            "subscribe"
        } else {
            "start"
        };
        send(
            &mut ws,
            json!({ "id": "l", "type": start, "payload": { "query": format!("{{ {aliases} }}") } }),
        )
        .await;
        // Either an `error` message or a result carrying errors, never data.
        let msg = recv_json(&mut ws).await;
        let errors = if msg["type"] == "error" {
            msg["payload"].clone()
        } else {
            assert!(
                msg["payload"]["data"].is_null(),
                "{protocol}: data despite the alias limit: {msg}"
            );
            msg["payload"]["errors"].clone()
        };
        assert_eq!(
            errors[0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
            "{protocol}: {msg}"
        );
        ws.close(None).await.ok();
    }
    s.finish().await;
}

/// A socket signed in with a JWT lives as long as the token: at expiry the server closes
/// it with 4401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_sockets_close_with_4401_when_the_token_expires() {
    // Long enough for sign-up, connect, init, subscribe and a query on a loaded machine.
    const TOKEN_LIFETIME: u64 = 8;
    let s = TestServer::start_with(|c| {
        c.access_token_ttl_secs = TOKEN_LIFETIME;
        c.refresh_token_ttl_secs = 3600;
    })
    .await;
    let session = s.sign_up("Expiring Optics", "ECP", &email("ws-exp")).await;
    let mut ws = connect(&s, TRANSPORT_WS).await;
    init(&mut ws, &session.auth()).await;
    ils_tests::ws::subscribe(&mut ws, "events", ils_tests::ws::EVENTS, json!({})).await;
    // Live until then.
    let payload = run(&mut ws, TRANSPORT_WS, "me", "{ me { roles } }").await;
    assert_eq!(
        payload["data"]["me"]["roles"],
        json!(["COMPANY_ADMIN"]),
        "{payload}"
    );

    let (seen, code) = until_closed_within(&mut ws, Duration::from_secs(TOKEN_LIFETIME + 30)).await;
    assert_eq!(code, Some(4401), "closed with {code:?} after {seen:?}");
    assert!(
        !seen
            .iter()
            .any(|m| matches!(m["type"].as_str(), Some("next" | "data"))),
        "results after expiry: {seen:?}"
    );
    s.finish().await;
}

/// A socket signed in with an API key is closed with 4403 once the key is revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_sockets_close_with_4403_when_the_key_is_revoked() {
    let s = TestServer::start().await;
    let session = s.sign_up("Revoking Optics", "ECP", &email("ws-rev")).await;
    let (key_id, secret) = create_api_key(&s, &session, "doomed").await;
    // Another key of the same company whose socket must survive.
    let (_, kept) = create_api_key(&s, &session, "kept").await;

    let mut doomed = connect(&s, TRANSPORT_WS).await;
    init(&mut doomed, &Auth::ApiKey(secret.clone())).await;
    ils_tests::ws::subscribe(&mut doomed, "events", ils_tests::ws::EVENTS, json!({})).await;
    let mut survivor = connect(&s, TRANSPORT_WS).await;
    init(&mut survivor, &Auth::ApiKey(kept)).await;

    s.ok(
        &session.auth(),
        "mutation($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id } } }",
        json!({ "id": key_id }),
    )
    .await;
    let (seen, code) = until_closed(&mut doomed).await;
    assert_eq!(code, Some(4403), "closed with {code:?} after {seen:?}");

    // The other key's socket still works, and the revoked key cannot open a new one.
    let payload = run(
        &mut survivor,
        TRANSPORT_WS,
        "u",
        "{ users { edges { cursor } } }",
    )
    .await;
    assert!(payload["data"]["users"]["edges"].is_array(), "{payload}");
    survivor.close(None).await.ok();
    let mut again = connect(&s, TRANSPORT_WS).await;
    send(
        &mut again,
        json!({ "type": "connection_init", "payload": Auth::ApiKey(secret).init_payload() }),
    )
    .await;
    let (seen, _) = until_closed(&mut again).await;
    assert!(
        !seen.iter().any(|m| m["type"] == "connection_ack"),
        "a revoked key was acknowledged: {seen:?}"
    );
    s.finish().await;
}

/// `ws_max_per_company` caps one company's open sockets: the next `connection_init` is
/// answered by closing with 4429; other companies are unaffected; a closed socket frees
/// its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_per_company_are_capped_with_4429() {
    let s = TestServer::start_with(|c| c.ws_max_per_company = 2).await;
    let a = s.sign_up("Crowded Optics", "ECP", &email("ws-cap-a")).await;
    let b = s.sign_up("Roomy Optics", "ECP", &email("ws-cap-b")).await;

    let mut first = connect(&s, TRANSPORT_WS).await;
    init(&mut first, &a.auth()).await;
    let mut second = connect(&s, TRANSPORT_WS).await;
    init(&mut second, &a.auth()).await;

    let mut third = connect(&s, TRANSPORT_WS).await;
    send(
        &mut third,
        json!({ "type": "connection_init", "payload": a.auth().init_payload() }),
    )
    .await;
    let (seen, code) = until_closed(&mut third).await;
    assert!(
        !seen.iter().any(|m| m["type"] == "connection_ack"),
        "a third socket was acknowledged: {seen:?}"
    );
    assert_eq!(code, Some(4429), "closed with {code:?} after {seen:?}");

    // Another company still connects.
    let mut other = connect(&s, TRANSPORT_WS).await;
    init(&mut other, &b.auth()).await;
    let payload = run(&mut other, TRANSPORT_WS, "o", "{ me { company { name } } }").await;
    assert_eq!(payload["data"]["me"]["company"]["name"], "Roomy Optics");

    // The first two still work.
    for ws in [&mut first, &mut second] {
        let payload = run(ws, TRANSPORT_WS, "a", "{ me { company { name } } }").await;
        assert_eq!(payload["data"]["me"]["company"]["name"], "Crowded Optics");
    }

    // Closing one frees its place (the server notices the close shortly after).
    first.close(None).await.ok();
    eventually(
        "a place freed after a socket closed",
        Duration::from_secs(10),
        || async {
            let mut next = connect(&s, TRANSPORT_WS).await;
            match init_raw(&mut next, &a.auth()).await {
                Event::Json(m) if m["type"] == "connection_ack" => {
                    next.close(None).await.ok();
                    Ok(())
                }
                refused => Err(refused),
            }
        },
    )
    .await;
    second.close(None).await.ok();
    other.close(None).await.ok();
    s.finish().await;
}

/// graphql-transport-ws: a socket that never sends `connection_init` is closed with 4408.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_without_connection_init_is_closed_with_4408() {
    let s = TestServer::start().await;
    let mut ws = connect(&s, TRANSPORT_WS).await;
    // The server waits 10 s for connection_init.
    let (seen, code) = until_closed_within(&mut ws, Duration::from_secs(40)).await;
    assert_eq!(code, Some(4408), "{seen:?}");
    s.finish().await;
}

/// A socket reads into a small buffer (4 KiB), yet a message far larger arrives whole: a
/// subscription whose `subscribe` message is 600 KB is accepted and delivers events like
/// one of normal size, and a 900 KB query runs. A message over the cap
/// (`ILS_MAX_BODY_BYTES`, 1 MiB) is refused by closing the socket, unanswered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_messages_arrive_whole_and_over_the_cap_close_the_socket() {
    let s = TestServer::start().await;
    let session = s.sign_up("Bulky Optics", "ECP", &email("ws-big")).await;
    let mut normal = connect(&s, TRANSPORT_WS).await;
    init(&mut normal, &session.auth()).await;
    ils_tests::ws::subscribe(&mut normal, "events", ils_tests::ws::EVENTS, json!({})).await;

    let mut big = connect(&s, TRANSPORT_WS).await;
    init(&mut big, &session.auth()).await;
    let padded = format!("{}\n# {}\n", ils_tests::ws::EVENTS, "x".repeat(600 * 1024));
    ils_tests::ws::subscribe(&mut big, "events", &padded, json!({})).await;
    ils_tests::ws::ready(&mut [&mut normal, &mut big], || {
        ils_tests::create_key(&s, &session, "sentinel")
    })
    .await;
    let key = ils_tests::create_key(&s, &session, "after").await;
    for ws in [&mut normal, &mut big] {
        let ev = ils_tests::ws::next_event(ws).await;
        assert_eq!(ev["data"]["apiKeyId"], key.as_str(), "{ev}");
    }

    let query = format!("{{ __typename }}\n# {}\n", "y".repeat(900 * 1024));
    let payload = run(&mut big, TRANSPORT_WS, "q", &query).await;
    assert_eq!(payload["data"]["__typename"], "Query", "{payload}");

    let over = format!("{{ __typename }}\n# {}\n", "z".repeat(1024 * 1024));
    send(
        &mut big,
        json!({ "id": "over", "type": "subscribe", "payload": { "query": over } }),
    )
    .await;
    let (seen, _) = until_closed(&mut big).await;
    assert!(
        !seen.iter().any(|m| m["id"] == "over"),
        "a message over the cap was answered: {seen:?}"
    );
    // The other socket is unaffected.
    let payload = run(&mut normal, TRANSPORT_WS, "n", "{ me { roles } }").await;
    assert_eq!(
        payload["data"]["me"]["roles"],
        json!(["COMPANY_ADMIN"]),
        "{payload}"
    );
    normal.close(None).await.ok();
    s.finish().await;
}

/// One revocation watcher serves every socket of an API key: when the key is revoked all
/// its sockets close with 4403, and only those; a key whose sockets all closed gets a
/// watcher again with its next socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_socket_of_a_revoked_key_closes_with_4403_and_only_those() {
    const REVOKE: &str =
        "mutation($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id } } }";
    let s = TestServer::start().await;
    let session = s.sign_up("Keyring Optics", "ECP", &email("ws-keys")).await;
    let (doomed_id, doomed) = create_api_key(&s, &session, "doomed").await;
    let (kept_id, kept) = create_api_key(&s, &session, "kept").await;
    let open = |secret: String| {
        let s = &s;
        async move {
            let mut ws = connect(s, TRANSPORT_WS).await;
            init(&mut ws, &Auth::ApiKey(secret)).await;
            ils_tests::ws::subscribe(&mut ws, "events", ils_tests::ws::EVENTS, json!({})).await;
            ws
        }
    };
    let mut doomed_sockets = vec![open(doomed.clone()).await, open(doomed.clone()).await];
    let mut kept_socket = open(kept.clone()).await;

    s.ok(&session.auth(), REVOKE, json!({ "id": doomed_id }))
        .await;
    for ws in &mut doomed_sockets {
        let (seen, code) = until_closed(ws).await;
        assert_eq!(code, Some(4403), "closed with {code:?} after {seen:?}");
    }
    let payload = run(&mut kept_socket, TRANSPORT_WS, "u", "{ me { roles } }").await;
    assert_eq!(
        payload["data"]["me"]["roles"],
        json!(["STAFF"]),
        "{payload}"
    );

    // The kept key's last socket closes; its next socket is watched all the same.
    kept_socket.close(None).await.ok();
    let (_, code) = until_closed(&mut kept_socket).await;
    assert!(code.is_none() || code == Some(1000), "{code:?}");
    let mut again = open(kept.clone()).await;
    s.ok(&session.auth(), REVOKE, json!({ "id": kept_id }))
        .await;
    let (seen, code) = until_closed(&mut again).await;
    assert_eq!(code, Some(4403), "closed with {code:?} after {seen:?}");
    s.finish().await;
}
