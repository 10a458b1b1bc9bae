//! `/graphql/ws`: graphql-transport-ws and the legacy graphql-ws, authenticated in
//! `connection_init` with the same credentials as HTTP. A socket lives no longer than its
//! credential: it is closed with 4401 when its access token expires and with 4403 when its
//! API key is revoked. Each company may hold a limited number of sockets per process
//! (4429 beyond that).

use crate::credentials::{self, Presented};
use crate::extension::RequestMeta;
use crate::sockets::SocketSlot;
use crate::state::AppState;
use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use ils_kernel::{Actor, ClientInfo, TenantContext};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::{CancellationToken, PollSender};

pub const CLOSE_EXPIRED: u16 = 4401;
pub const CLOSE_REVOKED: u16 = 4403;
pub const CLOSE_TOO_MANY: u16 = 4429;
/// graphql-transport-ws: no `connection_init` in time.
pub const CLOSE_INIT_TIMEOUT: u16 = 4408;

/// How long a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one message may take to reach a client that stopped reading.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an API-key socket checks that its key is still valid, besides listening for
/// the revocation event (which a lagging or reconnecting listener could miss).
const KEY_RECHECK: Duration = Duration::from_secs(30);
/// The socket's read buffer. tungstenite allocates it up front and zero-fills all of it
/// before every read (also on the reads that find nothing, each time the socket's task
/// wakes to send an event), so its default of 128 KiB made an idle socket cost about
/// 150 KiB and every delivery a 128 KiB `memset`. Client messages are small
/// (`connection_init`, `subscribe`, `complete`); a larger one still arrives whole: the
/// buffer grows to the frame's length (up to `max_frame_size`) and is read 4 KiB at a time.
const READ_BUFFER: usize = 4 * 1024;
/// Outgoing frames are written to the TCP socket once this much is buffered, and at each
/// flush; every send here is followed by a flush, so nothing waits. (The buffer allocates
/// nothing up front; a frame is encoded into it whatever its size.)
const WRITE_BUFFER: usize = 4 * 1024;

/// The expiry of a bearer token, from the claims the token settings verify.
fn token_expiry(
    app: &AppState,
    authorization: Option<&str>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let token = credentials::bearer_token(authorization?).ok()?;
    let claims = app.tokens.verify_access(token).ok()?;
    chrono::DateTime::from_timestamp(claims.exp, 0)
}

type Closer = watch::Sender<Option<(u16, &'static str)>>;

/// Where a socket's set-up stands, for the loop that forwards its messages.
#[derive(Clone, Copy, PartialEq)]
enum Phase {
    /// Waiting for `connection_init` (at most INIT_TIMEOUT).
    Opened,
    /// `connection_init` arrived; its credentials are being checked.
    Initialising,
    /// Acknowledged; the socket closes with 4401 at the token's expiry, if it has one.
    Live(Option<tokio::time::Instant>),
}

/// What an event says about the API key `wanted` (a global ID): `Some(true)` when it
/// revokes it, `Some(false)` when it does not, `None` when this release cannot read it
/// (then the database is asked).
fn revokes(ev: &ils_kernel::Event, wanted: &str) -> Option<bool> {
    match ev.decode::<ils_tenancy::events::ApiKeyRevoked>() {
        Ok(Some(revoked)) => Some(revoked.api_key_id.as_str() == wanted),
        Ok(None) => Some(false),
        Err(_) => None,
    }
}

/// Closes an API-key socket when its key is revoked: the revocation event (addressed to
/// the key's company), plus a periodic re-check of the key. `early` was subscribed to
/// every event before the key was checked, so a revocation in between is seen: it is read
/// here up to the moment the company's own channel is subscribed, then dropped, so the
/// watcher wakes only for its company's events. (A token's expiry is kept by the
/// forwarding loop, without a task of its own.)
fn watch_api_key(
    app: &AppState,
    tenant: &TenantContext,
    api_key: Option<String>,
    early: Option<tokio::sync::broadcast::Receiver<Arc<ils_kernel::Event>>>,
    close: Closer,
    ended: CancellationToken,
) {
    let (Actor::ApiKey { id, .. }, Some(key), Some(mut early), Some(company)) =
        (&tenant.actor(), api_key, early, tenant.company_id())
    else {
        return;
    };
    let wanted = ils_kernel::id::encode(ils_tenancy::graphql::types::API_KEY, *id).0;
    let mut events = app.bus.subscribe_company(company);
    // What reached `early` before the company's channel existed: Some(false) when it
    // certainly did not revoke the key, None when the database must say.
    let mut before = Some(false);
    loop {
        use tokio::sync::broadcast::error::TryRecvError;
        match early.try_recv() {
            Ok(ev) => match revokes(&ev, &wanted) {
                Some(true) => {
                    before = Some(true);
                    break;
                }
                Some(false) => {}
                None => before = None,
            },
            Err(TryRecvError::Lagged(_)) => before = None,
            Err(_) => break,
        }
    }
    drop(early);
    let app = app.clone();
    tokio::spawn(async move {
        let revoked = || close.send(Some((CLOSE_REVOKED, "the API key was revoked")));
        let key_valid = || async {
            ils_tenancy::service::credentials::from_api_key(&app.db, key.trim())
                .await
                .is_ok()
        };
        let valid_now = match before {
            Some(revoked) => !revoked,
            None => key_valid().await,
        };
        if !valid_now {
            let _ = revoked();
            return;
        }
        let mut recheck = tokio::time::interval(KEY_RECHECK);
        recheck.tick().await;
        loop {
            let still_valid = tokio::select! {
                ev = events.recv() => match ev {
                    Ok(ev) => match revokes(&ev, &wanted) {
                        Some(revoked) => !revoked,
                        // An event this release cannot read: ask the database.
                        None => key_valid().await,
                    },
                    // Missed events: ask the database.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => key_valid().await,
                    Err(_) => return,
                },
                _ = recheck.tick() => key_valid().await,
                _ = ended.cancelled() => return,
            };
            if !still_valid {
                let _ = revoked();
                return;
            }
        }
    });
}

/// Sends one message, giving up after SEND_TIMEOUT (a client that stopped reading).
async fn send_within<S>(sink: &mut S, msg: Message) -> Result<(), ()>
where
    S: futures_util::Sink<Message> + Unpin,
{
    match tokio::time::timeout(SEND_TIMEOUT, sink.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

pub async fn handler(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let user_agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(300).collect::<String>());
    // The same cap as an HTTP body: axum's default would take 64 MiB messages.
    let max = app.config.max_body_bytes;
    // No `max_write_buffer_size`: the write buffer holds at most the one message being
    // sent (each send is flushed, one at a time, within SEND_TIMEOUT), and an answer may
    // be larger than any bound on what clients send.
    upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(max)
        .max_frame_size(max)
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            let (mut sink, stream) = socket.split();
            let (out_tx, mut out_rx) = mpsc::channel::<Message>(64);
            let (close_tx, mut close_rx) = watch::channel::<Option<(u16, &'static str)>>(None);
            let ended = CancellationToken::new();
            let _ended_guard = ended.clone().drop_guard();
            let slot: Arc<Mutex<Option<SocketSlot>>> = Arc::default();

            let schema = app.schema.clone();
            let init_slot = slot.clone();
            let init_ended = ended.clone();
            let (phase_tx, mut phase_rx) = watch::channel(Phase::Opened);
            let graphql =
                GraphQLWebSocket::new_with_pair(PollSender::new(out_tx), stream, schema, protocol)
                    .on_connection_init(move |payload| async move {
                        let _ = phase_tx.send(Phase::Initialising);
                        let presented = Presented::from_json(&payload);
                        let expires = token_expiry(&app, presented.authorization.as_deref());
                        let api_key = presented.api_key.clone();
                        // Subscribed before the key is checked, so a revocation in between is seen.
                        let early = api_key.is_some().then(|| app.bus.subscribe());
                        let tenant = credentials::resolve(&app, presented)
                            .await
                            .map_err(|e| async_graphql::Error::new(e.to_string()))?;
                        // Introspection and hints are off for anonymous callers in production, and
                        // a socket cannot switch them per operation, so such sockets are refused.
                        if tenant.is_anonymous()
                            && app.config.env == crate::config::Environment::Production
                            && app.config.introspection != crate::config::Introspection::On
                        {
                            return Err(async_graphql::Error::new("authentication required"));
                        }
                        if tenant.is_persisted_only() {
                            return Err(async_graphql::Error::new(
                                "this API key may run persisted operations only",
                            ));
                        }
                        if let Some(company) = tenant.company_id() {
                            match app.sockets.try_open(company, app.config.ws_max_per_company) {
                                Some(s) => {
                                    *init_slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
                                }
                                None => {
                                    let _ = close_tx.send(Some((
                                        CLOSE_TOO_MANY,
                                        "too many open sockets for this company",
                                    )));
                                    return Err(async_graphql::Error::new(
                                        "too many open sockets for this company",
                                    ));
                                }
                            }
                        }
                        watch_api_key(&app, &tenant, api_key, early, close_tx, init_ended);
                        let expires = expires.map(|at| {
                            let left = (at - chrono::Utc::now()).to_std().unwrap_or_default();
                            tokio::time::Instant::now() + left
                        });
                        let _ = phase_tx.send(Phase::Live(expires));
                        let introspection = app.may_introspect(&tenant);
                        let mut data = Data::default();
                        data.insert(tenant);
                        data.insert(ClientInfo {
                            address: Some(peer.ip().to_string()),
                            user_agent,
                        });
                        data.insert(RequestMeta {
                            request_id: uuid::Uuid::now_v7().to_string(),
                            introspection,
                        });
                        Ok(data)
                    })
                    .serve();

            // Everything the protocol sends passes here, so a close of ours can cut in. A
            // client that stops reading is dropped after SEND_TIMEOUT; one that never sends
            // `connection_init` after INIT_TIMEOUT; a token's socket at its expiry.
            let forward = async move {
                // One timer: the deadline for `connection_init`, then the token's expiry.
                let deadline = tokio::time::sleep(INIT_TIMEOUT);
                tokio::pin!(deadline);
                let mut phase = Phase::Opened;
                let mut closer_alive = true;
                let mut phase_alive = true;
                loop {
                    let timed = matches!(phase, Phase::Opened | Phase::Live(Some(_)));
                    let close = tokio::select! {
                        biased;
                        changed = close_rx.changed(), if closer_alive => {
                            if changed.is_err() {
                                closer_alive = false;
                                continue;
                            }
                            *close_rx.borrow()
                        }
                        changed = phase_rx.changed(), if phase_alive => {
                            if changed.is_err() {
                                phase_alive = false;
                                continue;
                            }
                            phase = *phase_rx.borrow();
                            if let Phase::Live(Some(at)) = phase {
                                deadline.as_mut().reset(at);
                            }
                            continue;
                        }
                        _ = &mut deadline, if timed => match phase {
                            Phase::Opened => {
                                let frame = Message::Close(Some(CloseFrame {
                                    code: CLOSE_INIT_TIMEOUT,
                                    reason: "Connection initialisation timeout".into(),
                                }));
                                let _ = send_within(&mut sink, frame).await;
                                return;
                            }
                            _ => Some((CLOSE_EXPIRED, "the access token expired")),
                        },
                        msg = out_rx.recv() => match msg {
                            Some(msg) => {
                                if send_within(&mut sink, msg).await.is_err() {
                                    return;
                                }
                                continue;
                            }
                            None => {
                                let _ = tokio::time::timeout(SEND_TIMEOUT, sink.close()).await;
                                return;
                            }
                        },
                    };
                    if let Some((code, reason)) = close {
                        let frame = Message::Close(Some(CloseFrame {
                            code,
                            reason: reason.into(),
                        }));
                        let _ = send_within(&mut sink, frame).await;
                        let _ = tokio::time::timeout(SEND_TIMEOUT, sink.close()).await;
                        return;
                    }
                }
            };
            tokio::pin!(graphql, forward);
            tokio::select! {
                // The protocol ended (the client left, or its init was refused): what it
                // queued last (a close frame, an error) still goes out.
                _ = &mut graphql => forward.await,
                _ = &mut forward => {}
            }
            drop(slot);
        })
}
