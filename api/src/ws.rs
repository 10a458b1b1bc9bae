//! `/graphql/ws`: graphql-transport-ws (served by `crate::ws_protocol`) and the legacy
//! graphql-ws (served by async-graphql), authenticated in `connection_init` with the same
//! credentials as HTTP. A socket lives no longer than its credential: it is closed with
//! 4401 when its access token expires and with 4403 when its API key is revoked (or its
//! creator deactivated, or its rights narrowed with its creator's role) or its user
//! deactivated. Each company may hold a limited number of sockets per process (4429
//! beyond that). When the server shuts down, every socket is closed with 1012 (service
//! restart), so clients reconnect (to another replica, or this one restarted) and resume
//! with their cursors.

use crate::credentials::{self, Presented};
use crate::extension::RequestMeta;
use crate::sockets::SocketSlot;
use crate::state::AppState;
use async_graphql::Data;
use async_graphql::http::WebSocketProtocols;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use ils_kernel::{Actor, AppError, ClientInfo, TenantContext};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

pub const CLOSE_EXPIRED: u16 = 4401;
pub const CLOSE_REVOKED: u16 = 4403;
pub const CLOSE_TOO_MANY: u16 = 4429;
/// graphql-transport-ws: no `connection_init` in time.
pub const CLOSE_INIT_TIMEOUT: u16 = 4408;
/// RFC 6455 "Service Restart": the server is shutting down; reconnect and resubscribe.
pub const CLOSE_RESTART: u16 = 1012;

/// How long a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one message may take to reach a client that stopped reading.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a socket's credential (API key or user) is checked in the database, besides
/// listening for the events that end it (which a lagging or reconnecting listener could
/// miss).
const KEY_RECHECK: Duration = Duration::from_secs(30);
/// The socket's read buffer. tungstenite allocates it up front and zero-fills all of it
/// before every read (also on the reads that find nothing, each time the socket's task
/// wakes to send an event), so its default of 128 KiB made an idle socket cost about
/// 150 KiB and every delivery a 128 KiB `memset`. Client messages are small
/// (`connection_init` with a token, `subscribe`, `complete`: most under 1 KiB); a larger
/// one still arrives whole: the buffer grows to the frame's length (up to
/// `max_frame_size`). 1 KiB instead of 4 took 3 KB off each idle socket (README,
/// "Benchmark").
const READ_BUFFER: usize = 1024;
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

/// Where a socket's set-up stands, for the loop that forwards its messages.
#[derive(Clone)]
enum Phase {
    /// Waiting for `connection_init` (at most INIT_TIMEOUT).
    Opened,
    /// `connection_init` arrived; its credentials are being checked.
    Initialising,
    /// Acknowledged: the socket closes with 4401 at the token's expiry, if it has one, and
    /// with 4403 when its API key's watcher says the key was revoked.
    Live {
        expires: Option<tokio::time::Instant>,
        key: Option<watch::Receiver<bool>>,
    },
    /// Refused (too many sockets, a revoked credential): the socket closes with this code
    /// and reason, ahead of what the protocol queued.
    Refused(u16, &'static str),
}

/// The credential a socket follows, and closes with when it ends: its API key (revoked,
/// its creator deactivated, or its rights changed with its creator's role) or its user
/// (deactivated).
#[derive(Clone)]
enum Followed {
    Key {
        id: Uuid,
        secret: String,
        /// The roles the key acted with when the watcher started.
        roles: Vec<ils_kernel::Role>,
    },
    User(TenantContext),
}

impl Followed {
    /// The watcher's key in `AppState::key_watchers` (key and user ids are distinct
    /// UUIDs).
    fn id(&self) -> Uuid {
        match self {
            Followed::Key { id, .. } => *id,
            Followed::User(ctx) => ctx.user_id().unwrap_or_default(),
        }
    }

    /// What an event says: `Some(true)` when it ends the credential, `Some(false)` when
    /// it does not concern it, `None` when the database must say (an event about the
    /// team, or one this release cannot read).
    fn verdict(&self, ev: &ils_kernel::Event) -> Option<bool> {
        use ils_tenancy::events::{ApiKeyRevoked, UserDeactivated, UserRoleChanged};
        let team = |ev: &ils_kernel::Event| {
            ev.event_type == <UserDeactivated as ils_kernel::DomainEvent>::TYPE
                || ev.event_type == <UserRoleChanged as ils_kernel::DomainEvent>::TYPE
        };
        match self {
            Followed::Key { id, .. } => match ev.decode::<ApiKeyRevoked>() {
                Ok(Some(revoked)) => Some(revoked.api_key_id.as_str() == key_global_id(*id)),
                // The creator's deactivation or new role: the key's row and its creator's
                // are read again.
                Ok(None) if team(ev) => None,
                Ok(None) => Some(false),
                Err(_) => None,
            },
            Followed::User(ctx) => match ev.decode::<UserDeactivated>() {
                Ok(Some(gone)) => Some(
                    ctx.user_id()
                        .is_some_and(|u| gone.user_id.as_str() == user_global_id(u)),
                ),
                Ok(None) => Some(false),
                Err(_) => None,
            },
        }
    }

    /// Whether the credential is still good, asking the database.
    async fn still_valid(&self, app: &AppState) -> bool {
        match self {
            Followed::Key { secret, roles, .. } => {
                match ils_tenancy::service::credentials::from_api_key(&app.db, secret.trim()).await
                {
                    Ok(ctx) => ctx.roles() == roles.as_slice(),
                    Err(_) => false,
                }
            }
            // A database that cannot be reached says nothing about the user.
            Followed::User(ctx) => {
                !matches!(app.db.read(ctx).await, Err(AppError::Unauthenticated(_)))
            }
        }
    }
}

/// An API key's global ID, as its events name it.
fn key_global_id(key_id: Uuid) -> String {
    ils_kernel::id::encode(ils_tenancy::graphql::types::API_KEY, key_id).0
}

/// A user's global ID, as its events name it.
fn user_global_id(user_id: Uuid) -> String {
    ils_kernel::id::encode(ils_tenancy::model::USER, user_id).0
}

/// What a socket learns of the credential it follows: `true` once it has ended. One
/// watcher per API key or user in this process, however many sockets it has open (a
/// partner's one key may hold thousands): it listens for the events that end it on its
/// company's channel, re-checks it in the database every KEY_RECHECK (and when it may
/// have missed an event), and stops when the last socket has gone.
///
/// The watcher of a credential that had none is subscribed to the company's channel
/// before this returns, so the caller can read what came before from its own earlier
/// receiver, or check the database once after this.
fn credential_status(app: &AppState, followed: Followed, company: Uuid) -> watch::Receiver<bool> {
    let watched = followed.id();
    let mut watchers = app.key_watchers.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(status) = watchers.get(&watched) {
        return status.subscribe();
    }
    let (status, socket) = watch::channel(false);
    watchers.insert(watched, status.clone());
    drop(watchers);
    let mut events = app.bus.subscribe_company(company);
    let app = app.clone();
    tokio::spawn(async move {
        // Leaves the registry (after saying the credential ended, if it did), unless it
        // is valid and a socket arrived meanwhile; true when it left.
        let leave = |ended: bool| {
            let mut watchers = app.key_watchers.lock().unwrap_or_else(|e| e.into_inner());
            if ended {
                let _ = status.send(true);
            } else if status.receiver_count() > 0 {
                return false;
            }
            watchers.remove(&watched);
            true
        };
        let mut recheck = tokio::time::interval(KEY_RECHECK);
        recheck.tick().await;
        let mut bus_open = true;
        loop {
            let still_valid = tokio::select! {
                ev = events.recv(), if bus_open => match ev {
                    Ok(ev) => match followed.verdict(&ev) {
                        Some(ended) => !ended,
                        None => followed.still_valid(&app).await,
                    },
                    // Missed events: ask the database.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        followed.still_valid(&app).await
                    }
                    // (The bus never closes while the server runs.)
                    Err(_) => {
                        bus_open = false;
                        true
                    }
                },
                _ = recheck.tick() => followed.still_valid(&app).await,
                // The last socket has gone.
                _ = status.closed() => {
                    if leave(false) {
                        return;
                    }
                    continue;
                }
            };
            if !still_valid {
                leave(true);
                return;
            }
        }
    });
    socket
}

/// Whether something that reached `early` (every event, subscribed before the credential
/// was checked) ended `followed`: `Some(true)` or `Some(false)`, or `None` when the
/// database must say (an event that could not be read, or events missed).
fn ended_before(
    mut early: tokio::sync::broadcast::Receiver<Arc<ils_kernel::Event>>,
    followed: &Followed,
) -> Option<bool> {
    let mut before = Some(false);
    loop {
        use tokio::sync::broadcast::error::TryRecvError;
        match early.try_recv() {
            Ok(ev) => match followed.verdict(&ev) {
                Some(true) => return Some(true),
                Some(false) => {}
                None => before = None,
            },
            Err(TryRecvError::Lagged(_)) => before = None,
            Err(_) => return before,
        }
    }
}

/// Resolves when `key` (an API-key socket's status) says the key was revoked; never for
/// other sockets.
async fn revoked(key: Option<&mut watch::Receiver<bool>>) {
    if let Some(key) = key
        && key.wait_for(|revoked| *revoked).await.is_ok()
    {
        return;
    }
    std::future::pending::<()>().await
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
    // The subprotocol `protocol` holds (the client's first known one), named.
    let transport_ws = headers
        .get(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|offered| {
            offered
                .split(',')
                .find_map(|p| p.trim().parse::<WebSocketProtocols>().ok())
        })
        == Some(WebSocketProtocols::GraphQLWS);
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
        .on_upgrade(move |socket| {
            let tasks = app.socket_tasks.clone();
            let shutdown = app.shutdown.clone();
            tasks.track_future(async move {
                let (mut sink, stream) = socket.split();
                // futures' bounded channel allocates a node per queued message and frees it
                // once written; tokio's allocates 32 slots up front and keeps them, 2 KB of
                // every idle socket (README, "Benchmark").
                let (out_tx, mut out_rx) = futures_channel::mpsc::channel::<Message>(64);
                let slot: Arc<Mutex<Option<SocketSlot>>> = Arc::default();

                let schema = app.schema.clone();
                let admit = admit_on(&app);
                let init_slot = slot.clone();
                // One channel for the socket's phase and its refusal (each watch channel
                // keeps its own waiters, about 0.4 KB of every idle socket).
                let (phase_tx, mut phase_rx) = watch::channel(Phase::Opened);
                let on_init = move |payload: serde_json::Value| async move {
                    let _ = phase_tx.send(Phase::Initialising);
                    let presented = Presented::from_json(&payload);
                    let expires = token_expiry(&app, presented.authorization.as_deref());
                    let api_key = presented.api_key.clone();
                    // Subscribed before the key is checked, so a revocation in between
                    // is seen.
                    let early = api_key.is_some().then(|| app.bus.subscribe());
                    let tenant = credentials::resolve(&app, presented)
                        .await
                        .map_err(|e| async_graphql::Error::new(e.to_string()))?;
                    // Introspection and hints are off for anonymous callers in
                    // production, and a socket cannot switch them per operation, so such
                    // sockets are refused.
                    if tenant.is_anonymous()
                        && app.config.env == crate::config::Environment::Production
                        && app.config.introspection != crate::config::Introspection::On
                    {
                        return Err(async_graphql::Error::new("authentication required"));
                    }
                    // Persisted documents and the first-party modes are enforced over
                    // graphql-transport-ws only: the legacy protocol (async-graphql's own
                    // loop) would run any text, so it is refused to callers whose text is
                    // limited.
                    let key = matches!(tenant.actor(), Actor::ApiKey { .. });
                    let limited = tenant.is_persisted_only()
                        || (!key && app.operations.mode != crate::config::OperationsMode::Off);
                    if limited && !transport_ws {
                        return Err(async_graphql::Error::new(
                            "persisted operations and ILS_OPERATIONS need the \
                             graphql-transport-ws protocol",
                        ));
                    }
                    if let Some(company) = tenant.company_id() {
                        match app.sockets.try_open(company, app.config.ws_max_per_company) {
                            Some(s) => {
                                *init_slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
                            }
                            None => {
                                let _ = phase_tx.send(Phase::Refused(
                                    CLOSE_TOO_MANY,
                                    "too many open sockets for this company",
                                ));
                                return Err(async_graphql::Error::new(
                                    "too many open sockets for this company",
                                ));
                            }
                        }
                    }
                    // A socket follows its API key's or its user's watcher. For a key,
                    // what ended it between `early` and the watcher's own subscription
                    // is read from `early`; a user's token was checked without the
                    // database, so the user's row is read once, after the watcher
                    // subscribed.
                    let key = match (tenant.actor(), api_key, early, tenant.company_id()) {
                        (Actor::ApiKey { id, .. }, Some(secret), Some(early), Some(co)) => {
                            let followed = Followed::Key {
                                id,
                                secret,
                                roles: tenant.roles().to_vec(),
                            };
                            let status = credential_status(&app, followed.clone(), co);
                            let valid = match ended_before(early, &followed) {
                                Some(ended) => !ended,
                                None => followed.still_valid(&app).await,
                            };
                            if !valid {
                                let why = "the API key was revoked";
                                let _ = phase_tx.send(Phase::Refused(CLOSE_REVOKED, why));
                                return Err(async_graphql::Error::new(why));
                            }
                            Some(status)
                        }
                        (Actor::User(_), _, _, Some(co)) => {
                            let followed = Followed::User(tenant.clone());
                            let status = credential_status(&app, followed.clone(), co);
                            if !followed.still_valid(&app).await {
                                let why = "this account is not active";
                                let _ = phase_tx.send(Phase::Refused(CLOSE_REVOKED, why));
                                return Err(async_graphql::Error::new(why));
                            }
                            Some(status)
                        }
                        _ => None,
                    };
                    let expires = expires.map(|at| {
                        let left = (at - chrono::Utc::now()).to_std().unwrap_or_default();
                        tokio::time::Instant::now() + left
                    });
                    let _ = phase_tx.send(Phase::Live { expires, key });
                    let introspection = app.may_introspect(&tenant);
                    let mut data = Data::default();
                    data.insert(tenant);
                    data.insert(app.limiter.clone());
                    data.insert(ClientInfo {
                        address: Some(peer.ip().to_string()),
                        user_agent,
                    });
                    data.insert(RequestMeta {
                        request_id: uuid::Uuid::now_v7().to_string(),
                        introspection,
                    });
                    Ok(data)
                };
                // graphql-transport-ws is served by `crate::ws_protocol`, the legacy graphql-ws
                // by async-graphql.
                let graphql: futures_util::future::BoxFuture<'static, ()> = if transport_ws {
                    Box::pin(crate::ws_protocol::serve(
                        schema, stream, out_tx, on_init, admit,
                    ))
                } else {
                    Box::pin(
                        GraphQLWebSocket::new_with_pair(out_tx, stream, schema, protocol)
                            .on_connection_init(on_init)
                            .serve(),
                    )
                };

                // Everything the protocol sends passes here, so a close of ours can cut in. A
                // client that stops reading is dropped after SEND_TIMEOUT; one that never sends
                // `connection_init` after INIT_TIMEOUT; a token's socket at its expiry.
                let forward = async move {
                    // One timer: the deadline for `connection_init`, then the token's expiry.
                    let deadline = tokio::time::sleep(INIT_TIMEOUT);
                    tokio::pin!(deadline);
                    let mut phase = Phase::Opened;
                    let mut key: Option<watch::Receiver<bool>> = None;
                    let mut phase_alive = true;
                    // One waiter for the whole life of the socket, not one per message.
                    let stopping = shutdown.cancelled_owned();
                    tokio::pin!(stopping);
                    loop {
                        let timed = matches!(
                            phase,
                            Phase::Opened
                                | Phase::Live {
                                    expires: Some(_),
                                    ..
                                }
                        );
                        let close = tokio::select! {
                            biased;
                            changed = phase_rx.changed(), if phase_alive => {
                                if changed.is_err() {
                                    phase_alive = false;
                                    continue;
                                }
                                phase = phase_rx.borrow().clone();
                                match &mut phase {
                                    Phase::Refused(code, reason) => Some((*code, *reason)),
                                    Phase::Live { expires, key: status } => {
                                        if let Some(at) = expires {
                                            deadline.as_mut().reset(*at);
                                        }
                                        key = status.take();
                                        continue;
                                    }
                                    Phase::Opened | Phase::Initialising => continue,
                                }
                            }
                            _ = revoked(key.as_mut()) => {
                                Some((CLOSE_REVOKED, "the credential was revoked"))
                            }
                            () = &mut stopping => {
                                Some((CLOSE_RESTART, "the server is restarting; reconnect"))
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
                            msg = out_rx.next() => match msg {
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
        })
}

/// The persisted-operations gate for a socket's `subscribe` messages: the same decision
/// as over HTTP (`operations::gate`), for the socket's caller.
fn admit_on(app: &AppState) -> crate::ws_protocol::Admit {
    let app = app.clone();
    Arc::new(move |mut request, document_id, data| {
        let app = app.clone();
        Box::pin(async move {
            let tenant = data
                .get(&std::any::TypeId::of::<TenantContext>())
                .and_then(|d| d.downcast_ref::<TenantContext>())
                .cloned()
                .unwrap_or_else(TenantContext::anonymous);
            // Each `subscribe` draws one request on the socket's caller's budgets (its
            // cost is drawn once validated, as over HTTP); over the budget, the client
            // gets an `error` message for that id, never a silent drop.
            let address = data
                .get(&std::any::TypeId::of::<ClientInfo>())
                .and_then(|d| d.downcast_ref::<ClientInfo>())
                .and_then(|c| c.address.clone());
            let drawn = app
                .limiter
                .charge(
                    &tenant,
                    address.as_deref(),
                    &[(crate::ratelimit::Measure::Requests, 1)],
                )
                .await;
            if let Some(refusal) = drawn.refused() {
                let refused = crate::usage::Counts::refused();
                app.limiter
                    .usage
                    .add(&tenant, request.operation_name.as_deref(), refused);
                return Err(vec![refusal.error()]);
            }
            let gate = &app.operations;
            match crate::operations::gate::admit(
                gate,
                &app.db,
                &tenant,
                &mut request,
                document_id.as_deref(),
            )
            .await
            {
                // (An automatic persisted query is registered over HTTP only.)
                Ok(admission) => {
                    if let Some(hash) = admission.published {
                        gate.count(&tenant, &hash, false);
                    }
                    // Its request is drawn: the request pipeline draws only its cost.
                    Ok(request.data(crate::ratelimit::RateSlot::default()))
                }
                Err(refusal) => {
                    let (code, message) = refusal.code_and_message();
                    let mut e = async_graphql::ServerError::new(message, None);
                    e.extensions
                        .get_or_insert_with(Default::default)
                        .set("code", code);
                    Err(vec![e])
                }
            }
        })
    })
}
