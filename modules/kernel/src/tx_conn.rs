//! The connection a guarded transaction runs on. On PostgreSQL it is `PgTx`: a
//! transaction that opens with its scope already set: `BEGIN` and the
//! scope's `set_config` travel as one simple-protocol message, so a guarded transaction
//! costs one round trip before its first statement instead of two. SeaORM's own
//! transactions always send a bare `BEGIN` on PostgreSQL (sqlx takes a custom one, SeaORM
//! 2.0 passes none), hence this small connection of ours; it speaks SeaORM's
//! `ConnectionTrait`, so queries run on it exactly as on a `DatabaseTransaction`.
#![allow(clippy::disallowed_methods)] // below the guard: it is the guard's connection

use sea_orm::sqlx::{self, PgPool, Postgres, SqlSafeStr as _, pool::PoolConnection};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement,
};
use sea_query_sqlx::SqlxValues;
use sqlx_core::transaction::TransactionManager as _;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Mutex;

/// Sees every statement a connection sends, as SeaORM's metric callback does.
pub type StatementObserver = Arc<dyn Fn(&sea_orm::metric::Info<'_>) + Send + Sync>;

type Manager = <Postgres as sqlx::Database>::TransactionManager;

pub struct PgTx {
    conn: Mutex<PoolConnection<Postgres>>,
    observer: Option<StatementObserver>,
}

/// `text` as a PostgreSQL string literal. An escape string (`E'…'`) reads the same
/// whatever `standard_conforming_strings` says; a NUL cannot be in a PostgreSQL string.
pub fn literal(text: &str) -> Option<String> {
    if text.contains('\0') {
        return None;
    }
    Some(format!(
        "E'{}'",
        text.replace('\\', "\\\\").replace('\'', "''")
    ))
}

impl PgTx {
    /// Takes a connection from `pool` and opens a transaction on it, with `then` (complete
    /// SQL statements, values inlined as `literal`s) run right after `BEGIN`, in the same
    /// message.
    pub async fn begin(
        pool: &PgPool,
        then: Option<&str>,
        observer: Option<StatementObserver>,
    ) -> Result<PgTx, DbErr> {
        let conn = pool
            .acquire()
            .await
            .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e))))?;
        let sql = match then {
            Some(then) => format!("BEGIN; {then}"),
            None => "BEGIN".to_owned(),
        };
        let started = Instant::now();
        // Should this future be dropped while BEGIN is under way (the client went away),
        // sqlx has queued the BEGIN but not counted the transaction, so nothing would roll
        // it back: the connection would go back to the pool inside a transaction carrying
        // this request's scope. It is closed instead.
        let mut beginning = Beginning(Some(conn));
        let begun = Manager::begin(
            beginning.conn(),
            Some(sqlx::AssertSqlSafe(sql.clone()).into_sql_str()),
        )
        .await;
        // Observed as the statements after BEGIN (transaction control is not counted).
        if let (Some(observe), Some(_)) = (&observer, then) {
            let statement = Statement::from_string(DbBackend::Postgres, sql);
            observe(&sea_orm::metric::Info {
                elapsed: started.elapsed(),
                statement: &statement,
                failed: begun.is_err(),
            });
        }
        if let Err(e) = begun {
            // A statement after BEGIN failed: the connection is left in an aborted
            // transaction that sqlx has not counted as begun. It goes back to the pool only
            // if a ROLLBACK ends that transaction (a refused check, such as a deactivated
            // user's, must not cost a connection); otherwise it is closed.
            let rolled_back = sqlx::Executor::execute(&mut **beginning.conn(), "ROLLBACK")
                .await
                .is_ok();
            if rolled_back {
                drop(beginning.done());
            }
            return Err(DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e))));
        }
        Ok(PgTx {
            conn: Mutex::new(beginning.done()),
            observer,
        })
    }

    /// Commits. Should the COMMIT fail, dropping `self` queues the ROLLBACK.
    pub async fn commit(mut self) -> Result<(), DbErr> {
        Manager::commit(self.conn.get_mut()).await.map_err(exec_err)
    }

    fn observe<T>(&self, stmt: &Statement, started: Instant, result: &Result<T, sqlx::Error>) {
        if let Some(observe) = &self.observer {
            observe(&sea_orm::metric::Info {
                elapsed: started.elapsed(),
                statement: stmt,
                failed: result.is_err(),
            });
        }
    }
}

impl Drop for PgTx {
    /// Not committed (or the COMMIT failed): the ROLLBACK is queued on the connection, to
    /// be sent with its next trip (the pool's check when it comes back), as sqlx does for
    /// its own transactions. After a COMMIT there is no transaction and nothing is queued.
    fn drop(&mut self) {
        Manager::start_rollback(self.conn.get_mut());
    }
}

/// A connection whose `BEGIN` is under way: closed, not pooled, if dropped before `done`.
struct Beginning(Option<PoolConnection<Postgres>>);

impl Beginning {
    fn conn(&mut self) -> &mut PoolConnection<Postgres> {
        self.0.as_mut().expect("a connection until done")
    }

    fn done(mut self) -> PoolConnection<Postgres> {
        self.0.take().expect("a connection until done")
    }
}

impl Drop for Beginning {
    fn drop(&mut self) {
        if let Some(conn) = self.0.as_mut() {
            conn.close_on_drop();
        }
    }
}

fn query(stmt: &Statement) -> sqlx::query::Query<'_, Postgres, SqlxValues> {
    let values = stmt.values.clone().unwrap_or(sea_orm::Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values))
}

fn exec_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e)))
}

fn query_err(e: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
}

#[async_trait::async_trait]
impl ConnectionTrait for PgTx {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let mut conn = self.conn.lock().await;
        let started = Instant::now();
        let result = query(&stmt).execute(&mut **conn).await;
        self.observe(&stmt, started, &result);
        result.map(Into::into).map_err(exec_err)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let mut conn = self.conn.lock().await;
        sqlx::Executor::execute(&mut **conn, sqlx::AssertSqlSafe(sql.to_owned()))
            .await
            .map(Into::into)
            .map_err(exec_err)
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let mut conn = self.conn.lock().await;
        let started = Instant::now();
        let result = query(&stmt).fetch_optional(&mut **conn).await;
        self.observe(&stmt, started, &result);
        result.map(|row| row.map(Into::into)).map_err(query_err)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut conn = self.conn.lock().await;
        let started = Instant::now();
        let result = query(&stmt).fetch_all(&mut **conn).await;
        self.observe(&stmt, started, &result);
        result
            .map(|rows| rows.into_iter().map(Into::into).collect())
            .map_err(query_err)
    }
}

/// A guarded transaction's connection: ours on PostgreSQL, SeaORM's elsewhere.
pub enum TxConn {
    Pg(PgTx),
    Orm(DatabaseTransaction),
}

impl TxConn {
    pub async fn commit(self) -> Result<(), DbErr> {
        match self {
            TxConn::Pg(tx) => tx.commit().await,
            TxConn::Orm(tx) => tx.commit().await,
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for TxConn {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            TxConn::Pg(tx) => tx.get_database_backend(),
            TxConn::Orm(tx) => tx.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            TxConn::Pg(tx) => tx.execute_raw(stmt).await,
            TxConn::Orm(tx) => tx.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            TxConn::Pg(tx) => tx.execute_unprepared(sql).await,
            TxConn::Orm(tx) => tx.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            TxConn::Pg(tx) => tx.query_one_raw(stmt).await,
            TxConn::Orm(tx) => tx.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            TxConn::Pg(tx) => tx.query_all_raw(stmt).await,
            TxConn::Orm(tx) => tx.query_all_raw(stmt).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::literal;

    #[test]
    fn literals_escape_quotes_and_backslashes_and_refuse_nul() {
        assert_eq!(literal("ils_app").unwrap(), "E'ils_app'");
        assert_eq!(literal("o'brien").unwrap(), "E'o''brien'");
        assert_eq!(literal(r"a\'b").unwrap(), r"E'a\\''b'");
        assert_eq!(literal("").unwrap(), "E''");
        assert!(literal("a\0b").is_none());
    }
}
