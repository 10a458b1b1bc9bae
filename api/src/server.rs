//! Building the application and serving it: the router, timeouts, request ids, graceful
//! shutdown.

use crate::config::{Config, Environment};
use crate::db::{self, StatementCounter};
use crate::extension::Protections;
use crate::state::AppState;
use crate::{metrics as m, playground, redis_throttle::RedisThrottle, schema, seed, transport, ws};
use anyhow::Context as _;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use ils_kernel::Db;
use ils_kernel::throttle::{MemoryThrottle, Throttle};
use ils_tenancy::tokens::TokenSettings;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Connects, migrates, seeds (when asked) and assembles the state.
pub async fn build(config: Config) -> anyhow::Result<(AppState, StatementCounter)> {
    m::handle(); // install the recorder before anything records
    let counter = StatementCounter::default();
    let (conn, observer) = db::connect(&config, &counter).await?;
    db::migrate(&conn).await?;
    let registry = Arc::new(crate::background::registry());
    let db = Db::new(conn, Some(config.db_app_role.clone()))
        .with_registry(registry.clone())
        .observed_by(observer);
    let tokens = TokenSettings {
        secret: config.signing_secret()?,
        issuer: config.jwt_issuer.clone(),
        audience: config.jwt_audience.clone(),
        access_ttl: Duration::from_secs(config.access_token_ttl_secs),
        refresh_ttl: Duration::from_secs(config.refresh_token_ttl_secs),
    };
    let (redis, redis_client) = match &config.redis_url {
        Some(url) => {
            let client =
                redis::Client::open(url.as_str()).context("REDIS_URL is not a valid Redis URL")?;
            let conn = crate::redis_bus::connect(
                client.clone(),
                Duration::from_millis(config.redis_timeout_ms),
            )
            .await
            .context("cannot connect to Redis")?;
            (Some(conn), Some(client))
        }
        None => (None, None),
    };
    // With Redis, events and job wake-ups travel between replicas through it.
    let bus = match &redis {
        Some(conn) => {
            db.wake().set_remote(crate::redis_bus::wake_hook(
                conn.clone(),
                &config.redis_prefix,
            ));
            ils_kernel::Bus::with_relay(Arc::new(crate::redis_bus::RedisRelay::new(
                conn.clone(),
                &config.redis_prefix,
            )))
        }
        None => ils_kernel::Bus::in_process(),
    };
    let (background, observer) = db::connect_background(&config).await?;
    let background_db = db.on_connection(background, observer);
    let webhooks = crate::background::webhook_settings(&config)?;
    let files = config.files()?.with_link_secret(&tokens.secret);
    let resources = crate::background::resources(&config, webhooks.clone(), files.clone())?;
    let throttle: Arc<dyn Throttle> = match &redis {
        Some(conn) => Arc::new(RedisThrottle::new(conn.clone(), &config.redis_prefix)),
        None => Arc::new(MemoryThrottle::default()),
    };
    let rate_store: Arc<dyn ils_kernel::ratelimit::RateStore> = match &redis_client {
        Some(client) => Arc::new(crate::redis_ratelimit::RedisRateStore::new(
            client.clone(),
            crate::redis_bus::manager_config(Duration::from_millis(config.redis_timeout_ms)),
            &config.redis_prefix,
        )),
        None => Arc::new(ils_kernel::ratelimit::MemoryRateStore::default()),
    };
    let limiter = Arc::new(crate::ratelimit::Limiter::new(
        rate_store,
        db.clone(),
        &config,
        Arc::default(),
    ));
    let demo = config.seed_demo && config.env == Environment::Development;
    let mut demo_logins = vec![];
    if demo {
        if seed::seed_if_empty(&db, &tokens)
            .await
            .map_err(|e| anyhow::anyhow!("seeding demo data failed: {e:?}"))?
        {
            tracing::info!("seeded demo data");
        }
        demo_logins = seed::demo_logins();
    }
    let limits = Protections::from(&config);
    let operations = Arc::new(crate::operations::runtime::Runtime::new(
        config.operations_mode(),
        redis.clone().map(|c| (c, config.redis_prefix.clone())),
    ));
    let checker = Arc::new(schema::checker(&limits));
    if demo
        && crate::operations::publish_examples(
            &db,
            &checker,
            "playground",
            &crate::playground::examples(),
        )
        .await?
    {
        tracing::info!("published the playground's examples as the operation list `playground`");
    }
    let assistant = ils_ai::Assistant::new(
        config.ai_settings()?,
        bus.clone(),
        reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()?,
    )
    .map_err(|e| anyhow::anyhow!("assistant: {e}"))?;
    let toolbox = ils_kernel::tools::Toolbox::new(
        <schema::Modules as ils_kernel::module::ModuleList>::tools(),
    )?;
    let checklist = ils_kernel::onboarding::Checklist::new(
        <schema::Modules as ils_kernel::module::ModuleList>::onboarding(),
    )?;
    // The public schema and the federation subgraph: the same types, limits and data.
    let with_data = |b: async_graphql::SchemaBuilder<_, _, _>| {
        b.data(db.clone())
            .data(tokens.clone())
            .data(throttle.clone())
            .data(ils_tenancy::service::auth::SignUpLimit(
                config.sign_ups_per_address,
            ))
            .data(bus.clone())
            .data(webhooks.clone())
            .data(files.clone())
            .data(operations.clone())
            .data(checker.clone())
            .data(assistant.clone())
            .data(toolbox.clone())
            .data(checklist.clone())
            .finish()
    };
    let schema = with_data(schema::platform_builder(&limits));
    let subgraph = with_data(schema::subgraph_builder(&limits));
    let state = AppState {
        config: Arc::new(config),
        schema,
        subgraph,
        operations,
        db,
        background_db,
        tokens,
        redis,
        throttle,
        limiter,
        operation_names: Arc::new(m::OperationNames::default()),
        demo_logins: Arc::new(demo_logins),
        bus,
        registry,
        resources,
        redis_client,
        sockets: Arc::default(),
        key_watchers: Arc::default(),
        webhook_sink: Arc::default(),
        files,
        shutdown: CancellationToken::new(),
        socket_tasks: TaskTracker::new(),
    };
    Ok((state, counter))
}

#[derive(serde::Deserialize)]
struct LinkQuery {
    expires: i64,
    signature: String,
}

/// A file through a signed download link (`Files::link`): the link is the credential, so
/// no login is asked; a wrong or expired link is 403, a file that is gone 404.
async fn download(
    State(state): State<AppState>,
    axum::extract::Path(key): axum::extract::Path<String>,
    query: Result<axum::extract::Query<LinkQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(axum::extract::Query(q)) = query else {
        return (StatusCode::FORBIDDEN, "a download link needs its signature").into_response();
    };
    match state.files.open_link(&key, q.expires, &q.signature).await {
        Ok(bytes) => {
            let name = key.rsplit('/').next().unwrap_or("file");
            let kind = match name.rsplit_once('.').map(|(_, ext)| ext) {
                Some("oma" | "dcs" | "txt") => "text/plain; charset=utf-8",
                Some("csv") => "text/csv; charset=utf-8",
                _ => "application/octet-stream",
            };
            (
                [
                    (axum::http::header::CONTENT_TYPE, kind.to_owned()),
                    (
                        axum::http::header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{}\"", name.replace('"', "")),
                    ),
                    (
                        axum::http::header::CACHE_CONTROL,
                        "private, no-store".to_owned(),
                    ),
                ],
                bytes,
            )
                .into_response()
        }
        Err(ils_kernel::AppError::NotFound) => {
            (StatusCode::NOT_FOUND, "no such file").into_response()
        }
        Err(ils_kernel::AppError::Forbidden(m)) => (StatusCode::FORBIDDEN, m).into_response(),
        Err(e) => {
            tracing::error!(error = ?e, "download failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the file could not be read",
            )
                .into_response()
        }
    }
}

pub fn router(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    let http = Router::new()
        .route("/graphql", get(transport::get).post(transport::post))
        .route(
            "/subgraph",
            get(transport::get_subgraph).post(transport::post_subgraph),
        )
        .route("/playground", get(playground_page))
        .route("/playground/", get(playground_page))
        .route("/playground/assets/{name}", get(playground::asset))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_page))
        .route("/files/{*key}", get(download))
        .route("/dev/webhook-sink", get(sink_list).post(sink_receive))
        .route("/dev/mail", get(dev_mailbox))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ));
    let cors = cors_layer(&state.config.cors_origins);
    let app = Router::new()
        .route("/graphql/ws", get(ws::handler))
        .merge(http)
        .with_state(state);
    let app = match cors {
        Some(c) => app.layer(c),
        None => app,
    };
    with_request_layers(app)
}

/// CORS for the configured origins (`ILS_CORS_ORIGINS`); none configured, no CORS headers
/// (browsers then keep other sites out). A listed origin may send credentials; `*`
/// (development only) may not, as the Fetch standard requires.
fn cors_layer(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderValue, Method, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::ACCEPT,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("ratelimit"),
            HeaderName::from_static("ratelimit-policy"),
            HeaderName::from_static("retry-after"),
        ])
        .max_age(Duration::from_secs(600));
    Some(if origins.iter().any(|o| o == "*") {
        layer.allow_origin(AllowOrigin::any())
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        layer
            .allow_origin(AllowOrigin::list(list))
            .allow_credentials(true)
    })
}

/// What every route gets: a request id (the caller's when plain, else a fresh one), a
/// trace span carrying it, panics caught, and timeouts and panics answered in the usual
/// error shape with that id.
fn with_request_layers(app: Router) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    // One log line per request, refused ones (400, 401, 405, 413, 429…) included.
    app.layer(
        TraceLayer::new_for_http()
            .make_span_with(|req: &axum::http::Request<_>| {
                let rid = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                tracing::info_span!("request", request_id = %rid, method = %req.method(), path = %req.uri().path())
            })
            .on_request(())
            .on_response(
                |res: &Response, latency: Duration, _span: &tracing::Span| {
                    tracing::info!(status = res.status().as_u16(), latency_ms = latency.as_millis() as u64, "response");
                },
            )
            .on_failure(()),
    )
    .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
    .layer(axum::middleware::from_fn(explain_transport_errors))
    .layer(PropagateRequestIdLayer::new(request_id.clone()))
    .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
    .layer(axum::middleware::map_request(drop_unsafe_request_id))
}

/// A caller may send its own `x-request-id` to correlate logs; it is kept only when it is
/// short and plain (it lands in log lines and responses), otherwise a fresh one is made.
async fn drop_unsafe_request_id(mut req: axum::extract::Request) -> axum::extract::Request {
    let safe = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if !safe {
        req.headers_mut().remove("x-request-id");
    }
    req
}

/// Marks the response of a handler that panicked.
#[derive(Clone, Copy)]
struct Panicked;

/// A panic is a bug: it is logged, and the client gets INTERNAL (shaped below).
fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    tracing::error!(%detail, "handler panicked");
    let mut res = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    res.extensions_mut().insert(Panicked);
    res
}

/// The timeout layer answers a bare 408 and the panic layer a bare 500; clients get the
/// usual error shape instead, with the request id (this runs inside the request-id layer).
async fn explain_transport_errors(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let rid = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let res = next.run(req).await;
    if res.status() == StatusCode::REQUEST_TIMEOUT {
        return transport::json_error(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            "the request took too long",
            &rid,
        );
    }
    if res.extensions().get::<Panicked>().is_some() {
        return transport::json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "internal error",
            &rid,
        );
    }
    res
}

/// `POST /dev/webhook-sink` (development only; see `dev_sink`).
async fn sink_receive(
    State(app): State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if app.config.env != Environment::Development {
        return StatusCode::NOT_FOUND.into_response();
    }
    app.webhook_sink.receive(&headers, &body);
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /dev/webhook-sink`: what the sink kept, newest first (development only).
async fn sink_list(State(app): State<AppState>) -> Response {
    if app.config.env != Environment::Development {
        return StatusCode::NOT_FOUND.into_response();
    }
    axum::Json(serde_json::json!({ "deliveries": app.webhook_sink.list() })).into_response()
}

/// `GET /dev/mail?to=ADDRESS`: the messages this process wrote to the mail folder for
/// that address, newest first (development only, and only without SMTP: the mailbox a
/// developer trying sign-up or invitations would otherwise open as .eml files). The
/// playground reads the sign-up token from it.
async fn dev_mailbox(
    State(app): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    if app.config.env != Environment::Development {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(to) = q.get("to").filter(|t| !t.trim().is_empty()) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({ "error": "name the recipient: /dev/mail?to=ADDRESS" })),
        )
            .into_response();
    };
    let messages = app
        .resources
        .get::<ils_backbone::service::mail::Mailer>()
        .map(|m| m.kept_for(to))
        .unwrap_or_default();
    axum::Json(serde_json::json!({ "messages": messages })).into_response()
}

async fn playground_page(State(app): State<AppState>) -> Response {
    let env = match app.config.env {
        Environment::Development => "development",
        Environment::Production => "production",
    };
    playground::page(&app.demo_logins, env)
}

/// Whether the database and Redis answer, within 1 s whatever is down: each is asked at
/// once, for at most 900 ms.
async fn readyz(State(app): State<AppState>) -> Response {
    const WITHIN: Duration = Duration::from_millis(900);
    let database = async {
        tokio::time::timeout(WITHIN, app.db.ping())
            .await
            .is_ok_and(|r| r.is_ok())
    };
    let redis = async {
        let mut c = app.redis.clone()?;
        let pong = tokio::time::timeout(WITHIN, async {
            redis::cmd("PING").query_async::<String>(&mut c).await
        })
        .await;
        Some(pong.is_ok_and(|r| r.is_ok()))
    };
    let (database, redis) = tokio::join!(database, redis);
    let ok = database && redis.unwrap_or(true);
    let word = |b: bool| if b { "ok" } else { "unavailable" };
    // While Redis is away each process throttles log-ins on its own counts.
    let throttle = if app.throttle.degraded() {
        "degraded: counting per process"
    } else {
        "ok"
    };
    // And keeps rate budgets on its own.
    let rate_limits = if !app.config.rate_limits {
        "off"
    } else if app.limiter.degraded() {
        "degraded: budgets per process"
    } else {
        "ok"
    };
    let body = serde_json::json!({
        "database": word(database),
        "redis": redis.map(word).unwrap_or("not configured"),
        "throttle": throttle,
        "rateLimits": rate_limits,
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// `/metrics` on the main address: open in development; with `ILS_METRICS_TOKEN` it asks
/// for that bearer token; in production without a token it is not served here (only on
/// `ILS_METRICS_LISTEN`, when set).
async fn metrics_page(State(app): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let served_here = app.config.metrics_listen.is_none()
        && (app.config.metrics_token.is_some() || app.config.env == Environment::Development);
    if !served_here {
        return StatusCode::NOT_FOUND.into_response();
    }
    if let Some(token) = &app.config.metrics_token {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        use subtle::ConstantTimeEq;
        if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
                "metrics need the bearer token (ILS_METRICS_TOKEN)",
            )
                .into_response();
        }
    }
    metrics_text(&app)
}

fn metrics_text(app: &AppState) -> Response {
    pool_gauges(&app.db);
    let text = m::render();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        text,
    )
        .into_response()
}

fn pool_gauges(db: &Db) {
    #[allow(clippy::disallowed_methods)]
    let conn = db.raw_connection();
    let (size, idle) = match db.backend() {
        sea_orm::DbBackend::Postgres => {
            let p = conn.get_postgres_connection_pool();
            (p.size(), p.num_idle())
        }
        _ => {
            let p = conn.get_sqlite_connection_pool();
            (p.size(), p.num_idle())
        }
    };
    metrics::gauge!("ils_db_pool_connections", "state" => "open").set(size as f64);
    metrics::gauge!("ils_db_pool_connections", "state" => "idle").set(idle as f64);
}

/// Starts what runs beside the HTTP server: the Redis listener (when configured) and, when
/// `workers` is not 0, the dispatcher, the workers and the scheduler. Waits until the Redis
/// listener is subscribed, so no event published after start-up is missed.
pub async fn start_background(state: &AppState, shutdown: &CancellationToken) -> TaskTracker {
    let tracker = TaskTracker::new();
    // Persisted operations' usage counts, written every 2 s and once more at shutdown.
    {
        let (operations, db, stop) = (
            state.operations.clone(),
            state.background_db.clone(),
            shutdown.clone(),
        );
        tracker.spawn(async move {
            loop {
                let stopping = tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => false,
                    _ = stop.cancelled() => true,
                };
                operations.flush(&db).await;
                if stopping {
                    break;
                }
            }
        });
    }
    tracker.spawn(crate::usage::run(
        state.limiter.usage.clone(),
        state.background_db.clone(),
        shutdown.clone(),
    ));
    // A company's plan or budgets changed (here or on another replica): its next request
    // reads them again.
    {
        let (limiter, mut events, stop) = (
            state.limiter.clone(),
            state.bus.subscribe(),
            shutdown.clone(),
        );
        tracker.spawn(async move {
            loop {
                let event = tokio::select! {
                    e = events.recv() => e,
                    _ = stop.cancelled() => break,
                };
                match event {
                    Ok(e) if e.event_type.starts_with("company.") => {
                        e.audience.iter().for_each(|c| limiter.forget(*c));
                        if let Some(c) = e.company_id {
                            limiter.forget(c);
                        }
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        limiter.forget_all();
                    }
                    Err(_) => break,
                }
            }
        });
    }
    if let Some(client) = &state.redis_client {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let listener = crate::redis_bus::Listener {
            client: client.clone(),
            prefix: state.config.redis_prefix.clone(),
            bus: state.bus.clone(),
            db: state.background_db.clone(),
            wake: state.background_db.wake(),
            timeout: Duration::from_millis(state.config.redis_timeout_ms),
        };
        tracker.spawn(crate::redis_bus::listen(
            listener,
            shutdown.clone(),
            Some(ready_tx),
        ));
        if tokio::time::timeout(Duration::from_secs(5), ready_rx)
            .await
            .is_err()
        {
            tracing::warn!("the Redis listener is not subscribed yet; continuing");
        }
    }
    crate::background::spawn_workers(
        &tracker,
        &state.config,
        &state.background_db,
        &state.bus,
        state.registry.clone(),
        state.resources.clone(),
        shutdown,
    );
    tracker.close();
    tracker
}

/// A server running in this process (tests start one per test on a free port).
pub struct RunningServer {
    pub addr: SocketAddr,
    /// Where `/metrics` is served alone (`ILS_METRICS_LISTEN`), when set.
    pub metrics_addr: Option<SocketAddr>,
    pub statements: StatementCounter,
    pub state: AppState,
    shutdown: CancellationToken,
    done: tokio::task::JoinHandle<()>,
    background: TaskTracker,
}

impl RunningServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Shuts down gracefully: the listener closes at once (new connections are refused,
    /// not left waiting in its backlog), requests in flight are answered and their
    /// connections closed (an idle keep-alive connection is closed before another request
    /// is read from it), every WebSocket gets a close frame with 1012 (service restart),
    /// and background work finishes its jobs, all within `shutdown_grace_secs`.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let grace = Duration::from_secs(self.state.config.shutdown_grace_secs);
        let deadline = tokio::time::Instant::now() + grace;
        let _ = self.done.await;
        let sockets = &self.state.socket_tasks;
        sockets.close();
        if tokio::time::timeout_at(deadline, sockets.wait())
            .await
            .is_err()
        {
            tracing::warn!("WebSockets still open after the shutdown grace period");
        }
        if tokio::time::timeout_at(deadline, self.background.wait())
            .await
            .is_err()
        {
            tracing::warn!("background work still running after the shutdown grace period");
        }
    }
}

/// Builds the application and serves it until `shutdown` is cancelled.
pub async fn start(mut config: Config) -> anyhow::Result<RunningServer> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    // The address bound (port 0 asks for any): what links in mail are made on by default.
    config.listen = addr;
    let metrics_listener = match config.metrics_listen {
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .with_context(|| format!("cannot listen on {a} (ILS_METRICS_LISTEN)"))?,
        ),
        None => None,
    };
    let metrics_addr = match &metrics_listener {
        Some(l) => Some(l.local_addr()?),
        None => None,
    };
    let (state, statements) = build(config).await?;
    let shutdown = state.shutdown.clone();
    let background = start_background(&state, &shutdown).await;
    if let Some(l) = metrics_listener {
        let metrics_only = with_request_layers(
            Router::new()
                .route(
                    "/metrics",
                    get(|State(app): State<AppState>| async move { metrics_text(&app) }),
                )
                .with_state(state.clone()),
        );
        tokio::spawn(serve(
            l,
            metrics_only,
            state.config.clone(),
            shutdown.clone(),
        ));
    } else if state.config.env == Environment::Production && state.config.metrics_token.is_none() {
        tracing::info!("/metrics is not served: set ILS_METRICS_LISTEN or ILS_METRICS_TOKEN");
    }
    let done = tokio::spawn(serve(
        listener,
        router(state.clone()),
        state.config.clone(),
        shutdown.clone(),
    ));
    Ok(RunningServer {
        addr,
        metrics_addr,
        statements,
        state,
        shutdown,
        done,
        background,
    })
}

async fn serve(
    listener: TcpListener,
    app: Router,
    config: Arc<Config>,
    shutdown: CancellationToken,
) {
    let tracker = TaskTracker::new();
    let header_timeout = Duration::from_secs(config.header_read_timeout_secs);
    // Checked when the configuration was loaded.
    let proxies = Arc::new(
        crate::forwarded::TrustedProxies::parse(&config.trusted_proxies).unwrap_or_default(),
    );
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let proxies = proxies.clone();
        let service =
            app.clone()
                .map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    // The client's address, as the trusted proxies name it.
                    let client = proxies.client(peer.ip(), req.headers());
                    req.extensions_mut()
                        .insert(ConnectInfo(SocketAddr::new(client, peer.port())));
                    req
                });
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            // Without a timer hyper never enforces the header-read timeout (slowloris).
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let hyper_service = hyper_util::service::TowerToHyperService::new(service);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), hyper_service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    // Stop listening now: a connection attempt during the drain is refused at once, where
    // one left in the backlog would send its request and then be reset unanswered.
    drop(listener);
    tracker.close();
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        tracing::warn!("connections still open after the shutdown grace period; closing them");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_answers_internal_with_the_request_id() {
        let app = with_request_layers(Router::new().route(
            "/boom",
            get(|| async {
                if true {
                    panic!("SELECT secret FROM somewhere");
                }
                "unreachable"
            }),
        ));
        let req = axum::http::Request::get("/boom")
            .header("x-request-id", "req-7")
            .body(axum::body::Body::empty())
            .unwrap();
        let res = app.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(res.headers()["x-request-id"], "req-7");
        let body = axum::body::to_bytes(res.into_body(), 10_000).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["errors"][0]["extensions"]["code"], "INTERNAL");
        assert_eq!(json["errors"][0]["extensions"]["requestId"], "req-7");
        assert!(
            !String::from_utf8_lossy(&body).contains("secret"),
            "the panic message stays in the log"
        );
    }
}
