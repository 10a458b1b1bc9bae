//! The tenant guard: the only door from module code to tenant tables.
//!
//! Every unit of work is a transaction (`Tx`) opened for a `Scope`. Reads, updates and
//! deletes get the scope's filter from the entity's `Policy`; inserts get the owner column
//! from the scope, and no write can change it. On PostgreSQL the transaction also switches
//! to the application role and sets the scope as transaction-local settings, so row-level
//! security enforces the same rule a second time. The settings travel with `BEGIN`, in
//! one message (`tx_conn`), so the scope costs no round trip of its own.
#![allow(clippy::disallowed_methods)] // the one place allowed to call SeaORM directly

use crate::jobs::{Registry, Wake};
use crate::policy::Guarded;
use crate::tx_conn::{PgTx, StatementObserver, TxConn, literal};
use crate::{AppError, AppResult, TenantContext};
use sea_orm::sea_query::{Expr, IntoCondition, SimpleExpr};
use sea_orm::{
    AccessMode, ActiveModelBehavior, ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DbBackend, DeleteMany, EntityTrait, IdenStatic, IntoActiveModel, Iterable,
    PrimaryKeyToColumn, QueryFilter, Related, Select, SelectTwo, SqliteTransactionMode, Statement,
    TransactionOptions, TransactionTrait, Value,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use uuid::Uuid;

/// Keys per statement in `Tx::find_many`.
pub const FIND_MANY_CHUNK: usize = 5_000;

/// The database, as the modules see it: it only opens guarded transactions.
#[derive(Clone)]
pub struct Db {
    conn: DatabaseConnection,
    /// On PostgreSQL, the role guarded transactions run as (no BYPASSRLS).
    app_role: Option<String>,
    /// Woken when a transaction that emitted events or enqueued jobs commits.
    wake: Arc<Wake>,
    /// The job kinds enqueues are checked against (every module's).
    registry: Option<Arc<Registry>>,
    /// Sees the statements of guarded transactions on PostgreSQL (SeaORM's metric callback
    /// sees the others).
    observer: Option<StatementObserver>,
    /// The outbox dispatcher's turn in this process (every copy of this `Db`, and the same
    /// database over another pool, share it): one dispatcher at a time.
    dispatch_turn: Arc<tokio::sync::Mutex<()>>,
    /// On SQLite, the turn of this process's writing transactions, first come first
    /// served. SQLite has one write lock, and a writer that finds it taken sleeps and
    /// retries, so a steady stream of writes (an import's batches) could keep a small one
    /// (a job's lease heartbeat) out for seconds; queued here, each waits only for the
    /// writers before it.
    write_turn: Arc<tokio::sync::Mutex<()>>,
}

/// How long a writing transaction waits for its turn on SQLite before it is told the
/// database is unavailable, as SQLite's own busy timeout would (`api/src/db.rs`).
const WRITE_TURN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What one transaction may see. Built from a request's `TenantContext`, or by the few
/// credential flows that establish who is acting (`Db::open` and `Tx::assume` are banned
/// by clippy everywhere else).
#[derive(Clone, Debug, Default)]
pub struct Scope {
    company: Option<Uuid>,
    user: Option<Uuid>,
    /// A credential being looked up (an email, a token digest): rows that carry it become
    /// readable, never writable.
    lookup: Option<String>,
    platform: bool,
    /// Sees everything: for the command line, seeding and cross-tenant workers.
    system: bool,
    /// A signed-in user acting through a request's credentials: the transaction first
    /// checks that the user is still active (an access token outlives a deactivation by
    /// up to its lifetime otherwise). The credential flows, which establish a user
    /// themselves, do not set it.
    require_active_user: Option<Uuid>,
}

impl Scope {
    pub fn of(ctx: &TenantContext) -> Scope {
        Scope {
            company: ctx.company_id(),
            // Only a signed-in user has "own rows"; an API key acts for its company alone.
            user: ctx.user_id(),
            platform: ctx.is_platform_admin(),
            require_active_user: ctx.user_id(),
            ..Scope::default()
        }
    }

    /// Nothing but the rows that carry `value` in their policy's lookup column.
    pub fn lookup(value: impl Into<String>) -> Scope {
        Scope {
            lookup: Some(value.into()),
            ..Scope::default()
        }
    }

    /// A company and (optionally) one of its users, for flows that establish who acts.
    pub fn acting(company: Option<Uuid>, user: Option<Uuid>) -> Scope {
        Scope {
            company,
            user,
            ..Scope::default()
        }
    }

    pub fn company(&self) -> Option<Uuid> {
        self.company
    }

    pub fn user(&self) -> Option<Uuid> {
        self.user
    }
}

/// The transaction-local settings that carry a scope to PostgreSQL's policies: none
/// without an application role (SQLite, or a database used as its owner).
fn scope_settings(
    app_role: Option<&str>,
    s: &Scope,
    read_only: bool,
) -> Option<Vec<(&'static str, String)>> {
    let role = app_role?;
    if s.system {
        return Some(vec![("app.system", "on".to_owned())]);
    }
    let text = |v: Option<String>| v.unwrap_or_default();
    let switch = |on: bool| if on { "on" } else { "off" }.to_owned();
    Some(vec![
        ("role", role.to_owned()),
        ("app.company_id", text(s.company.map(|c| c.to_string()))),
        ("app.user_id", text(s.user.map(|u| u.to_string()))),
        ("app.lookup", text(s.lookup.clone())),
        ("app.platform_admin", switch(s.platform)),
        ("transaction_read_only", switch(read_only)),
    ])
}

/// The statement that sets `settings`: `SELECT set_config('name', <value>, true), …`, each
/// value written by `value` from its 1-based place and text (a bound `$n` or a literal;
/// `None` refuses the whole statement).
fn set_configs(
    settings: &[(&'static str, String)],
    value: impl Fn(usize, &str) -> Option<String>,
) -> Option<String> {
    let calls = settings
        .iter()
        .enumerate()
        .map(|(i, (name, v))| Some(format!("set_config('{name}', {}, true)", value(i + 1, v)?)))
        .collect::<Option<Vec<_>>>()?;
    Some(format!("SELECT {}", calls.join(", ")))
}

/// The PostgreSQL function that raises SQLSTATE 28000 for a user who is not active
/// (migration m0015).
const REQUIRE_ACTIVE_USER: &str = "ils_require_active_user";

/// The SQLSTATE that function raises.
const NOT_ACTIVE_STATE: &str = "28000";

fn not_active() -> AppError {
    AppError::Unauthenticated("this account is not active".into())
}

/// Whether `e` is the active-user check's refusal.
fn is_not_active(e: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    match e {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|c| c == NOT_ACTIVE_STATE),
        _ => false,
    }
}

/// Whether a condition is for reading or for changing rows: credential look-ups only read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Access {
    Read,
    Write,
}

impl Db {
    /// `app_role` is the PostgreSQL role to run guarded work as; ignored on SQLite.
    pub fn new(conn: DatabaseConnection, app_role: Option<String>) -> Db {
        let app_role = match conn.get_database_backend() {
            DbBackend::Postgres => app_role,
            _ => None,
        };
        Db {
            conn,
            app_role,
            wake: Arc::default(),
            registry: None,
            observer: None,
            dispatch_turn: Arc::default(),
            write_turn: Arc::default(),
        }
    }

    /// The same database, showing every statement of its guarded transactions to
    /// `observer` (as `DatabaseConnection::set_metric_callback` does for SeaORM's).
    pub fn observed_by(mut self, observer: StatementObserver) -> Db {
        self.observer = Some(observer);
        self
    }

    /// The same database, checking enqueued jobs against `registry`.
    pub fn with_registry(mut self, registry: Arc<Registry>) -> Db {
        self.registry = Some(registry);
        self
    }

    /// The same database (scope rules, registry, wake-ups) over another connection pool,
    /// observed by `observer`.
    pub fn on_connection(&self, conn: DatabaseConnection, observer: StatementObserver) -> Db {
        Db {
            conn,
            observer: Some(observer),
            ..self.clone()
        }
    }

    /// Waits for the outbox dispatcher's turn in this process.
    pub(crate) async fn dispatch_turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.dispatch_turn.lock().await
    }

    /// What commits that emitted events or enqueued jobs wake.
    pub fn wake(&self) -> Arc<Wake> {
        self.wake.clone()
    }

    /// Opens a transaction for `scope`. On PostgreSQL its settings are sent with the
    /// `BEGIN`, inlined as literals (a role name, ids and switches); a credential look-up's
    /// value is text a caller typed, so that scope is set after `BEGIN` with bound values.
    async fn begin(&self, scope: Scope, read_only: bool) -> AppResult<Tx> {
        let settings = scope_settings(self.app_role.as_deref(), &scope, read_only);
        let mut write_turn = None;
        let (conn, set_after_begin) = match self.backend() {
            DbBackend::Postgres => {
                let inline = match &settings {
                    Some(settings) if scope.lookup.is_none() => {
                        let mut sql = set_configs(settings, |_, value| literal(value))
                            .ok_or_else(|| AppError::internal("a NUL in a scope setting"))?;
                        // The user's check goes in the same message, after the scope.
                        if let Some(user) = scope.require_active_user {
                            sql.push_str(&format!(
                                "; SELECT {REQUIRE_ACTIVE_USER}('{user}'::uuid)"
                            ));
                        }
                        Some(sql)
                    }
                    _ => None,
                };
                let pool = self.conn.get_postgres_connection_pool();
                // Boxed: sqlx's acquire and BEGIN futures are kilobytes, and every future
                // that opens a transaction would carry them inline, a subscription's
                // stream for as long as its socket stays open.
                let begin = PgTx::begin(pool, inline.as_deref(), self.observer.clone());
                let pg = Box::pin(begin).await.map_err(|e| {
                    if is_not_active(&e) {
                        not_active()
                    } else {
                        AppError::from(e)
                    }
                })?;
                (TxConn::Pg(pg), inline.is_none())
            }
            backend => {
                // SQLite: a transaction that may write takes the write lock at BEGIN (a
                // deferred one that reads and then writes fails with SQLITE_BUSY when
                // another writer committed in between); a read-only one stays deferred, so
                // readers never queue behind writers.
                let mode = (backend == DbBackend::Sqlite && !read_only)
                    .then_some(SqliteTransactionMode::Immediate);
                if mode.is_some() {
                    let turn = self.write_turn.clone().lock_owned();
                    write_turn = Some(
                        tokio::time::timeout(WRITE_TURN_TIMEOUT, turn)
                            .await
                            .map_err(|_| {
                                AppError::Unavailable(
                                    "waited too long for the SQLite write lock".into(),
                                )
                            })?,
                    );
                }
                let options = TransactionOptions {
                    isolation_level: None,
                    access_mode: None::<AccessMode>,
                    sqlite_transaction_mode: mode,
                };
                let orm = self.conn.begin_with_options(options).await?;
                (TxConn::Orm(orm), true)
            }
        };
        let tx = Tx {
            tx: conn,
            scope,
            read_only,
            app_role: self.app_role.clone(),
            wake: self.wake.clone(),
            registry: self.registry.clone(),
            emitted: AtomicBool::new(false),
            enqueued: AtomicBool::new(false),
            _write_turn: write_turn,
        };
        if set_after_begin {
            tx.apply_scope().await?;
            if let Some(user) = tx.scope.require_active_user {
                tx.require_active_user(user).await?;
            }
        }
        Ok(tx)
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// A transaction scoped to the caller of a request.
    pub async fn tenant(&self, ctx: &TenantContext) -> AppResult<Tx> {
        self.open(Scope::of(ctx)).await
    }

    /// A read-only transaction scoped to the caller of a request, for work that writes
    /// nothing: it takes no write lock (SQLite), PostgreSQL refuses any write in it, and
    /// ending it costs no round trip of its own (`commit` leaves the rollback queued; the
    /// pool sends it with the check it makes when the connection comes back). The guard's
    /// write methods refuse to run in it on both backends.
    pub async fn read(&self, ctx: &TenantContext) -> AppResult<Tx> {
        self.begin(Scope::of(ctx), true).await
    }

    /// A transaction with an explicit scope: only for the credential flows (clippy).
    pub async fn open(&self, scope: Scope) -> AppResult<Tx> {
        self.begin(scope, false).await
    }

    /// A transaction that sees every tenant: only for the command line, seeding and
    /// cross-tenant workers (clippy). On PostgreSQL it stays the connecting (owner) role
    /// and sets `app.system`, which only the owner's `system_access` policies honour.
    pub async fn system(&self) -> AppResult<Tx> {
        let scope = Scope {
            system: true,
            ..Scope::default()
        };
        self.begin(scope, false).await
    }

    /// Reachability, for `/readyz`.
    pub async fn ping(&self) -> AppResult<()> {
        self.conn.ping().await.map_err(AppError::from)
    }

    /// The raw connection: for metrics of the pool and the kernel's own tests only.
    pub fn raw_connection(&self) -> &DatabaseConnection {
        &self.conn
    }
}

/// One guarded transaction. Dropped without `commit`, it rolls back.
pub struct Tx {
    tx: TxConn,
    scope: Scope,
    /// Opened by `Db::read`: no write may run in it, and it ends without a COMMIT.
    read_only: bool,
    app_role: Option<String>,
    wake: Arc<Wake>,
    registry: Option<Arc<Registry>>,
    emitted: AtomicBool,
    enqueued: AtomicBool,
    /// On SQLite, a writing transaction's turn (`Db::write_turn`), given up when the
    /// transaction ends, however it ends.
    _write_turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Tx {
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The connection to run guarded statements on (`.all(tx.conn())`).
    pub fn conn(&self) -> &TxConn {
        &self.tx
    }

    /// Commits; then wakes the dispatcher and workers if events or jobs were written. A
    /// read-only transaction has nothing to commit: it is dropped, which queues its
    /// ROLLBACK for the connection's next trip (the pool's check on release), so the
    /// caller does not wait for a round trip.
    pub async fn commit(self) -> AppResult<()> {
        if self.read_only {
            return Ok(());
        }
        let (emitted, enqueued) = (
            self.emitted.load(Ordering::Relaxed),
            self.enqueued.load(Ordering::Relaxed),
        );
        let wake = self.wake.clone();
        self.tx.commit().await.map_err(AppError::from)?;
        if emitted {
            wake.events_emitted();
        }
        if enqueued {
            wake.jobs_enqueued();
        }
        Ok(())
    }

    pub(crate) fn mark_emitted(&self) {
        self.emitted.store(true, Ordering::Relaxed);
    }

    pub(crate) fn mark_enqueued(&self) {
        self.enqueued.store(true, Ordering::Relaxed);
    }

    pub(crate) fn registry(&self) -> Option<&Registry> {
        self.registry.as_deref()
    }

    /// Switches the scope inside the transaction once a credential flow has established
    /// who acts (the user a log-in found, the company a sign-up creates). Clippy bans it
    /// outside those flows.
    pub async fn assume(&mut self, company: Option<Uuid>, user: Option<Uuid>) -> AppResult<()> {
        self.scope = Scope {
            company,
            user,
            system: self.scope.system,
            ..Scope::default()
        };
        self.apply_scope().await
    }

    /// Refuses (UNAUTHENTICATED) when `user` is no longer active: one statement, for the
    /// backends where the check cannot travel with `BEGIN`.
    async fn require_active_user(&self, user: Uuid) -> AppResult<()> {
        use ils_entity::user as u;
        use sea_orm::{PaginatorTrait, QuerySelect};
        let active = self
            .select::<u::Entity>()
            .select_only()
            .column(u::Column::Id)
            .filter(u::Column::Id.eq(user))
            .filter(u::Column::Status.eq("ACTIVE"))
            .count(self.conn())
            .await?;
        if active == 0 {
            return Err(not_active());
        }
        Ok(())
    }

    /// Sets the scope inside the open transaction, with bound values.
    async fn apply_scope(&self) -> AppResult<()> {
        let settings = scope_settings(self.app_role.as_deref(), &self.scope, self.read_only);
        let Some(settings) = settings else {
            return Ok(());
        };
        let sql = set_configs(&settings, |i, _| Some(format!("${i}")))
            .ok_or_else(|| AppError::internal("scope settings"))?;
        self.conn()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                settings.into_iter().map(|(_, v)| Value::from(v)),
            ))
            .await?;
        Ok(())
    }

    /// The rows of `E` this scope may read.
    pub fn condition<E: Guarded>(&self) -> Condition {
        condition::<E>(&self.scope, Access::Read)
    }

    pub fn select<E: Guarded>(&self) -> Select<E> {
        E::find().filter(self.condition::<E>())
    }

    /// The rows of `E` in which the scope's company stands in `party`, one of the policy's
    /// party columns (the owner, or another party): a practice's own orders
    /// (`company_id`), a lab's inbox (`lab_company_id`). That is one branch of the guard's
    /// condition, so it needs no other: the statement names one column and one value,
    /// PostgreSQL estimates it right, and a list over it is one index range on
    /// `(party, id)`. Without a company in scope, or for a column that is not a party,
    /// it is the guard's condition and the column's (no row is ever added).
    pub fn select_as<E: Guarded>(&self, party: E::Column) -> Select<E> {
        select_as::<E>(&self.scope, party)
    }

    /// The row with this primary key if the scope may read it; `None` otherwise, the same
    /// whether it is missing or another tenant's.
    pub async fn find<E: Guarded>(&self, id: Uuid) -> AppResult<Option<E::Model>> {
        let key = E::PrimaryKey::iter()
            .next()
            .map(|k| k.into_column())
            .ok_or_else(|| AppError::internal("entity without a primary key"))?;
        Ok(self
            .select::<E>()
            .filter(key.eq(id))
            .one(self.conn())
            .await?)
    }

    /// The rows with these primary keys that the scope may read (each once, however often
    /// its key is given), in one statement per `FIND_MANY_CHUNK` keys (none for no keys):
    /// what `node`/`nodes` and batch loads read. Chunks keep every statement under the
    /// drivers' bound-value limits (32,766 on SQLite, 65,535 on PostgreSQL).
    pub async fn find_many<E: Guarded>(
        &self,
        ids: impl IntoIterator<Item = Uuid>,
    ) -> AppResult<Vec<E::Model>> {
        let mut ids: Vec<Uuid> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let key = E::PrimaryKey::iter()
            .next()
            .map(|k| k.into_column())
            .ok_or_else(|| AppError::internal("entity without a primary key"))?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(FIND_MANY_CHUNK) {
            out.extend(
                self.select::<E>()
                    .filter(key.is_in(chunk.iter().copied()))
                    .all(self.conn())
                    .await?,
            );
        }
        Ok(out)
    }

    /// The row with this primary key if the scope may read it; NOT_FOUND otherwise.
    pub async fn get<E: Guarded>(&self, id: Uuid) -> AppResult<E::Model> {
        self.find::<E>(id).await?.ok_or(AppError::NotFound)
    }

    /// `E` joined to its related `R`, each side guarded; `R` may be absent (a LEFT JOIN).
    pub fn select_also<E, R>(&self) -> SelectTwo<E, R>
    where
        E: Guarded + Related<R>,
        R: Guarded,
    {
        let r_visible = match R::PrimaryKey::iter().next().map(|k| k.into_column()) {
            Some(k) => Condition::any().add(k.is_null()).add(self.condition::<R>()),
            None => self.condition::<R>(),
        };
        E::find()
            .find_also_related(R::default())
            .filter(self.condition::<E>())
            .filter(r_visible)
    }

    /// Locks the selected rows until commit, where the backend can (PostgreSQL); SQLite
    /// transactions hold the write lock from BEGIN anyway.
    pub fn lock_for_update<E: EntityTrait>(&self, select: Select<E>) -> Select<E> {
        use sea_orm::QuerySelect;
        match self.conn().get_database_backend() {
            DbBackend::Postgres => select.lock_exclusive(),
            _ => select,
        }
    }

    /// Holds the selected rows until commit so that a second holder waits (PostgreSQL's
    /// `FOR NO KEY UPDATE`: inserts that only reference the rows by foreign key go on);
    /// SQLite transactions hold the write lock from BEGIN anyway.
    pub fn hold<E: EntityTrait>(&self, select: Select<E>) -> Select<E> {
        use sea_orm::QuerySelect;
        use sea_orm::sea_query::LockType;
        match self.conn().get_database_backend() {
            DbBackend::Postgres => select.lock(LockType::NoKeyUpdate),
            _ => select,
        }
    }

    /// Keeps every other writer of `E`'s table waiting until this transaction ends, while
    /// readers go on (PostgreSQL's EXCLUSIVE mode; SQLite has one writer at a time anyway):
    /// for a system-scope rebuild of a table that handlers keep. Refused outside the
    /// system scope, where one tenant would hold up every other.
    pub async fn lock_table<E: Guarded>(&self) -> AppResult<()> {
        use sea_orm::ConnectionTrait;
        if !self.scope.system {
            return Err(AppError::internal("a table lock outside the system scope"));
        }
        if self.conn().get_database_backend() == DbBackend::Postgres {
            self.conn()
                .execute_unprepared(&format!(
                    "LOCK TABLE {} IN EXCLUSIVE MODE",
                    E::default().table_name()
                ))
                .await?;
        }
        Ok(())
    }

    /// Locks the selected rows until commit, skipping rows another transaction holds
    /// (PostgreSQL), so several workers share a queue without waiting on each other; SQLite
    /// has one writer at a time anyway.
    pub fn lock_skip_locked<E: EntityTrait>(&self, select: Select<E>) -> Select<E> {
        use sea_orm::QuerySelect;
        use sea_orm::sea_query::{LockBehavior, LockType};
        match self.conn().get_database_backend() {
            DbBackend::Postgres => {
                select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            }
            _ => select,
        }
    }

    /// Refuses a write in a transaction opened by `Db::read` (PostgreSQL would refuse it
    /// too; SQLite would roll it back silently at the end).
    fn writable(&self) -> AppResult<()> {
        if self.read_only {
            return Err(AppError::internal("a write in a read-only transaction"));
        }
        Ok(())
    }

    /// The owner column of `E` and the company an insert must put in it: the scope's
    /// company, whatever the model says (none for system work or an unowned table).
    fn owner_of<E: Guarded>(&self) -> AppResult<Option<(E::Column, Uuid)>> {
        let p = E::policy();
        // A platform admin acting for no company writes the platform's own rows (a null
        // owner) where the policy has such rows, as row-level security's `OR platform`
        // check lets it.
        if self.scope.platform && p.platform_rows && self.scope.company.is_none() {
            return Ok(None);
        }
        match p.owner {
            Some(col) if !self.scope.system => {
                let company = self
                    .scope
                    .company
                    .ok_or_else(|| AppError::forbidden("no company to own this record"))?;
                Ok(Some((col, company)))
            }
            _ => Ok(None),
        }
    }

    /// The user a private row of `E` belongs to: the acting user (none for a table
    /// without private rows, or for the system).
    fn private_owner_of<E: Guarded>(&self) -> AppResult<Option<(E::Column, Uuid)>> {
        match E::policy().private_to {
            Some(col) if !self.scope.system => {
                let user = self
                    .scope
                    .user
                    .ok_or_else(|| AppError::forbidden("only a signed-in person has these"))?;
                Ok(Some((col, user)))
            }
            _ => Ok(None),
        }
    }

    /// Inserts a row; the owner column (and a private row's user) is set from the scope,
    /// whatever the model says.
    pub async fn insert<E, A>(&self, mut model: A) -> AppResult<E::Model>
    where
        E: Guarded,
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send,
        E::Model: IntoActiveModel<A>,
    {
        self.writable()?;
        if let Some((col, company)) = self.owner_of::<E>()? {
            model.set(col, company.into());
        }
        if let Some((col, user)) = self.private_owner_of::<E>()? {
            model.set(col, user.into());
        }
        model.insert(self.conn()).await.map_err(write_error)
    }

    /// Inserts several rows in one statement, each owned as `insert` owns one. Callers
    /// keep batches to a few hundred rows (SQLite allows 32,766 bound values per
    /// statement).
    pub async fn insert_many<E, A>(&self, models: Vec<A>) -> AppResult<()>
    where
        E: Guarded,
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send,
    {
        self.writable()?;
        if models.is_empty() {
            return Ok(());
        }
        let owner = self.owner_of::<E>()?;
        let private = self.private_owner_of::<E>()?;
        let models = models.into_iter().map(|mut m| {
            if let Some((col, company)) = owner {
                m.set(col, company.into());
            }
            if let Some((col, user)) = private {
                m.set(col, user.into());
            }
            m
        });
        E::insert_many(models)
            .exec_without_returning(self.conn())
            .await
            .map_err(write_error)?;
        Ok(())
    }

    /// Inserts a row owned as `insert` owns one or, when the scope's company already has a
    /// row with the same `key` (a unique index on the owner column and `key`, in that
    /// order), sets `on_conflict` on that row instead: nothing when it is empty. Only for
    /// tables with an owner column and no private rows, in a company's scope (or the
    /// system's). The conflict target begins with the owner column, set from the scope,
    /// and the update carries the guard's write condition too, so the row changed is the
    /// scope's own, never another tenant's, on SQLite as on PostgreSQL. A conflict is not
    /// an error, so two writers at once both succeed without failing the transaction. In
    /// `on_conflict`, `Tx::existing` names the row's current value and `Tx::proposed` the
    /// inserted one. The owner, party and private columns cannot be set.
    pub async fn upsert<E, A>(
        &self,
        model: A,
        key: &[E::Column],
        on_conflict: Vec<(E::Column, SimpleExpr)>,
    ) -> AppResult<()>
    where
        E: Guarded,
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send,
    {
        self.upsert_many(vec![model], key, on_conflict).await
    }

    /// `upsert` of several rows in one statement (a few hundred at most, as for
    /// `insert_many`). Two of them must not share a key. Writers that may meet on the same
    /// rows pass them in one order (sorted by key, say), so they wait for each other
    /// rather than deadlock.
    pub async fn upsert_many<E, A>(
        &self,
        models: Vec<A>,
        key: &[E::Column],
        on_conflict: Vec<(E::Column, SimpleExpr)>,
    ) -> AppResult<()>
    where
        E: Guarded,
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send,
    {
        let Some(insert) = self.upsert_statement(models, key, on_conflict)? else {
            return Ok(());
        };
        match insert.exec_without_returning(self.conn()).await {
            Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => Ok(()),
            Err(e) => Err(write_error(e)),
        }
    }

    /// The rows with these keys, each inserted as given when missing, all locked until
    /// commit (PostgreSQL; SQLite has one writer at a time anyway), in one statement: an
    /// `upsert_many` whose conflict rewrites the first `key` column with itself and
    /// returns every row. Rows already there come back as they are. For a handler that
    /// must hold a row before it reads what the row keeps.
    pub async fn upsert_locked<E, A>(
        &self,
        models: Vec<A>,
        key: &[E::Column],
    ) -> AppResult<Vec<E::Model>>
    where
        E: Guarded,
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send,
    {
        let Some(&first) = key.first() else {
            return Err(AppError::internal("a locking upsert without a key"));
        };
        let Some(insert) =
            self.upsert_statement(models, key, vec![(first, Self::proposed::<E>(first))])?
        else {
            return Ok(Vec::new());
        };
        // SeaORM returns rows from an insert only where its SQLite feature for it is on;
        // SQLite has RETURNING since 3.35 (the bundled one is newer), so the statement is
        // built with it and read as a select on both backends.
        let mut query = sea_orm::QueryTrait::into_query(insert);
        query.returning_all();
        let statement = self.conn().get_database_backend().build(&query);
        #[allow(clippy::disallowed_methods)] // the statement is the guarded upsert above
        let rows = E::find().from_raw_sql(statement).all(self.conn()).await;
        rows.map_err(write_error)
    }

    /// The insert of `upsert_many`, its rows owned by the scope and its conflict action
    /// pinned to the scope's own rows; none when there are no rows.
    fn upsert_statement<E, A>(
        &self,
        models: Vec<A>,
        key: &[E::Column],
        on_conflict: Vec<(E::Column, SimpleExpr)>,
    ) -> AppResult<Option<sea_orm::InsertMany<A>>>
    where
        E: Guarded,
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send,
    {
        use sea_orm::sea_query::OnConflict;
        self.writable()?;
        let p = E::policy();
        let protected = |c: &E::Column| {
            p.owner
                .iter()
                .chain(p.parties.iter())
                .chain(p.private_to.iter())
                .any(|o| o.as_str() == c.as_str())
        };
        if on_conflict.iter().any(|(c, _)| protected(c)) {
            return Err(AppError::internal(format!(
                "an upsert would move rows of {} between tenants",
                E::default().table_name()
            )));
        }
        // The target pins the row to one company only where there is an owner column
        // set from the scope (a private row's person is not in the target: refused too).
        let owner = self.owner_of::<E>()?;
        let Some(owner_col) = p.owner else {
            return Err(AppError::internal(format!(
                "an upsert needs an owner column ({} has none)",
                E::default().table_name()
            )));
        };
        if p.private_to.is_some() || (owner.is_none() && !self.scope.system) {
            return Err(AppError::internal(format!(
                "an upsert of {} in this scope could reach another owner's row",
                E::default().table_name()
            )));
        }
        if models.is_empty() {
            return Ok(None);
        }
        let models = models.into_iter().map(|mut m| {
            if let Some((col, company)) = owner {
                m.set(col, company.into());
            }
            m
        });
        let target: Vec<E::Column> = std::iter::once(owner_col)
            .chain(key.iter().copied())
            .collect();
        let mut conflict = OnConflict::columns(target);
        if on_conflict.is_empty() {
            conflict.do_nothing();
        } else {
            for (col, value) in on_conflict {
                conflict.value(col, value);
            }
            let write = condition::<E>(&self.scope, Access::Write);
            if !write.is_empty() {
                conflict.action_and_where(write.into());
            }
        }
        Ok(Some(E::insert_many(models).on_conflict(conflict)))
    }

    /// In an upsert's `on_conflict`: the value `col` has in the row already there.
    pub fn existing<E: Guarded>(col: E::Column) -> SimpleExpr {
        Expr::col((E::default(), col))
    }

    /// In an upsert's `on_conflict`: the value `col` has in the row proposed for insertion.
    pub fn proposed<E: Guarded>(col: E::Column) -> SimpleExpr {
        Expr::col((sea_orm::sea_query::Alias::new("excluded"), col))
    }

    /// Updates one row the scope may change; another tenant's row is NOT_FOUND. The owner
    /// column is never changed.
    pub async fn update<E, A>(&self, mut model: A) -> AppResult<E::Model>
    where
        E: Guarded,
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send,
        E::Model: IntoActiveModel<A>,
    {
        self.writable()?;
        // No update moves a row between tenants: a changed owner or party column is
        // dropped (the companies table, whose owner is its key, passes its id unchanged).
        let p = E::policy();
        for col in p
            .owner
            .iter()
            .chain(p.parties.iter())
            .chain(p.private_to.iter())
        {
            if model.get(*col).is_set() {
                model.not_set(*col);
            }
        }
        let update = E::update(model)
            .validate()?
            .filter(condition::<E>(&self.scope, Access::Write));
        update.exec(self.conn()).await.map_err(write_error)
    }

    /// Sets columns on every row matching `filter` that the scope may change; returns how
    /// many. The owner column cannot be set.
    pub async fn update_many<E: Guarded>(
        &self,
        sets: Vec<(E::Column, SimpleExpr)>,
        filter: impl IntoCondition,
    ) -> AppResult<u64> {
        self.writable()?;
        // The owner never changes. Another party column may be filled once (an order is
        // sent to a lab), never moved: setting one only touches rows where it is empty.
        let p = E::policy();
        let owner = p.owner.map(|c| c.as_str());
        let private = p.private_to.map(|c| c.as_str());
        if sets
            .iter()
            .any(|(col, _)| Some(col.as_str()) == owner || Some(col.as_str()) == private)
        {
            return Err(AppError::internal(format!(
                "update_many would move rows of {} between tenants",
                E::default().table_name()
            )));
        }
        let mut update = E::update_many()
            .filter(condition::<E>(&self.scope, Access::Write))
            .filter(filter);
        for (col, _) in &sets {
            if p.parties.iter().any(|party| party.as_str() == col.as_str()) {
                update = update.filter(col.is_null());
            }
        }
        for (col, value) in sets {
            update = update.col_expr(col, value);
        }
        Ok(update
            .exec(self.conn())
            .await
            .map_err(write_error)?
            .rows_affected)
    }

    pub fn delete_many<E: Guarded>(&self) -> DeleteMany<E> {
        debug_assert!(!self.read_only, "a delete in a read-only transaction");
        E::delete_many().filter(condition::<E>(&self.scope, Access::Write))
    }
}

/// A unique-constraint violation is a CONFLICT the caller can act on; the rest is internal.
fn write_error(err: sea_orm::DbErr) -> AppError {
    AppError::from_db_conflict(err, "a record with this value already exists")
}

fn select_as<E: Guarded>(scope: &Scope, party: E::Column) -> Select<E> {
    let p = E::policy();
    // A private table always goes through the whole condition (its user's column).
    let is_party = p.private_to.is_none() && p.parties.iter().any(|p| p.as_str() == party.as_str());
    let guarded = || E::find().filter(condition::<E>(scope, Access::Read));
    match scope.company {
        Some(company) if is_party && !scope.system => E::find().filter(party.eq(company)),
        Some(company) => guarded().filter(party.eq(company)),
        None => guarded().filter(Expr::cust("1 = 0")),
    }
}

fn condition<E: Guarded>(scope: &Scope, access: Access) -> Condition {
    let p = E::policy();
    if scope.system || (scope.platform && p.platform_visible) {
        return Condition::all();
    }
    let mut any = Condition::any();
    if let Some(company) = scope.company {
        for col in &p.parties {
            any = any.add(col.eq(company));
        }
    }
    if let (Some(col), Some(user)) = (p.own_rows, scope.user)
        && (access == Access::Read || p.own_rows_writable)
    {
        any = any.add(col.eq(user));
    }
    if let (Access::Read, Some(col), Some(value)) = (access, p.lookup, &scope.lookup) {
        any = any.add(col.eq(value.clone()));
    }
    if let (Access::Read, Some(company)) = (access, scope.company) {
        if let Some(rows) = p.public_read {
            any = any.add(rows);
        }
        if let Some(col) = p.connected_read {
            any = any.add(crate::connections::connected_to(col, company));
        }
    }
    if any.is_empty() {
        // Nothing in scope matches: a condition no row satisfies.
        return Expr::cust("1 = 0").into_condition();
    }
    match (p.private_to, scope.user) {
        (None, _) => any,
        // A private row is its user's alone, on top of its company's wall.
        (Some(col), Some(user)) => Condition::all().add(any).add(col.eq(user)),
        (Some(_), None) => Expr::cust("1 = 0").into_condition(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ils_entity::{api_key, company, lens_order, user};
    use sea_orm::QueryTrait;

    fn sql<E: Guarded>(scope: &Scope, access: Access) -> String {
        E::find()
            .filter(condition::<E>(scope, access))
            .build(DbBackend::Postgres)
            .to_string()
    }

    #[test]
    fn select_as_a_party_names_that_column_alone() {
        let c = Uuid::now_v7();
        let tx_scope = Scope::acting(Some(c), None);
        // The guard's condition for an order is either party; `select_as` is one branch.
        let guard = sql::<lens_order::Entity>(&tx_scope, Access::Read);
        assert!(guard.contains(" OR "), "{guard}");
        for party in [
            lens_order::Column::CompanyId,
            lens_order::Column::LabCompanyId,
        ] {
            let s = select_as_sql::<lens_order::Entity>(&tx_scope, party);
            assert!(!s.contains(" OR "), "{s}");
            assert!(
                s.ends_with(&format!(
                    "WHERE \"lens_orders\".\"{}\" = '{c}'",
                    party.as_str()
                )),
                "{s}"
            );
        }
        // A column that is not a party keeps the guard's condition; no company sees nothing.
        let s = select_as_sql::<lens_order::Entity>(&tx_scope, lens_order::Column::PatientId);
        assert!(s.contains(" OR ") && s.contains("\"patient_id\" ="), "{s}");
        let none =
            select_as_sql::<lens_order::Entity>(&Scope::default(), lens_order::Column::CompanyId);
        assert!(none.contains("1 = 0"), "{none}");
    }

    fn select_as_sql<E: Guarded>(scope: &Scope, party: E::Column) -> String {
        select_as::<E>(scope, party)
            .build(DbBackend::Postgres)
            .to_string()
    }

    #[test]
    fn anonymous_scope_matches_nothing() {
        let s = sql::<api_key::Entity>(&Scope::default(), Access::Read);
        assert!(s.contains("WHERE 1 = 0"), "{s}");
    }

    #[test]
    fn company_scope_filters_on_the_owner_column() {
        let c = Uuid::now_v7();
        let s = sql::<api_key::Entity>(&Scope::acting(Some(c), None), Access::Read);
        assert!(
            s.contains(&format!("\"api_keys\".\"company_id\" = '{c}'")),
            "{s}"
        );
    }

    #[test]
    fn platform_admin_sees_companies_but_no_tenant_rows() {
        let scope = Scope {
            platform: true,
            ..Scope::default()
        };
        let all = sql::<company::Entity>(&scope, Access::Read);
        assert!(!all.contains("1 = 0") && !all.contains("\"id\" ="), "{all}");
        assert!(sql::<api_key::Entity>(&scope, Access::Read).contains("WHERE 1 = 0"));
    }

    #[test]
    fn users_are_visible_to_their_company_themselves_and_a_lookup() {
        let (c, u) = (Uuid::now_v7(), Uuid::now_v7());
        let scope = Scope {
            lookup: Some("a@b.c".into()),
            ..Scope::acting(Some(c), Some(u))
        };
        let s = sql::<user::Entity>(&scope, Access::Read);
        assert!(s.contains("\"users\".\"company_id\" ="), "{s}");
        assert!(s.contains(" OR \"users\".\"id\" ="), "{s}");
        assert!(s.contains(" OR \"users\".\"email\" = 'a@b.c'"), "{s}");
    }

    #[test]
    fn a_lookup_reads_but_never_writes() {
        let scope = Scope::lookup("a@b.c");
        assert!(sql::<user::Entity>(&scope, Access::Read).contains("\"email\" = 'a@b.c'"));
        assert!(sql::<user::Entity>(&scope, Access::Write).contains("WHERE 1 = 0"));
    }

    #[test]
    fn a_users_own_row_is_readable_but_changed_only_within_its_company() {
        let u = Uuid::now_v7();
        let scope = Scope::acting(None, Some(u));
        assert!(sql::<user::Entity>(&scope, Access::Read).contains(&format!("\"id\" = '{u}'")));
        assert!(sql::<user::Entity>(&scope, Access::Write).contains("WHERE 1 = 0"));
    }
}
