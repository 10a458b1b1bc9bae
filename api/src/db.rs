//! Connecting to the database and migrating it.
#![allow(clippy::disallowed_methods)] // connection set-up and migrations run below the guard

use crate::config::Config;
use anyhow::Context as _;
use ils_kernel::StatementObserver;
use ils_migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Counts every SQL statement the server sends (transaction control aside), for
/// `/metrics` and for tests that count what an operation costs; tests can also have the
/// statements themselves kept, to read their plans.
#[derive(Clone, Default)]
pub struct StatementCounter {
    count: Arc<AtomicU64>,
    recording: Arc<AtomicBool>,
    recorded: Arc<Mutex<Vec<sea_orm::Statement>>>,
}

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Keeps every statement sent from now on (with its values), until `take_recorded`.
    pub fn record(&self) {
        self.recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.recording.store(true, Ordering::SeqCst);
    }

    /// The statements kept since `record`; stops keeping them.
    pub fn take_recorded(&self) -> Vec<sea_orm::Statement> {
        self.recording.store(false, Ordering::SeqCst);
        std::mem::take(&mut *self.recorded.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn counted(&self, statement: &sea_orm::Statement) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if self.recording.load(Ordering::Relaxed) {
            self.recorded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(statement.clone());
        }
    }
}

/// The request pool, and what observes its statements (for the guard's transactions too).
pub async fn connect(
    config: &Config,
    counter: &StatementCounter,
) -> anyhow::Result<(DatabaseConnection, StatementObserver)> {
    if !config.is_sqlite() {
        probe_postgres(&config.database_url).await?;
    }
    let observe = observer(counter, "requests");
    let conn = connect_pool(config, observe.clone(), config.db_max_connections).await?;
    Ok((conn, observe))
}

/// How long the first connection to PostgreSQL may take before start-up gives up.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// One connection, made directly before any pool: an unreachable or misconfigured server
/// is reported at once, in one line that names the host and the cause (a pool would wait
/// out its acquire timeout and say only "pool timed out").
async fn probe_postgres(url: &str) -> anyhow::Result<()> {
    use sea_orm::sqlx::{Connection, postgres::PgConnection};
    let where_ = url::Url::parse(url)
        .ok()
        .map(|u| {
            format!(
                "{}:{}",
                u.host_str().unwrap_or("localhost"),
                u.port().unwrap_or(5432)
            )
        })
        .unwrap_or_else(|| "the configured host".into());
    match tokio::time::timeout(PROBE_TIMEOUT, PgConnection::connect(url)).await {
        Ok(Ok(conn)) => {
            conn.close().await.ok();
            Ok(())
        }
        Ok(Err(e)) => Err(anyhow::anyhow!(
            "cannot connect to PostgreSQL at {where_}: {}",
            e.to_string().replace('\n', " ")
        )),
        Err(_) => Err(anyhow::anyhow!(
            "cannot connect to PostgreSQL at {where_}: no answer within {} s",
            PROBE_TIMEOUT.as_secs()
        )),
    }
}

/// The background work's own pool (dispatcher, workers, scheduler, audit writes stay on
/// the request pool): busy jobs cannot starve requests, and statement counts of requests
/// stay exact while workers poll.
pub async fn connect_background(
    config: &Config,
) -> anyhow::Result<(DatabaseConnection, StatementObserver)> {
    let size = (config.workers as u32).clamp(1, config.db_max_connections) + 2;
    let observe = observer(&StatementCounter::default(), "background");
    let conn = connect_pool(config, observe.clone(), size).await?;
    Ok((conn, observe))
}

/// What sees each statement sent on a pool: the counter (and its recording) and the
/// `ils_sql_statements_total` and duration metrics, labelled with the pool's name. SeaORM's
/// connection and the guard's own PostgreSQL transactions both report to it.
fn observer(counter: &StatementCounter, pool: &'static str) -> StatementObserver {
    let c = counter.clone();
    Arc::new(move |info: &sea_orm::metric::Info<'_>| {
        c.counted(info.statement);
        metrics::counter!("ils_sql_statements_total", "pool" => pool, "failed" => if info.failed { "true" } else { "false" }).increment(1);
        metrics::histogram!("ils_sql_statement_duration_seconds")
            .record(info.elapsed.as_secs_f64());
    })
}

async fn connect_pool(
    config: &Config,
    observe: StatementObserver,
    size: u32,
) -> anyhow::Result<DatabaseConnection> {
    let acquire = Duration::from_secs(config.db_acquire_timeout_secs);
    let mut opts = ConnectOptions::new(config.database_url.clone());
    opts.sqlx_logging(false)
        // The pool checks a connection when it comes back (and flushes a read-only
        // transaction's queued ROLLBACK then); checking it again on every checkout would
        // cost each transaction one more round trip. A connection idle for a while is
        // still checked before use.
        .test_before_acquire_if_idle_for(Duration::from_secs(5))
        .max_connections(size)
        // With the database down (or every connection busy) a request gives up after
        // this and answers SERVICE_UNAVAILABLE with HTTP 503: a load balancer or client
        // retries it, instead of each request holding a client for long and piling up.
        // The pool opens connections again by itself when the database is back.
        .connect_timeout(acquire)
        .acquire_timeout(acquire);
    if config.is_sqlite() {
        opts.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    }
    let mut conn = Database::connect(opts)
        .await
        .context("cannot connect to the database")?;
    conn.set_metric_callback(move |info| observe(info));
    Ok(conn)
}

pub async fn migrate(conn: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(conn, None)
        .await
        .context("database migration failed")
}
