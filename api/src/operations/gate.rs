//! What a request may run: a document by ID (trusted, or an automatic persisted query),
//! or query text (unless the caller is a persisted-only API key, or `ILS_OPERATIONS`
//! says otherwise for first-party callers). The one decision every transport asks.

use super::manifest;
use super::runtime::{Mode, Runtime};
use async_graphql::Request;
use ils_kernel::{Actor, AppError, Db, TenantContext};

/// Why a request does not run.
#[derive(Debug)]
pub enum Refusal {
    /// PERSISTED_QUERY_NOT_FOUND: an unknown ID and an ID outside the caller's lists alike.
    NotFound,
    /// FORBIDDEN: text where only IDs (or published text) may run.
    Forbidden(String),
    /// BAD_REQUEST: an ID and text that do not belong together.
    BadRequest(String),
    /// The database failed while looking.
    Failed(AppError),
}

pub const NOT_FOUND_CODE: &str = "PERSISTED_QUERY_NOT_FOUND";
pub const NOT_FOUND_MESSAGE: &str =
    "PersistedQueryNotFound: no persisted document with this ID is available to you";

impl Refusal {
    /// The error's code and message as a client sees it (a failure's detail stays in the
    /// log).
    pub fn code_and_message(&self) -> (&'static str, String) {
        match self {
            Refusal::NotFound => (NOT_FOUND_CODE, NOT_FOUND_MESSAGE.into()),
            Refusal::Forbidden(m) => ("FORBIDDEN", m.clone()),
            Refusal::BadRequest(m) => ("BAD_REQUEST", m.clone()),
            Refusal::Failed(AppError::Internal(detail)) => {
                tracing::error!(%detail, "persisted document look-up failed");
                ("INTERNAL", "internal error".into())
            }
            Refusal::Failed(e) => (e.code(), e.to_string()),
        }
    }
}

/// The ID a request names: `documentId`, or Apollo's `extensions.persistedQuery`
/// (`{"version":1,"sha256Hash":"…"}`); with which of the two.
pub fn named_id(request: &Request, document_id: Option<&str>) -> Option<(String, bool)> {
    if let Some(id) = document_id {
        return Some((id.to_owned(), false));
    }
    let pq = request.extensions.get("persistedQuery")?;
    let async_graphql::Value::Object(pq) = pq else {
        return None;
    };
    match pq.get("sha256Hash") {
        Some(async_graphql::Value::String(h)) => Some((h.clone(), true)),
        _ => None,
    }
}

/// What a request was admitted as.
#[derive(Default, Debug)]
pub struct Admission {
    /// A published document's hash, to count its use.
    pub published: Option<String>,
    /// An automatic persisted query to keep under this hash once the request has passed
    /// parsing, validation and the limits (`Runtime::apq_put`).
    pub register: Option<String>,
}

/// Decides what `request` runs for `tenant`, filling in a persisted document's text and
/// parsed form.
pub async fn admit(
    rt: &Runtime,
    db: &Db,
    tenant: &TenantContext,
    request: &mut Request,
    document_id: Option<&str>,
) -> Result<Admission, Refusal> {
    let person = matches!(tenant.actor(), Actor::User(_));
    if let Some((id, apollo)) = named_id(request, document_id) {
        let Some(hash) = manifest::parse_id(&id) else {
            return Err(Refusal::NotFound);
        };
        if !request.query.trim().is_empty() {
            if !apollo {
                return Err(Refusal::BadRequest(
                    "send either a documentId or a query, not both".into(),
                ));
            }
            // Apollo's automatic persisted queries: the text, registered under its hash.
            if manifest::sha256_hex(&request.query) != hash {
                return Err(Refusal::BadRequest(
                    "provided sha does not match query: extensions.persistedQuery.sha256Hash \
                     is not the SHA-256 of the query"
                        .into(),
                ));
            }
            let published = text_allowed(rt, db, tenant, request).await?;
            return Ok(Admission {
                published,
                register: (person && apq_allowed(rt)).then_some(hash),
            });
        }
        if let Some(p) = rt
            .trusted(db, tenant, &hash)
            .await
            .map_err(Refusal::Failed)?
        {
            // Published: checked when it was, so the limits need not measure it again.
            request.query = p.body.clone();
            request.set_parsed_query(p.doc.clone());
            request.data.insert(crate::extension::Trusted);
            return Ok(Admission {
                published: Some(p.hash.clone()),
                register: None,
            });
        }
        // Automatic persisted queries are for people signed in only (never for API keys,
        // whose lists are the whole of what they run), and only where text may run. Their
        // text is measured and validated like any text.
        if apollo
            && person
            && apq_allowed(rt)
            && let Some(text) = rt.apq_get(tenant.company_id(), &hash).await
        {
            request.query = text;
            return Ok(Admission::default());
        }
        return Err(Refusal::NotFound);
    }
    Ok(Admission {
        published: text_allowed(rt, db, tenant, request).await?,
        register: None,
    })
}

/// Whether automatic persisted queries work: where first-party text may run.
fn apq_allowed(rt: &Runtime) -> bool {
    matches!(rt.mode, Mode::Off | Mode::LogUnknown)
}

/// Whether `request`'s text may run for `tenant`; Ok(Some(hash)) when it ran as a
/// published document (the safelist), to count its use.
async fn text_allowed(
    rt: &Runtime,
    db: &Db,
    tenant: &TenantContext,
    request: &Request,
) -> Result<Option<String>, Refusal> {
    if tenant.is_persisted_only() {
        return Err(Refusal::Forbidden(
            "this API key may run persisted operations only: send a documentId".into(),
        ));
    }
    // The mode is for first-party traffic; an API key's own flag governs it.
    if matches!(tenant.actor(), Actor::ApiKey { .. }) {
        return Ok(None);
    }
    match rt.mode {
        Mode::Off => Ok(None),
        Mode::LogUnknown => {
            let found = rt
                .matching(db, tenant, &request.query)
                .await
                .map_err(Refusal::Failed)?;
            if found.is_none() {
                let hash = manifest::sha256_hex(&request.query);
                if rt.first_report(&hash) {
                    tracing::warn!(
                        operation = request.operation_name.as_deref().unwrap_or("(anonymous)"),
                        %hash,
                        "an operation no published list holds (ILS_OPERATIONS=log_unknown: \
                         safelist would refuse it; reported once per text)"
                    );
                }
            }
            Ok(found.map(|p| p.hash.clone()))
        }
        Mode::Safelist => match rt
            .matching(db, tenant, &request.query)
            .await
            .map_err(Refusal::Failed)?
        {
            Some(p) => Ok(Some(p.hash.clone())),
            None => Err(Refusal::Forbidden(
                "this server runs only published operations (ILS_OPERATIONS=safelist): \
                 this text matches none"
                    .into(),
            )),
        },
        Mode::RequireId => Err(Refusal::Forbidden(
            "this server runs operations by ID only (ILS_OPERATIONS=require_id): send a \
             documentId"
                .into(),
        )),
    }
}
