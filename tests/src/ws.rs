//! A small graphql-transport-ws / graphql-ws client for the tests: connect, send, receive,
//! `connection_init`, and subscriptions.

use crate::{Auth, TestServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub const TRANSPORT_WS: &str = "graphql-transport-ws";
pub const LEGACY_WS: &str = "graphql-ws";

/// How long something that should happen may take.
pub const SHOULD_HAPPEN: Duration = Duration::from_secs(10);
/// How long to watch for something that must not happen where no sentinel can prove it
/// (see `assert_no_event` for the sentinel way, `crate::watch_for_nothing` for the window).
pub const MUST_NOT_HAPPEN: Duration = crate::MUST_NOT_HAPPEN;
/// How long a subscription may take to become live (`ready`), sentinels resent included.
pub const READY: Duration = Duration::from_secs(30);
/// How long `ready` waits for one sentinel before it sends another.
const SENTINEL_RESEND: Duration = Duration::from_secs(3);

/// What the server sent next.
#[derive(Debug)]
pub enum Event {
    Json(Value),
    /// A close frame (with its code) or the end of the stream (None).
    Closed(Option<u16>),
}

/// Opens `/graphql/ws` with `protocol` and checks the server picked it.
pub async fn connect(s: &TestServer, protocol: &str) -> Ws {
    connect_to(&s.url(""), protocol).await
}

/// `connect` to the server at `base` (`http://127.0.0.1:port`), a child process perhaps.
pub async fn connect_to(base: &str, protocol: &str) -> Ws {
    let url = format!("{base}/graphql/ws").replacen("http://", "ws://", 1);
    let mut req = url.into_client_request().expect("a WebSocket request");
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_str(protocol).unwrap(),
    );
    let (ws, resp) = tokio::time::timeout(SHOULD_HAPPEN, tokio_tungstenite::connect_async(req))
        .await
        .expect("WebSocket handshake in time")
        .expect("WebSocket handshake");
    assert_eq!(
        resp.headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some(protocol),
        "the server picked another subprotocol"
    );
    ws
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string()))
        .await
        .expect("message sent");
}

/// The next message within `wait`, skipping pings, pongs and keep-alives; `None` when
/// nothing came in time.
pub async fn recv_within(ws: &mut Ws, wait: Duration) -> Option<Event> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next()).await.ok()?;
        match next {
            None | Some(Err(_)) => return Some(Event::Closed(None)),
            Some(Ok(Message::Close(frame))) => {
                return Some(Event::Closed(frame.map(|f| u16::from(f.code))));
            }
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str()).expect("a JSON message");
                if matches!(v["type"].as_str(), Some("ka" | "ping" | "pong")) {
                    continue;
                }
                return Some(Event::Json(v));
            }
            Some(Ok(_)) => continue,
        }
    }
}

/// The next message, skipping pings, pongs and keep-alives; panics after 10 s.
pub async fn recv(ws: &mut Ws) -> Event {
    recv_within(ws, SHOULD_HAPPEN)
        .await
        .expect("the server answered within 10 s")
}

/// The next message, which must be JSON (not a close).
pub async fn recv_json(ws: &mut Ws) -> Value {
    match recv(ws).await {
        Event::Json(v) => v,
        Event::Closed(code) => panic!("the socket closed ({code:?}) instead of answering"),
    }
}

/// Sends `connection_init` with `auth` and returns the server's first answer.
pub async fn init_raw(ws: &mut Ws, auth: &Auth) -> Event {
    send(
        ws,
        json!({ "type": "connection_init", "payload": auth.init_payload() }),
    )
    .await;
    recv(ws).await
}

/// connection_init with `auth`; asserts the ack.
pub async fn init(ws: &mut Ws, auth: &Auth) {
    match init_raw(ws, auth).await {
        Event::Json(ack) => assert_eq!(ack["type"], "connection_ack", "{ack}"),
        Event::Closed(code) => panic!("connection_init refused: the socket closed ({code:?})"),
    }
}

/// The message type that starts an operation under `protocol`.
pub fn start_type(protocol: &str) -> &'static str {
    if protocol == TRANSPORT_WS {
        "subscribe"
    } else {
        "start"
    }
}

/// Runs one operation and returns its single result payload, checking the completion.
pub async fn run(ws: &mut Ws, protocol: &str, id: &str, query: &str) -> Value {
    let data = if protocol == TRANSPORT_WS {
        "next"
    } else {
        "data"
    };
    send(
        ws,
        json!({ "id": id, "type": start_type(protocol), "payload": { "query": query } }),
    )
    .await;
    let msg = recv_json(ws).await;
    assert_eq!(msg["type"], data, "{msg}");
    assert_eq!(msg["id"], id, "{msg}");
    let done = recv_json(ws).await;
    assert_eq!(done["type"], "complete", "{done}");
    assert_eq!(done["id"], id, "{done}");
    msg["payload"].clone()
}

/// Runs an operation that must fail before execution (its document does not parse or
/// validate) and returns its errors. graphql-transport-ws answers one `error` message with
/// the errors and nothing after it for that id (checked with a probe on the same socket);
/// the legacy protocol a `data` result holding the errors and no data, then `complete`.
pub async fn request_errors(ws: &mut Ws, protocol: &str, id: &str, query: &str) -> Value {
    if protocol != TRANSPORT_WS {
        let payload = run(ws, protocol, id, query).await;
        assert!(
            payload["data"].is_null(),
            "data despite a request error: {payload}"
        );
        return payload["errors"].clone();
    }
    send(
        ws,
        json!({ "id": id, "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
    let msg = recv_json(ws).await;
    assert_eq!(
        (msg["type"].as_str(), msg["id"].as_str()),
        (Some("error"), Some(id)),
        "{msg}"
    );
    assert!(msg["payload"].is_array(), "{msg}");
    // Nothing more for `id`: the probe's answer comes next, and the id may be used again.
    let probe = run(ws, protocol, id, "{ __typename }").await;
    assert_eq!(probe["data"]["__typename"], "Query", "{probe}");
    msg["payload"].clone()
}

/// Collects what the server sends until it closes (at most 10 s per message).
pub async fn until_closed(ws: &mut Ws) -> (Vec<Value>, Option<u16>) {
    until_closed_within(ws, SHOULD_HAPPEN).await
}

/// Collects what the server sends until it closes; panics when it is still open after
/// `wait` in all.
pub async fn until_closed_within(ws: &mut Ws, wait: Duration) -> (Vec<Value>, Option<u16>) {
    let deadline = tokio::time::Instant::now() + wait;
    let mut seen = vec![];
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match recv_within(ws, left).await {
            Some(Event::Json(v)) => seen.push(v),
            Some(Event::Closed(code)) => return (seen, code),
            None => panic!("the socket was still open after {wait:?}; it sent {seen:?}"),
        }
    }
}

/// Starts a subscription (graphql-transport-ws) on an acknowledged socket, then runs a
/// trivial query on the same socket to learn that the server accepted it (a refusal would
/// have come first). Accepted is not yet live: the subscription may reach the event bus a
/// little later. Tests that need events use `ready` (or `subscribe_events_ready`), which
/// proves liveness with a sentinel event.
pub async fn subscribe(ws: &mut Ws, id: &str, query: &str, variables: Value) {
    send(
        ws,
        json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }),
    )
    .await;
    let probe = format!("{id}-probe");
    send(
        ws,
        json!({ "id": probe, "type": "subscribe", "payload": { "query": "{ __typename }" } }),
    )
    .await;
    loop {
        let msg = recv_json(ws).await;
        if msg["id"] == id {
            panic!("the subscription {id} was refused or ended: {msg}");
        }
        assert_eq!(msg["id"], probe.as_str(), "{msg}");
        match msg["type"].as_str() {
            Some("next") => assert_eq!(msg["payload"]["data"]["__typename"], "Query", "{msg}"),
            Some("complete") => break,
            _ => panic!("unexpected answer to the probe: {msg}"),
        }
    }
}

/// The `events` subscription selecting every field of a `DomainEvent`.
pub const EVENTS: &str = "subscription($types: [String!], $after: String) { events(types: $types, after: $after) { id type occurredAt data cursor } }";

/// Opens a graphql-transport-ws socket as `auth` and subscribes to `events(types:)` under
/// the operation id `"events"` (accepted, not necessarily live yet: see `ready`).
pub async fn subscribe_events(s: &TestServer, auth: &Auth, types: Option<&[&str]>) -> Ws {
    let mut ws = connect(s, TRANSPORT_WS).await;
    init(&mut ws, auth).await;
    subscribe(&mut ws, "events", EVENTS, json!({ "types": types })).await;
    ws
}

/// `subscribe_events`, then `ready` with `sentinel`: the returned socket's subscription is
/// live and nothing is pending on it.
pub async fn subscribe_events_ready<F, Fut>(
    s: &TestServer,
    auth: &Auth,
    types: Option<&[&str]>,
    sentinel: F,
) -> Ws
where
    F: FnMut() -> Fut,
    Fut: Future<Output = String>,
{
    let mut ws = subscribe_events(s, auth, types).await;
    ready(&mut [&mut ws], sentinel).await;
    ws
}

/// Whether `event`'s data mentions `token` (an id or a marker a sentinel returned).
fn mentions(event: &Value, token: &str) -> bool {
    event["data"].to_string().contains(token)
}

/// Proves the `events` subscriptions on `sockets` are live with a sentinel.
///
/// `sentinel` is a harmless action that causes exactly one event every socket selects
/// (creating an API key, say) and returns a string that event's `data` contains (its id,
/// a marker). This waits until that event arrives on every socket, skipping what comes
/// before it (leftovers of the test's setup). A sentinel fired before a subscription
/// reached the bus is lost, so while it has not arrived everywhere another one is fired
/// every few seconds, and the newest one is awaited on every socket. Events reach a
/// socket in the order they were dispatched, so nothing of an earlier sentinel is left
/// behind the newest one.
pub async fn ready<F, Fut>(sockets: &mut [&mut Ws], mut sentinel: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = String>,
{
    let deadline = tokio::time::Instant::now() + READY;
    loop {
        let token = sentinel().await;
        let round_end = tokio::time::Instant::now() + SENTINEL_RESEND;
        let mut everywhere = true;
        for ws in sockets.iter_mut() {
            let mut arrived = false;
            loop {
                let left = round_end.saturating_duration_since(tokio::time::Instant::now());
                match next_event_within(ws, "events", left).await {
                    Some(ev) if mentions(&ev, &token) => {
                        arrived = true;
                        break;
                    }
                    Some(_) => continue,
                    None => break,
                }
            }
            everywhere &= arrived;
        }
        if everywhere {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no sentinel event arrived on every subscription within {READY:?}"
        );
    }
}

/// The next event of the subscription `id` within `wait` (`None` when none came); panics
/// on an error, a completion or a close.
pub async fn next_event_within(ws: &mut Ws, id: &str, wait: Duration) -> Option<Value> {
    match recv_within(ws, wait).await? {
        Event::Json(msg) => {
            assert_eq!(msg["id"], id, "{msg}");
            assert_eq!(msg["type"], "next", "{msg}");
            assert!(msg["payload"].get("errors").is_none(), "{msg}");
            Some(msg["payload"]["data"]["events"].clone())
        }
        Event::Closed(code) => panic!("the socket closed ({code:?}) during the subscription"),
    }
}

/// The next event of the `events` subscription opened by `subscribe_events`; panics after
/// 10 s.
pub async fn next_event(ws: &mut Ws) -> Value {
    next_event_within(ws, "events", SHOULD_HAPPEN)
        .await
        .expect("an event within 10 s")
}

/// Asserts the `events` subscriptions on `sockets` deliver nothing more of what happened so
/// far: `sentinel` (as for `ready`) causes one later event every socket selects, and that
/// must be the next event on each. Events arrive in the order they were dispatched, so
/// anything that was on its way would have come first; no fixed waiting window.
pub async fn assert_no_event<F, Fut>(sockets: &mut [&mut Ws], why: &str, mut sentinel: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = String>,
{
    let token = sentinel().await;
    for ws in sockets.iter_mut() {
        let ev = next_event(ws).await;
        assert!(
            mentions(&ev, &token),
            "{why}: unexpected event {ev} (before the sentinel {token})"
        );
    }
}

/// Starts the operation `id` (graphql-transport-ws `subscribe`) on an acknowledged socket
/// and collects every message the server sends for it, in order, until its `complete` or
/// `error` (included as the last message), or until `wait` has passed in all (then the
/// last message is neither). Messages for other operations are skipped; a close panics.
/// Unlike `subscribe`, this does not wait for the operation to be accepted first, so it
/// also sees results the server sends at once.
pub async fn collect_operation(
    ws: &mut Ws,
    id: &str,
    query: &str,
    variables: Value,
    wait: Duration,
) -> Vec<Value> {
    start_operation(ws, id, query, variables).await;
    collect_started(ws, id, wait, usize::MAX).await
}

/// Starts the operation `id` (graphql-transport-ws `subscribe`) on an acknowledged socket
/// and returns at once; `collect_started` reads what it sends.
pub async fn start_operation(ws: &mut Ws, id: &str, query: &str, variables: Value) {
    send(
        ws,
        json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }),
    )
    .await;
}

/// The messages of the started operation `id`, in order, until its `complete` or `error`
/// (included as the last message), until `max` messages, or until `wait` has passed in
/// all. Messages for other operations are skipped; a close panics.
pub async fn collect_started(ws: &mut Ws, id: &str, wait: Duration, max: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut seen = vec![];
    while seen.len() < max {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match recv_within(ws, left).await {
            None => return seen,
            Some(Event::Closed(code)) => {
                panic!("the socket closed ({code:?}) during operation {id}; it sent {seen:?}")
            }
            Some(Event::Json(msg)) => {
                if msg["id"] != id {
                    continue;
                }
                let end = matches!(msg["type"].as_str(), Some("complete" | "error"));
                seen.push(msg);
                if end {
                    return seen;
                }
            }
        }
    }
    seen
}

/// A profile save by `who`: the sentinel for `ready` and `assert_no_event` on `events`
/// subscriptions selecting `marketplace.profile_updated` (an event only `who`'s company
/// gets). Returns the company id, which that event's data contains.
pub async fn profile_saved(s: &TestServer, who: &crate::Session) -> String {
    s.ok(
        &who.auth(),
        "mutation { updateMarketplaceProfile(input: { description: \"x\" }) { marketplaceProfile { companyId } } }",
        json!({}),
    )
    .await["updateMarketplaceProfile"]["marketplaceProfile"]["companyId"]
        .as_str()
        .expect("a company id")
        .to_owned()
}
