//! The JSON columns of orders (the job's Rx, lens, fit and frame) written and read back.

use ils_kernel::{AppError, AppResult};
use serde::{Deserialize, Serialize};

/// A value as its JSON column text.
pub(crate) fn enc<T: Serialize>(v: &T) -> AppResult<String> {
    serde_json::to_string(v).map_err(|e| AppError::internal(format!("json: {e}")))
}

/// A JSON column read back; a column that does not fit its type is an internal error.
pub(crate) fn stored<T: for<'a> Deserialize<'a>>(text: &str) -> AppResult<T> {
    serde_json::from_str(text).map_err(|e| AppError::internal(format!("stored json: {e}")))
}
