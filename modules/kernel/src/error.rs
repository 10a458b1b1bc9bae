use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, SqlErr};

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
    BadUserInput { message: String, field: Vec<String> },
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound => "NOT_FOUND",
            AppError::BadUserInput { .. } => "BAD_USER_INPUT",
            AppError::Conflict(_) => "CONFLICT",
            AppError::RateLimited { .. } => "RATE_LIMITED",
            AppError::Internal(_) => "INTERNAL",
        }
    }

    /// Bad input at a dotted field path such as `input.password`.
    pub fn bad_input(field: &str, message: impl Into<String>) -> Self {
        AppError::BadUserInput {
            message: message.into(),
            field: field.split('.').map(str::to_owned).collect(),
        }
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

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        match err {
            DbErr::RecordNotFound(_) | DbErr::RecordNotUpdated => AppError::NotFound,
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
            AppError::RateLimited { retry_after_secs } => {
                async_graphql::Error::new(err.to_string()).extend_with(move |_, e| {
                    e.set("code", code);
                    e.set("retryAfter", retry_after_secs);
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
        assert!(ext.contains("password"));
    }

    #[test]
    fn missing_rows_are_not_found() {
        assert_eq!(AppError::from(DbErr::RecordNotUpdated).code(), "NOT_FOUND");
    }
}
