use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, RuntimeErr, SqlErr};
use serde::{Deserialize, Serialize};
use std::fmt;

pub type AppResult<T> = Result<T, AppError>;

/// The one error type of the domain layer. Every variant maps to a stable
/// `extensions.code`; `Internal` never shows its detail to the client.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    /// `field` is the input path, dotted from the argument (`input.frame.eyeSize`, `id`).
    BadUserInput { message: String, field: String },
    /// Every problem a validation found, each at its full input path: reported as one
    /// BAD_USER_INPUT error per problem, all in the same response.
    #[error("{}", .0.first().map(|e| e.message.as_str()).unwrap_or("invalid input"))]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// A spending limit is reached (the company's monthly assistant budget): refused
    /// before anything is spent.
    #[error("{0}")]
    QuotaExceeded(String),
    /// An action beyond the company's plan: which limit (`limit`), its size (`max`, none
    /// for a feature the plan leaves out) and the plan that lifts it (`plan`, none when
    /// no plan does). Reads are never refused for a plan.
    #[error("{message}")]
    PlanLimit {
        message: String,
        limit: String,
        max: Option<u64>,
        plan: Option<String>,
    },
    /// The database could not be reached, or dropped the connection (it is down,
    /// restarting, or every connection is busy past the acquire timeout): nothing is wrong
    /// with the request, and the same request may succeed a moment later. The detail goes
    /// to the log; HTTP answers 503 with `Retry-After`.
    #[error(
        "the database is unavailable; try again in {} s",
        RETRY_UNAVAILABLE_SECS
    )]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound => "NOT_FOUND",
            AppError::BadUserInput { .. } | AppError::Invalid(_) => "BAD_USER_INPUT",
            AppError::Conflict(_) => "CONFLICT",
            AppError::RateLimited { .. } => "RATE_LIMITED",
            AppError::QuotaExceeded(_) => "QUOTA_EXCEEDED",
            AppError::PlanLimit { .. } => "PLAN_LIMIT",
            AppError::Unavailable(_) => SERVICE_UNAVAILABLE,
            AppError::Internal(_) => "INTERNAL",
        }
    }

    /// Bad input at a dotted field path such as `input.password`.
    pub fn bad_input(field: &str, message: impl Into<String>) -> Self {
        AppError::BadUserInput {
            message: message.into(),
            field: field.to_owned(),
        }
    }

    /// A validation's problems, each at `prefix.<its field>` (`input.frame.eyeSize`).
    pub fn invalid(prefix: &str, errors: impl IntoIterator<Item = FieldError>) -> Self {
        let mut errors: Vec<FieldError> = errors
            .into_iter()
            .map(|e| FieldError {
                field: match (prefix.is_empty(), e.field.is_empty()) {
                    (true, _) => e.field,
                    (false, true) => prefix.to_owned(),
                    (false, false) => format!("{prefix}.{}", e.field),
                },
                message: e.message,
            })
            .collect();
        if errors.is_empty() {
            errors.push(FieldError {
                field: prefix.to_owned(),
                message: "invalid".into(),
            });
        }
        AppError::Invalid(errors)
    }

    pub fn unauthenticated() -> Self {
        AppError::Unauthenticated("authentication required".into())
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        AppError::Forbidden(message.into())
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        AppError::Internal(detail.into())
    }

    /// Turns a unique-constraint violation into CONFLICT; anything else stays internal.
    pub fn from_db_conflict(err: DbErr, message: &str) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => AppError::Conflict(message.into()),
            _ => err.into(),
        }
    }
}

/// The code of `AppError::Unavailable`; the transport answers HTTP 503 when any error of a
/// response has it.
pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";

/// What `Retry-After` (and `extensions.retryAfter`) says when the database is unavailable:
/// long enough for a restarting server or a failover to come back, short enough that a
/// client does not wait much past it.
pub const RETRY_UNAVAILABLE_SECS: u64 = 2;

/// Whether `err` says the database could not be reached or lost the connection rather than
/// that a statement was wrong: a pool that timed out or was closed, a refused, reset or
/// broken connection, PostgreSQL's connection-exception class (`08…`), a server shutting
/// down (`57P01` "terminating connection due to administrator command", `57P02`, `57P03`)
/// or out of connection slots (`53300`), and SQLite's BUSY ("database is locked" after the
/// busy timeout). Every other error, a bad statement above all, stays internal: calling a
/// bug "try again later" would hide it.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as E;
    match err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => match &**e {
            E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => true,
            E::Database(db) => {
                let sqlite = db
                    .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                    .is_some();
                db.code()
                    .is_some_and(|code| unavailable_code(sqlite, code.as_ref()))
            }
            _ => false,
        },
        _ => false,
    }
}

/// Whether a database error code (SQLSTATE on PostgreSQL, the extended result code on
/// SQLite) means "not now" rather than "not this".
fn unavailable_code(sqlite: bool, code: &str) -> bool {
    if sqlite {
        // The primary result code is the low byte: SQLITE_BUSY (5) and its extended
        // forms (BUSY_RECOVERY 261, BUSY_SNAPSHOT 517, BUSY_TIMEOUT 773).
        return code.parse::<i32>().is_ok_and(|c| c & 0xff == 5);
    }
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

/// The extension that carries an `Invalid` error's further problems until the response
/// is finished (`api` turns each into an error of its own).
pub const PROBLEMS: &str = "problems";

/// Why one input field was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldError {
    /// The input path as GraphQL names it: `price`, `minOrderQuantity`, `frame.eyeSize`.
    pub field: String,
    /// A short message for the user.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The one accumulator of a validation's problems: every check adds to it, and all of
/// them are reported at once (`AppError::invalid`). Domain checks wrap it (`Deref`).
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds "between MIN and MAX" (and `unit`, e.g. " days") for `field` when `value` is
    /// outside `range`.
    pub fn in_range<T: PartialOrd + std::fmt::Display>(
        &mut self,
        field: &str,
        value: T,
        range: std::ops::RangeInclusive<T>,
        unit: &str,
    ) {
        if !range.contains(&value) {
            let (min, max) = (range.start(), range.end());
            self.add(field, format!("between {min} and {max}{unit}"));
        }
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}

/// Declares a domain's checks over the one accumulator: a newtype of `FieldErrors` (which
/// it derefs to, so `add` is there) to which the domain adds its own check
/// methods (`on_grid`, `eye`, …).
#[macro_export]
macro_rules! field_checks {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Default)]
        struct $name($crate::FieldErrors);

        impl ::std::ops::Deref for $name {
            type Target = $crate::FieldErrors;
            fn deref(&self) -> &$crate::FieldErrors {
                &self.0
            }
        }

        impl ::std::ops::DerefMut for $name {
            fn deref_mut(&mut self) -> &mut $crate::FieldErrors {
                &mut self.0
            }
        }
    };
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        match err {
            DbErr::RecordNotFound(_) | DbErr::RecordNotUpdated => AppError::NotFound,
            other if is_unavailable(&other) => AppError::Unavailable(other.to_string()),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        let code = err.code();
        match err {
            AppError::Internal(detail) => {
                // The detail (often SQL) goes to the log, which carries the request id; the
                // client sees the code and, added by the transport, that id.
                tracing::error!(%detail, "internal error");
                async_graphql::Error::new("internal error").extend_with(|_, e| e.set("code", code))
            }
            AppError::BadUserInput { ref field, .. } => {
                let field = field.clone();
                async_graphql::Error::new(err.to_string()).extend_with(move |_, e| {
                    e.set("code", code);
                    e.set("field", field.clone());
                })
            }
            AppError::Invalid(errors) => {
                // The first problem is this error; the others ride along in `problems`
                // and become errors of their own where responses are finished (the request
                // pipeline, `api/src/extension.rs`), so a client sees one error per field.
                let first = errors.first().cloned().unwrap_or(FieldError {
                    field: String::new(),
                    message: "invalid".into(),
                });
                let rest: Vec<async_graphql::Value> = errors
                    .iter()
                    .skip(1)
                    .map(|e| {
                        let mut problem = async_graphql::indexmap::IndexMap::new();
                        problem.insert(
                            async_graphql::Name::new("message"),
                            async_graphql::Value::from(e.message.clone()),
                        );
                        problem.insert(
                            async_graphql::Name::new("field"),
                            async_graphql::Value::from(e.field.clone()),
                        );
                        async_graphql::Value::Object(problem)
                    })
                    .collect();
                async_graphql::Error::new(first.message.clone()).extend_with(move |_, e| {
                    e.set("code", code);
                    e.set("field", first.field.clone());
                    if !rest.is_empty() {
                        e.set(PROBLEMS, async_graphql::Value::List(rest.clone()));
                    }
                })
            }
            AppError::RateLimited { retry_after_secs } => {
                async_graphql::Error::new(err.to_string()).extend_with(move |_, e| {
                    e.set("code", code);
                    e.set("retryAfter", retry_after_secs);
                })
            }
            AppError::PlanLimit {
                ref limit,
                max,
                ref plan,
                ..
            } => {
                let (limit, plan) = (limit.clone(), plan.clone());
                async_graphql::Error::new(err.to_string()).extend_with(move |_, e| {
                    e.set("code", code);
                    e.set("limit", limit.clone());
                    if let Some(max) = max {
                        e.set("max", max);
                    }
                    if let Some(plan) = &plan {
                        e.set("plan", plan.clone());
                    }
                })
            }
            AppError::Unavailable(ref detail) => {
                // Not a bug: a warning, with the cause (refused, reset, timed out), which
                // the client does not see.
                tracing::warn!(%detail, "database unavailable");
                async_graphql::Error::new(err.to_string()).extend_with(move |_, e| {
                    e.set("code", code);
                    e.set("retryAfter", RETRY_UNAVAILABLE_SECS);
                })
            }
            other => {
                async_graphql::Error::new(other.to_string()).extend_with(|_, e| e.set("code", code))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_error_hides_its_detail() {
        let e: async_graphql::Error = AppError::internal("SELECT secret FROM users").into();
        assert_eq!(e.message, "internal error");
        let ext = format!("{:?}", e.extensions);
        assert!(ext.contains("INTERNAL"));
        assert!(!ext.contains("secret"));
    }

    #[test]
    fn bad_input_carries_the_field_path() {
        let e: async_graphql::Error = AppError::bad_input("input.password", "too short").into();
        let ext = format!("{:?}", e.extensions);
        assert!(ext.contains("BAD_USER_INPUT"));
        assert!(ext.contains("\"input.password\""), "{ext}");
    }

    fn sqlx(e: sea_orm::sqlx::Error) -> std::sync::Arc<sea_orm::sqlx::Error> {
        std::sync::Arc::new(e)
    }

    #[test]
    fn connection_failures_are_unavailable_and_bad_statements_internal() {
        use sea_orm::ConnAcquireErr;
        use sea_orm::sqlx::Error as E;
        let refused = || std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let reset = || std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        for (err, code) in [
            (
                DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
                SERVICE_UNAVAILABLE,
            ),
            (
                DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
                SERVICE_UNAVAILABLE,
            ),
            // The guard's PostgreSQL transaction maps its acquire errors to `Conn`.
            (
                DbErr::Conn(RuntimeErr::SqlxError(sqlx(E::PoolTimedOut))),
                SERVICE_UNAVAILABLE,
            ),
            (
                DbErr::Conn(RuntimeErr::SqlxError(sqlx(E::PoolClosed))),
                SERVICE_UNAVAILABLE,
            ),
            (
                DbErr::Conn(RuntimeErr::SqlxError(sqlx(E::Io(refused())))),
                SERVICE_UNAVAILABLE,
            ),
            (
                DbErr::Query(RuntimeErr::SqlxError(sqlx(E::Io(reset())))),
                SERVICE_UNAVAILABLE,
            ),
            (
                DbErr::Exec(RuntimeErr::SqlxError(sqlx(E::Io(reset())))),
                SERVICE_UNAVAILABLE,
            ),
            // Not the connection's fault: still INTERNAL.
            (
                DbErr::Exec(RuntimeErr::SqlxError(sqlx(E::Protocol("bad".into())))),
                "INTERNAL",
            ),
            (
                DbErr::Query(RuntimeErr::SqlxError(sqlx(E::ColumnNotFound("x".into())))),
                "INTERNAL",
            ),
            (
                DbErr::Exec(RuntimeErr::Internal("syntax error".into())),
                "INTERNAL",
            ),
            (DbErr::Custom("x".into()), "INTERNAL"),
        ] {
            let shown = err.to_string();
            assert_eq!(AppError::from(err).code(), code, "{shown}");
        }
    }

    #[test]
    fn database_codes_that_mean_not_now() {
        for code in [
            "08006", "08001", "08003", "57P01", "57P02", "57P03", "53300",
        ] {
            assert!(unavailable_code(false, code), "{code}");
        }
        // Syntax, undefined table, unique violation, RLS refusal, serialization: not ours.
        for code in ["42601", "42P01", "23505", "42501", "40001", "57014"] {
            assert!(!unavailable_code(false, code), "{code}");
        }
        for code in ["5", "261", "517", "773"] {
            assert!(unavailable_code(true, code), "{code}");
        }
        // SQLITE_ERROR, SQLITE_LOCKED (a conflict inside one connection), CONSTRAINT.
        for code in ["1", "6", "2067", "19"] {
            assert!(!unavailable_code(true, code), "{code}");
        }
    }

    #[test]
    fn unavailable_says_when_to_retry_and_hides_its_detail() {
        let e: async_graphql::Error =
            AppError::Unavailable("connection refused 10.0.0.7".into()).into();
        let ext = format!("{:?}", e.extensions);
        assert!(ext.contains(SERVICE_UNAVAILABLE), "{ext}");
        assert!(ext.contains("retryAfter"), "{ext}");
        assert!(!e.message.contains("10.0.0.7"), "{}", e.message);
    }

    #[test]
    fn missing_rows_are_not_found() {
        assert_eq!(AppError::from(DbErr::RecordNotUpdated).code(), "NOT_FOUND");
    }
}
