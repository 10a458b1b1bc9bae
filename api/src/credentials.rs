//! Credentials of a request (HTTP headers or a WebSocket `connection_init` payload) into a
//! `TenantContext`. Domain crates never see headers.

use crate::state::AppState;
use ils_kernel::{AppError, TenantContext};
use ils_tenancy::service::credentials;

/// The two credentials a caller may present; at most one of them.
#[derive(Default, Debug)]
pub struct Presented {
    pub authorization: Option<String>,
    pub api_key: Option<String>,
}

impl Presented {
    pub fn from_headers(h: &axum::http::HeaderMap) -> Result<Presented, AppError> {
        let get = |name: &str| -> Result<Option<String>, AppError> {
            h.get(name)
                .map(|v| {
                    v.to_str()
                        .map(str::to_owned)
                        .map_err(|_| AppError::Unauthenticated("malformed credentials".into()))
                })
                .transpose()
        };
        Ok(Presented {
            authorization: get("authorization")?,
            api_key: get("x-api-key")?,
        })
    }

    /// A `connection_init` payload: `{"Authorization": "Bearer …"}` or `{"X-Api-Key": "…"}`,
    /// keys in any case.
    pub fn from_json(payload: &serde_json::Value) -> Presented {
        let mut p = Presented::default();
        if let Some(map) = payload.as_object() {
            for (k, v) in map {
                match (k.to_ascii_lowercase().as_str(), v.as_str()) {
                    ("authorization", Some(v)) => p.authorization = Some(v.to_owned()),
                    ("x-api-key", Some(v)) => p.api_key = Some(v.to_owned()),
                    _ => {}
                }
            }
        }
        p
    }
}

pub async fn resolve(app: &AppState, presented: Presented) -> Result<TenantContext, AppError> {
    match (presented.authorization, presented.api_key) {
        (None, None) => Ok(TenantContext::anonymous()),
        (Some(_), Some(_)) => Err(AppError::Unauthenticated(
            "send either a bearer token or an API key, not both".into(),
        )),
        (Some(auth), None) => credentials::from_access_token(&app.tokens, bearer_token(&auth)?),
        (None, Some(key)) => credentials::from_api_key(&app.db, key.trim()).await,
    }
}

/// The token of an `Authorization: Bearer <token>` value.
pub fn bearer_token(authorization: &str) -> Result<&str, AppError> {
    authorization
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            AppError::Unauthenticated("the Authorization header must be `Bearer <token>`".into())
        })
}
