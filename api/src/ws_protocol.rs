//! The graphql-transport-ws protocol (the `graphql-ws` library's; its PROTOCOL.md), served
//! here rather than by async-graphql, whose implementation departs from it where clients
//! notice: a `subscribe` before the acknowledgement closes with 1011 instead of 4401, a
//! refused `connection_init` with 1002 instead of 4403, an invalid message with 1002
//! instead of 4400, a second `subscribe` with an id in use silently replaces the first
//! instead of closing with 4409, and an operation that fails to parse or validate answers
//! `next` with the errors instead of `error`. (The legacy `graphql-ws` subprotocol,
//! subscriptions-transport-ws, is still async-graphql's.)
//!
//! What this serves, message by message:
//!
//! - `connection_init` (its payload an object, or none): the credentials are checked by
//!   the caller's `on_init`; `connection_ack` when they hold, close **4403** Forbidden when
//!   they do not. A second one closes with **4429**.
//! - `ping` is answered with `pong` (with the same payload) at any time; `pong` is ignored.
//! - `subscribe` before the acknowledgement closes with **4401** Unauthorized; with the id
//!   of an operation still running, **4409** `Subscriber for <id> already exists`.
//!   Otherwise the operation runs: one `next` per result, then `complete`; a document that
//!   fails to parse or validate gets one `error` (its errors) and nothing after it.
//! - `complete` stops the operation with that id (no answer); its id may be used again.
//! - Anything else (not JSON, an unknown type, a message missing its id or payload) closes
//!   with **4400**.

use crate::extension::{assign_codes, is_request_error};
use crate::schema::AppSchema;
use async_graphql::{Data, Response, ServerError};
use axum::extract::ws::{CloseFrame, Message};
use futures_channel::mpsc;
use futures_util::stream::{self, AbortHandle, Abortable, BoxStream, SelectAll};
use futures_util::{SinkExt, Stream, StreamExt};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub const CLOSE_BAD_REQUEST: u16 = 4400;
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
pub const CLOSE_FORBIDDEN: u16 = 4403;
pub const CLOSE_SUBSCRIBER_EXISTS: u16 = 4409;
pub const CLOSE_TOO_MANY_INITIALISATIONS: u16 = 4429;

/// A close frame's reason is at most 123 bytes (RFC 6455: 125 with the code).
const MAX_REASON: usize = 123;

/// What a client may send.
#[derive(serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<serde_json::Value>,
    },
    Ping {
        #[serde(default)]
        payload: Option<serde_json::Value>,
    },
    Pong {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<serde_json::Value>,
    },
    Subscribe {
        id: String,
        payload: Box<SubscribePayload>,
    },
    Complete {
        id: String,
    },
}

/// A `subscribe` message's payload: a GraphQL request, or a persisted document's ID.
#[derive(serde::Deserialize)]
struct SubscribePayload {
    #[serde(flatten)]
    request: async_graphql::Request,
    #[serde(rename = "documentId", default)]
    document_id: Option<String>,
}

/// Decides what a `subscribe` runs, given the socket's session data: the request as sent,
/// or with a persisted document filled in; or the errors to answer instead.
pub type Admit = Arc<
    dyn Fn(
            async_graphql::Request,
            Option<String>,
            Arc<Data>,
        ) -> futures_util::future::BoxFuture<
            'static,
            Result<async_graphql::Request, Vec<ServerError>>,
        > + Send
        + Sync,
>;

/// What the server sends.
#[derive(serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerMessage<'a> {
    ConnectionAck,
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<serde_json::Value>,
    },
    Next {
        id: &'a str,
        payload: &'a Response,
    },
    Error {
        id: &'a str,
        payload: &'a [ServerError],
    },
    Complete {
        id: &'a str,
    },
}

/// One step of a running operation: a result, or (`None`) its end.
type Step = Option<Response>;

/// What woke the loop.
enum Wake {
    Client(Option<Result<Message, axum::Error>>),
    Init(async_graphql::Result<Data>),
    Operation(Arc<str>, Step),
}

/// Why the socket must close, as the protocol says.
struct Close(u16, String);

/// Serves graphql-transport-ws on one socket until either side ends it: reads `input`,
/// writes every message (and a closing frame) to `out`. `on_init` checks the
/// `connection_init` payload and returns the operations' session data, or the refusal.
pub async fn serve<In, Init, InitFut>(
    schema: AppSchema,
    mut input: In,
    mut out: mpsc::Sender<Message>,
    on_init: Init,
    admit: Admit,
) where
    In: Stream<Item = Result<Message, axum::Error>> + Unpin,
    Init: FnOnce(serde_json::Value) -> InitFut,
    InitFut: Future<Output = async_graphql::Result<Data>> + Send + 'static,
{
    let mut on_init = Some(on_init);
    let mut init: Option<Pin<Box<InitFut>>> = None;
    let mut session: Option<Arc<Data>> = None;
    // The running operations by id, and their results as they come.
    let mut operations: HashMap<String, AbortHandle> = HashMap::new();
    let mut results: SelectAll<BoxStream<'static, (Arc<str>, Step)>> = SelectAll::new();
    loop {
        let wake = tokio::select! {
            msg = input.next() => Wake::Client(msg),
            result = pending_init(&mut init) => Wake::Init(result),
            Some((id, step)) = results.next(), if !results.is_empty() => Wake::Operation(id, step),
        };
        let sent = match wake {
            Wake::Client(None | Some(Err(_))) => return,
            Wake::Client(Some(Ok(msg))) => {
                let message = match msg {
                    Message::Text(text) => serde_json::from_str::<ClientMessage>(text.as_str()),
                    Message::Binary(bytes) => serde_json::from_slice::<ClientMessage>(&bytes),
                    Message::Close(_) => return,
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                let message = match message {
                    Ok(m) => m,
                    Err(e) => {
                        let why = format!("Invalid message received: {e}");
                        return close(&mut out, Close(CLOSE_BAD_REQUEST, why)).await;
                    }
                };
                match message {
                    ClientMessage::ConnectionInit { payload } => {
                        let payload = match payload {
                            None | Some(serde_json::Value::Null) => serde_json::json!({}),
                            Some(p @ serde_json::Value::Object(_)) => p,
                            Some(_) => {
                                let why = "Invalid message received: the connection_init payload is not an object";
                                return close(&mut out, Close(CLOSE_BAD_REQUEST, why.into())).await;
                            }
                        };
                        let Some(on_init) = on_init.take() else {
                            let why = "Too many initialisation requests";
                            return close(
                                &mut out,
                                Close(CLOSE_TOO_MANY_INITIALISATIONS, why.into()),
                            )
                            .await;
                        };
                        init = Some(Box::pin(on_init(payload)));
                        Ok(())
                    }
                    ClientMessage::Ping { payload } => {
                        send(&mut out, &ServerMessage::Pong { payload }).await
                    }
                    ClientMessage::Pong { .. } => Ok(()),
                    ClientMessage::Subscribe { id, payload } => {
                        let Some(data) = &session else {
                            return close(
                                &mut out,
                                Close(CLOSE_UNAUTHORIZED, "Unauthorized".into()),
                            )
                            .await;
                        };
                        if id.is_empty() {
                            let why = "Invalid message received: subscribe needs a non-empty id";
                            return close(&mut out, Close(CLOSE_BAD_REQUEST, why.into())).await;
                        }
                        if operations.contains_key(&id) {
                            let why = format!("Subscriber for {id} already exists");
                            return close(&mut out, Close(CLOSE_SUBSCRIBER_EXISTS, why)).await;
                        }
                        let SubscribePayload {
                            request,
                            document_id,
                        } = *payload;
                        let request = match admit(request, document_id, data.clone()).await {
                            Ok(r) => r,
                            Err(errors) => {
                                let payload = &errors;
                                let message = ServerMessage::Error { id: &id, payload };
                                if send(&mut out, &message).await.is_err() {
                                    return;
                                }
                                continue;
                            }
                        };
                        let (handle, registration) = AbortHandle::new_pair();
                        let key: Arc<str> = Arc::from(id.as_str());
                        let steps = schema
                            .execute_stream_with_session_data(request, data.clone())
                            .map(Some)
                            .chain(stream::once(std::future::ready(None)));
                        // Stopped (by `complete`, or after an `error`), it yields nothing more.
                        let steps = Abortable::new(steps, registration)
                            .map(move |step| (key.clone(), step));
                        results.push(steps.boxed());
                        operations.insert(id, handle);
                        Ok(())
                    }
                    ClientMessage::Complete { id } => {
                        if let Some(handle) = operations.remove(&id) {
                            handle.abort();
                        }
                        Ok(())
                    }
                }
            }
            Wake::Init(result) => {
                init = None;
                match result {
                    Ok(data) => {
                        session = Some(Arc::new(data));
                        send(&mut out, &ServerMessage::ConnectionAck).await
                    }
                    Err(e) => {
                        let why = format!("Forbidden: {}", e.message);
                        return close(&mut out, Close(CLOSE_FORBIDDEN, why)).await;
                    }
                }
            }
            Wake::Operation(id, Some(mut response)) => {
                // (A WebSocket's operations skip the `request` hook that does this over HTTP.)
                assign_codes(&mut response);
                if is_request_error(&response) {
                    if let Some(handle) = operations.remove(&*id) {
                        handle.abort();
                    }
                    let payload = &response.errors;
                    send(&mut out, &ServerMessage::Error { id: &id, payload }).await
                } else {
                    let payload = &response;
                    send(&mut out, &ServerMessage::Next { id: &id, payload }).await
                }
            }
            Wake::Operation(id, None) => {
                operations.remove(&*id);
                send(&mut out, &ServerMessage::Complete { id: &id }).await
            }
        };
        if sent.is_err() {
            // The socket's writer has gone: nobody is listening any more.
            return;
        }
    }
}

/// The pending `connection_init` check's outcome; never, while there is none.
async fn pending_init<F: Future>(init: &mut Option<Pin<Box<F>>>) -> F::Output {
    match init {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

async fn send(out: &mut mpsc::Sender<Message>, message: &ServerMessage<'_>) -> Result<(), ()> {
    let text = serde_json::to_string(message).map_err(|_| ())?;
    out.send(Message::Text(text.into())).await.map_err(|_| ())
}

/// Sends the closing frame; the caller then stops serving.
async fn close(out: &mut mpsc::Sender<Message>, Close(code, mut reason): Close) {
    if reason.len() > MAX_REASON {
        let mut cut = MAX_REASON;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
    }
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = out.send(Message::Close(Some(frame))).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ClientMessage, serde_json::Error> {
        serde_json::from_str(text)
    }

    #[test]
    fn client_messages_parse_as_the_protocol_writes_them() {
        assert!(matches!(
            parse(r#"{"type":"connection_init"}"#),
            Ok(ClientMessage::ConnectionInit { payload: None })
        ));
        assert!(matches!(
            parse(r#"{"type":"subscribe","id":"1","payload":{"query":"{ a }","variables":null}}"#),
            Ok(ClientMessage::Subscribe { .. })
        ));
        assert!(matches!(
            parse(r#"{"type":"complete","id":"1"}"#),
            Ok(ClientMessage::Complete { .. })
        ));
        // Unknown types (the legacy protocol's among them) and missing parts are invalid.
        for bad in [
            r#"{"type":"start","id":"1","payload":{"query":"{ a }"}}"#,
            r#"{"type":"subscribe","id":"1"}"#,
            r#"{"type":"complete"}"#,
            r#"{"id":"1"}"#,
            "[]",
        ] {
            assert!(parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn server_messages_are_written_as_the_protocol_reads_them() {
        let ack = serde_json::to_string(&ServerMessage::ConnectionAck).unwrap();
        assert_eq!(ack, r#"{"type":"connection_ack"}"#);
        let pong = serde_json::to_string(&ServerMessage::Pong { payload: None }).unwrap();
        assert_eq!(pong, r#"{"type":"pong"}"#);
        let errors = [ServerError::new("bad", None)];
        let error = serde_json::to_value(ServerMessage::Error {
            id: "7",
            payload: &errors,
        })
        .unwrap();
        assert_eq!(
            error,
            serde_json::json!({ "type": "error", "id": "7", "payload": [{ "message": "bad" }] })
        );
    }

    #[tokio::test]
    async fn long_close_reasons_are_cut_to_fit_the_frame() {
        let (mut tx, mut rx) = mpsc::channel(1);
        close(&mut tx, Close(CLOSE_SUBSCRIBER_EXISTS, "é".repeat(100))).await;
        let Some(Message::Close(Some(frame))) = rx.next().await else {
            panic!("no close frame");
        };
        assert_eq!(frame.code, CLOSE_SUBSCRIBER_EXISTS);
        assert!(frame.reason.len() <= MAX_REASON && frame.reason.len() >= MAX_REASON - 1);
    }
}
