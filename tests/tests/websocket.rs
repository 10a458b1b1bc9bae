//! `/graphql/ws`: graphql-transport-ws and the legacy graphql-ws, authenticated in
//! `connection_init` like HTTP; bad credentials are refused without an ack.

use futures_util::{SinkExt, StreamExt};
use ils_api::config::{Environment, Introspection};
use ils_tests::ws::{
    Event, LEGACY_WS, TRANSPORT_WS, Ws, connect, init, init_raw, recv, request_errors, run, send,
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

    // A persisted-only key runs nothing ad hoc over a WebSocket either: graphql-transport-ws
    // accepts it and refuses text operation by operation (documents by ID run:
    // persisted.rs); the legacy protocol, which cannot run documents by ID, refuses it.
    let data = s
        .ok(
            &session.auth(),
            "mutation { createApiKey(input: { name: \"persisted\", role: STAFF, persistedOnly: true }) { secret } }",
            json!({}),
        )
        .await;
    let persisted = data["createApiKey"]["secret"].as_str().unwrap().to_owned();
    let mut ws = connect(&s, TRANSPORT_WS).await;
    init(&mut ws, &Auth::ApiKey(persisted.clone())).await;
    send(
        &mut ws,
        json!({ "type": "subscribe", "id": "t", "payload": { "query": "subscription { events { type } }" } }),
    )
    .await;
    let refused = ils_tests::ws::recv_json(&mut ws).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    ws.close(None).await.ok();
    let mut ws = connect(&s, LEGACY_WS).await;
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": Auth::ApiKey(persisted.clone()).init_payload() }),
    )
    .await;
    let (seen, _) = until_closed(&mut ws).await;
    assert!(
        !seen.iter().any(|m| m["type"] == "connection_ack"),
        "legacy: persisted-only key acknowledged: {seen:?}"
    );
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
    if protocol == TRANSPORT_WS {
        // graphql-transport-ws: 4403 Forbidden, nothing else.
        assert!(seen.is_empty(), "{protocol}: {seen:?}");
        assert_eq!(
            code,
            Some(4403),
            "{protocol}: refused {payload} with {code:?}"
        );
    } else {
        assert!(
            seen.iter().any(|m| m["type"] == "connection_error"),
            "{protocol}: refused without a connection_error: {seen:?} {code:?}"
        );
    }
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
        if protocol == TRANSPORT_WS {
            // graphql-transport-ws: 4401 Unauthorized.
            assert_eq!(code, Some(4401), "{protocol}: {seen:?}");
        } else {
            assert!(
                code.is_some() || !seen.is_empty(),
                "{protocol}: closed silently"
            );
        }
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
        // Refused before execution: an `error` (transport-ws), a result without data (legacy).
        let errors = request_errors(
            &mut ws,
            protocol,
            "i",
            "{ __schema { queryType { name } } }",
        )
        .await;
        if errors[0]["extensions"]["code"] != "GRAPHQL_VALIDATION_FAILED" {
            problems.push(format!(
                "{protocol}: introspection with introspection = off: {errors}"
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
        let errors = request_errors(&mut ws, protocol, "l", &format!("{{ {aliases} }}")).await;
        assert_eq!(
            errors[0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
            "{protocol}: {errors}"
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

/// The close frame the server sends (its code and reason), collecting what came before.
async fn close_frame(ws: &mut Ws) -> (Vec<Value>, Option<(u16, String)>) {
    let mut seen = vec![];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("the server answered within 10 s")
        {
            Some(Ok(Message::Close(frame))) => {
                return (
                    seen,
                    frame.map(|f| (u16::from(f.code), f.reason.as_str().to_owned())),
                );
            }
            Some(Ok(Message::Text(t))) => seen.push(serde_json::from_str(t.as_str()).unwrap()),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return (seen, None),
        }
    }
}

/// graphql-transport-ws: an operation id in use may not start another operation (4409,
/// as the protocol words it); once the client completed it, or it completed, it may.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_operation_id_closes_with_4409_and_a_finished_one_is_free() {
    let s = TestServer::start().await;
    let session = s.sign_up("Twice Optics", "ECP", &email("ws-dup")).await;
    let mut ws = connect(&s, TRANSPORT_WS).await;
    init(&mut ws, &session.auth()).await;
    let subscribe = |id: &str| json!({ "id": id, "type": "subscribe", "payload": { "query": ils_tests::ws::EVENTS } });
    // Completed by the client, then by the server: each id is free again.
    send(&mut ws, subscribe("a")).await;
    send(&mut ws, json!({ "id": "a", "type": "complete" })).await;
    send(&mut ws, subscribe("a")).await;
    let payload = run(&mut ws, TRANSPORT_WS, "q", "{ __typename }").await;
    assert_eq!(payload["data"]["__typename"], "Query", "{payload}");
    let payload = run(&mut ws, TRANSPORT_WS, "q", "{ __typename }").await;
    assert_eq!(payload["data"]["__typename"], "Query", "{payload}");
    // "a" is running: a second one closes the socket.
    send(&mut ws, subscribe("a")).await;
    let (seen, frame) = close_frame(&mut ws).await;
    assert_eq!(
        frame,
        Some((4409, "Subscriber for a already exists".to_owned())),
        "{seen:?}"
    );
    s.finish().await;
}

/// graphql-transport-ws: a message the protocol does not have (or one missing its parts)
/// closes with 4400; a second `connection_init` with 4429; `subscribe` before the
/// acknowledgement with 4401 Unauthorized; refused credentials with 4403 Forbidden.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_violations_close_with_the_protocols_codes() {
    let s = TestServer::start().await;
    let session = s.sign_up("Strict Optics", "ECP", &email("ws-strict")).await;
    for bad in [
        Message::text("not json"),
        Message::text(json!({ "type": "nonsense" }).to_string()),
        Message::text(json!({ "type": "subscribe", "id": "x" }).to_string()),
        Message::text(
            json!({ "type": "subscribe", "id": "", "payload": { "query": "{ __typename }" } })
                .to_string(),
        ),
        // The legacy protocol's message types are not this protocol's.
        Message::text(
            json!({ "type": "start", "id": "x", "payload": { "query": "{ __typename }" } })
                .to_string(),
        ),
    ] {
        let mut ws = connect(&s, TRANSPORT_WS).await;
        init(&mut ws, &session.auth()).await;
        ws.send(bad.clone()).await.unwrap();
        let (seen, frame) = close_frame(&mut ws).await;
        assert_eq!(frame.map(|f| f.0), Some(4400), "{bad:?}: {seen:?}");
    }

    let mut ws = connect(&s, TRANSPORT_WS).await;
    init(&mut ws, &session.auth()).await;
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": session.auth().init_payload() }),
    )
    .await;
    let (_, frame) = close_frame(&mut ws).await;
    assert_eq!(
        frame,
        Some((4429, "Too many initialisation requests".to_owned()))
    );

    let mut ws = connect(&s, TRANSPORT_WS).await;
    send(
        &mut ws,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ __typename }" } }),
    )
    .await;
    let (seen, frame) = close_frame(&mut ws).await;
    assert_eq!(frame, Some((4401, "Unauthorized".to_owned())), "{seen:?}");

    let mut ws = connect(&s, TRANSPORT_WS).await;
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": Auth::Bearer("nope".into()).init_payload() }),
    )
    .await;
    let (seen, frame) = close_frame(&mut ws).await;
    let (code, reason) = frame.expect("a close frame");
    assert_eq!(code, 4403, "{seen:?}");
    assert!(reason.starts_with("Forbidden"), "{reason}");
    s.finish().await;
}

/// graphql-transport-ws: a document that fails to parse or validate gets one `error`
/// message (the errors, with their codes) instead of a result, and nothing after it; the
/// socket stays open. Operations that run and fail still answer `next` with the errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_errors_arrive_as_error_messages() {
    let s = TestServer::start().await;
    let session = s.sign_up("Erring Optics", "ECP", &email("ws-err")).await;
    let mut ws = connect(&s, TRANSPORT_WS).await;
    init(&mut ws, &session.auth()).await;
    for (query, code) in [
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        ("{", "GRAPHQL_PARSE_FAILED"),
        (
            "subscription { events(types: 5) { id } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "{ users(first: 2147483648) { totalCount } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        // Choosing the operation is async-graphql's own error, coded all the same.
        (
            "query A { __typename } query B { __typename }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ] {
        let errors = request_errors(&mut ws, TRANSPORT_WS, "e", query).await;
        assert_eq!(errors[0]["extensions"]["code"], code, "{query}: {errors}");
    }
    // An error during execution is a result.
    let payload = run(
        &mut ws,
        TRANSPORT_WS,
        "f",
        "{ companies { edges { cursor } } }",
    )
    .await;
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{payload}"
    );
    // `ping` is answered with `pong`, with its payload.
    send(&mut ws, json!({ "type": "ping", "payload": { "n": 1 } })).await;
    let pong = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("a pong within 10 s");
    let Some(Ok(Message::Text(pong))) = pong else {
        panic!("{pong:?}")
    };
    assert_eq!(
        serde_json::from_str::<Value>(pong.as_str()).unwrap(),
        json!({ "type": "pong", "payload": { "n": 1 } })
    );
    s.finish().await;
}
