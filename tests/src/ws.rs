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
/// How long to watch for something that must not happen.
pub const MUST_NOT_HAPPEN: Duration = Duration::from_secs(2);

/// What the server sent next.
#[derive(Debug)]
pub enum Event {
    Json(Value),
    /// A close frame (with its code) or the end of the stream (None).
    Closed(Option<u16>),
}

/// Opens `/graphql/ws` with `protocol` and checks the server picked it.
pub async fn connect(s: &TestServer, protocol: &str) -> Ws {
    let url = s.url("/graphql/ws").replacen("http://", "ws://", 1);
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

/// Collects what the server sends until it closes (at most 10 s per message).
pub async fn until_closed(ws: &mut Ws) -> (Vec<Value>, Option<u16>) {
    let mut seen = vec![];
    loop {
        match recv(ws).await {
            Event::Json(v) => seen.push(v),
            Event::Closed(code) => return (seen, code),
        }
    }
}

/// Starts a subscription (graphql-transport-ws) on an acknowledged socket, then runs a
/// trivial query on the same socket so the subscription has been set up by the time this
/// returns (the server handles the messages of one socket in order).
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
    // The subscription stream is polled in the same loop as the probe; a short pause makes
    // sure it reached the bus before the caller causes events.
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// The `events` subscription selecting every field of a `DomainEvent`.
pub const EVENTS: &str =
    "subscription($types: [String!]) { events(types: $types) { id type occurredAt data } }";

/// Opens a graphql-transport-ws socket as `auth` and subscribes to `events(types:)` under
/// the operation id `"events"`.
pub async fn subscribe_events(s: &TestServer, auth: &Auth, types: Option<&[&str]>) -> Ws {
    let mut ws = connect(s, TRANSPORT_WS).await;
    init(&mut ws, auth).await;
    subscribe(&mut ws, "events", EVENTS, json!({ "types": types })).await;
    ws
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

/// Asserts the `events` subscription delivers nothing for 2 s.
pub async fn assert_no_event(ws: &mut Ws, why: &str) {
    if let Some(ev) = next_event_within(ws, "events", MUST_NOT_HAPPEN).await {
        panic!("{why}: unexpected event {ev}");
    }
}
