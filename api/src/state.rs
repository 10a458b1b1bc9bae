use crate::config::Config;
use crate::metrics::OperationNames;
use crate::schema::AppSchema;
use ils_kernel::Db;
use ils_tenancy::tokens::TokenSettings;
use std::sync::Arc;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub schema: AppSchema,
    /// The same schema as an Apollo Federation v2 subgraph (`/subgraph`).
    pub subgraph: AppSchema,
    /// Persisted operations: documents parsed once, what each caller may run, automatic
    /// persisted queries, usage counts.
    pub operations: Arc<crate::operations::runtime::Runtime>,
    pub db: Db,
    /// The same database over the background work's own pool.
    pub background_db: Db,
    pub tokens: TokenSettings,
    pub redis: Option<redis::aio::ConnectionManager>,
    /// The log-in and sign-up throttle; `/readyz` reports it degraded while it counts per
    /// process because Redis is away.
    pub throttle: Arc<dyn ils_kernel::throttle::Throttle>,
    /// Rate and cost budgets, and the usage counts (`/readyz` reports the budgets
    /// degraded while each process keeps them alone because Redis is away).
    pub limiter: Arc<crate::ratelimit::Limiter>,
    pub operation_names: Arc<OperationNames>,
    pub demo_logins: Arc<Vec<crate::playground::DemoLogin>>,
    /// Live events for subscriptions (in-process, or relayed through Redis).
    pub bus: ils_kernel::Bus,
    pub registry: Arc<ils_kernel::Registry>,
    pub resources: ils_kernel::Resources,
    pub redis_client: Option<redis::Client>,
    /// Open WebSockets per company, for the per-company cap.
    pub sockets: Arc<crate::sockets::SocketCounts>,
    /// The watcher of each API key and each user with open sockets: its status (`true`
    /// once the key is revoked or the user deactivated), one per key or user whatever the
    /// number of its sockets (kept by the WebSocket handler), by key or user id.
    pub key_watchers: Arc<
        std::sync::Mutex<std::collections::HashMap<uuid::Uuid, tokio::sync::watch::Sender<bool>>>,
    >,
    /// The file store, for signed download links.
    pub files: ils_kernel::files::Files,
    /// What `/dev/webhook-sink` received (development only).
    pub webhook_sink: Arc<crate::dev_sink::Sink>,
    /// Cancelled when the server shuts down: the listener stops accepting, connections
    /// drain, and every open WebSocket is closed with 1012 (service restart).
    pub shutdown: tokio_util::sync::CancellationToken,
    /// The open WebSockets' tasks (an upgraded connection leaves the HTTP server's
    /// connection tracking), so shutdown waits until each has sent its close frame.
    pub socket_tasks: tokio_util::task::TaskTracker,
}

impl AppState {
    /// Whether this caller may introspect the schema (`ILS_INTROSPECTION`): `auto` hides
    /// it from anonymous callers in production.
    pub fn may_introspect(&self, ctx: &ils_kernel::TenantContext) -> bool {
        use crate::config::{Environment, Introspection};
        match self.config.introspection {
            Introspection::On => true,
            Introspection::Off => false,
            Introspection::Auto => {
                !(self.config.env == Environment::Production && ctx.is_anonymous())
            }
        }
    }
}
