//! GraphQL over HTTP, following the GraphQL-over-HTTP specification: content negotiation
//! between `application/graphql-response+json` and `application/json`, the status codes
//! each requires, queries only over GET, and the protections async-graphql leaves to the
//! transport (body size, batching, CSRF-safe content types).

use crate::credentials::{self, Presented};
use crate::extension::{RequestMeta, error_code, is_request_error, stamp_request_id};
use crate::state::AppState;
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, Request, Response as GqlResponse};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ils_kernel::{AppError, ClientInfo, TenantContext};
use std::net::SocketAddr;
use std::time::Instant;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// Headers that a browser cannot send cross-site without a preflight, so their presence
/// proves the request is not a CSRF "simple request".
const CSRF_HEADERS: [&str; 4] = [
    "x-ils-csrf",
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "graphql-preflight",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum MediaType {
    GraphQLResponse,
    Json,
}

impl MediaType {
    fn as_str(self) -> &'static str {
        match self {
            MediaType::GraphQLResponse => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the response media type from `Accept`; `None` when the client accepts neither.
fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    let mut best: Option<(MediaType, f32)> = None;
    for part in accept.split(',') {
        let mut bits = part.split(';');
        let media = bits.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = bits
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let kind = match media.as_str() {
            GRAPHQL_RESPONSE_JSON => MediaType::GraphQLResponse,
            JSON | "application/*" | "*/*" => MediaType::Json,
            _ => continue,
        };
        if q > 0.0
            && best.is_none_or(|(b, bq)| {
                q > bq || (q == bq && kind == MediaType::GraphQLResponse && b != kind)
            })
        {
            best = Some((kind, q));
        }
    }
    best.map(|(k, _)| k)
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// An error the transport answers itself, before any GraphQL runs.
/// An error answered outside GraphQL execution (timeouts and panics too), as JSON.
pub(crate) fn json_error(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> Response {
    refuse(MediaType::Json, status, code, message, request_id)
}

fn refuse(
    media: MediaType,
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> Response {
    metrics::counter!("ils_graphql_errors_total", "code" => code.to_owned()).increment(1);
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code, "requestId": request_id } }]
    });
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(media.as_str()),
        )],
        body.to_string(),
    )
        .into_response()
}

fn refuse_app(media: MediaType, err: AppError, request_id: &str) -> Response {
    let status = match err {
        AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::Unavailable(ref detail) => {
            tracing::warn!(%detail, "database unavailable before execution");
            StatusCode::SERVICE_UNAVAILABLE
        }
        AppError::Internal(ref detail) => {
            tracing::error!(%detail, "internal error before execution");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    let message = match err {
        AppError::Internal(_) => "internal error".to_owned(),
        ref other => other.to_string(),
    };
    let mut res = refuse(media, status, err.code(), &message, request_id);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        set_retry_after(&mut res);
    }
    res
}

/// The answer to a request a rate budget refused on arrival: 429 with `Retry-After`, the
/// rate-limit headers, and the GraphQL error (`RATE_LIMITED`, `retryAfter`, `limit`,
/// `budget`).
fn rate_limited(
    media: MediaType,
    refusal: &crate::ratelimit::Refusal,
    request_id: &str,
    ledger: &crate::ratelimit::Ledger,
) -> Response {
    metrics::counter!("ils_graphql_errors_total", "code" => "RATE_LIMITED").increment(1);
    let mut error = refusal.error();
    if let Some(ext) = error.extensions.as_mut() {
        ext.set("requestId", request_id);
    }
    let body = serde_json::json!({ "errors": [error] });
    let mut res = (
        StatusCode::TOO_MANY_REQUESTS,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(media.as_str()),
        )],
        body.to_string(),
    )
        .into_response();
    res.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(refusal.retry_after_secs),
    );
    set_rate_headers(&mut res, ledger);
    res
}

/// The IETF `RateLimit-Policy` and `RateLimit` headers of the budgets a request drew on.
fn set_rate_headers(res: &mut Response, ledger: &crate::ratelimit::Ledger) {
    for (name, value) in crate::ratelimit::headers(ledger) {
        if let Ok(v) = HeaderValue::from_str(&value) {
            res.headers_mut().insert(name, v);
        }
    }
}

/// `Retry-After` on a 503: when the database is expected back.
fn set_retry_after(res: &mut Response) {
    res.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(ils_kernel::error::RETRY_UNAVAILABLE_SECS),
    );
}

/// Whether any error of these responses says the database is unavailable: then the whole
/// answer is a 503 with `Retry-After`, so clients, proxies and load balancers retry it
/// (later, or on another replica) instead of taking it for a fault of the request.
fn unavailable(responses: &[GqlResponse]) -> bool {
    responses.iter().flat_map(|r| &r.errors).any(|e| {
        e.extensions.as_ref().and_then(|x| x.get("code"))
            == Some(&async_graphql::Value::from(
                ils_kernel::error::SERVICE_UNAVAILABLE,
            ))
    })
}

#[derive(serde::Deserialize)]
pub struct GetParams {
    query: Option<String>,
    variables: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    extensions: Option<String>,
    /// A persisted document's ID (GraphQL over HTTP's persisted documents).
    #[serde(rename = "documentId")]
    document_id: Option<String>,
}

/// The response media type the client accepts, or the 406 that says which it may ask for.
fn negotiate_or_refuse(headers: &HeaderMap, rid: &str) -> Result<MediaType, Box<Response>> {
    negotiate(headers).ok_or_else(|| {
        Box::new(refuse(
            MediaType::Json,
            StatusCode::NOT_ACCEPTABLE,
            "BAD_REQUEST",
            "acceptable response types: application/graphql-response+json, application/json",
            rid,
        ))
    })
}

/// Which schema a request runs against: the public one (`/graphql`) or the federation
/// subgraph (`/subgraph`). Both go through the same credentials, limits and guard.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Surface {
    Api,
    Subgraph,
}

pub async fn get(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    params: Result<Query<GetParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    get_on(Surface::Api, app, peer, headers, params).await
}

pub async fn get_subgraph(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    params: Result<Query<GetParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    get_on(Surface::Subgraph, app, peer, headers, params).await
}

async fn get_on(
    surface: Surface,
    app: AppState,
    peer: SocketAddr,
    headers: HeaderMap,
    params: Result<Query<GetParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let rid = request_id(&headers);
    let media = match negotiate_or_refuse(&headers, &rid) {
        Ok(media) => media,
        Err(refusal) => return *refusal,
    };
    let Ok(Query(params)) = params else {
        return refuse(
            media,
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "malformed query string",
            &rid,
        );
    };
    let query = params.query.clone().unwrap_or_default();
    let by_id = params.document_id.is_some()
        || params
            .extensions
            .as_deref()
            .is_some_and(|e| e.contains("persistedQuery"));
    if query.trim().is_empty() && !by_id {
        return refuse(
            media,
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "the `query` parameter is required (or a `documentId`)",
            &rid,
        );
    }
    let mut request = Request::new(query.clone());
    if let Some(name) = &params.operation_name {
        request = request.operation_name(name.clone());
    }
    for (raw, what) in [
        (&params.variables, "variables"),
        (&params.extensions, "extensions"),
    ] {
        if let Some(raw) = raw {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(raw) else {
                return refuse(
                    media,
                    StatusCode::BAD_REQUEST,
                    "BAD_REQUEST",
                    &format!("`{what}` is not JSON"),
                    &rid,
                );
            };
            if what == "variables" {
                request.variables = async_graphql::Variables::from_json(value);
            } else if let serde_json::Value::Object(map) = value {
                for (k, v) in map {
                    request
                        .extensions
                        .insert(k, async_graphql::Value::from_json(v).unwrap_or_default());
                }
            }
        }
    }
    execute(
        &app,
        surface,
        media,
        &headers,
        peer,
        BatchRequest::Single(request),
        Sent {
            document_ids: vec![params.document_id],
            get: true,
        },
        rid,
        None,
    )
    .await
}

/// What the transport learnt of a request beyond async-graphql's `Request`: each
/// operation's `documentId` (in batch order), and whether it came by GET (which may run
/// queries only, and whose persisted answers may be cached).
struct Sent {
    document_ids: Vec<Option<String>>,
    get: bool,
}

/// The `documentId` of each request of a JSON body (in batch order), read only when the
/// body names one (async-graphql's `Request` has no such field).
fn document_ids(bytes: &[u8], count: usize) -> Vec<Option<String>> {
    #[derive(serde::Deserialize)]
    struct WithId {
        #[serde(rename = "documentId")]
        document_id: Option<String>,
    }
    if !bytes.windows(10).any(|w| w == b"documentId") {
        return vec![None; count];
    }
    // One object or a batch, told by the first character (an untagged enum would buffer
    // the whole body first); every other field is skipped unread.
    let batch = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'[');
    let ids = if batch {
        serde_json::from_slice::<Vec<WithId>>(bytes)
            .map(|many| many.into_iter().map(|w| w.document_id).collect())
    } else {
        serde_json::from_slice::<WithId>(bytes).map(|one| vec![one.document_id])
    };
    ids.unwrap_or_else(|_| vec![None; count])
}

pub async fn post(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    post_on(Surface::Api, app, peer, headers, body).await
}

pub async fn post_subgraph(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    post_on(Surface::Subgraph, app, peer, headers, body).await
}

async fn post_on(
    surface: Surface,
    app: AppState,
    peer: SocketAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let rid = request_id(&headers);
    let media = match negotiate_or_refuse(&headers, &rid) {
        Ok(media) => media,
        Err(refusal) => return *refusal,
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let preflighted = CSRF_HEADERS.iter().any(|h| headers.contains_key(*h));
    let is_json = essence == JSON || essence == GRAPHQL_RESPONSE_JSON;
    let simple = matches!(
        essence.as_str(),
        "text/plain" | "application/x-www-form-urlencoded" | "multipart/form-data" | ""
    );
    if simple && !preflighted {
        return refuse(
            media,
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "this content type needs a CSRF-preventing header (x-ils-csrf); send application/json instead",
            &rid,
        );
    }
    if !is_json && !simple {
        return refuse(
            media,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            "send the request as application/json",
            &rid,
        );
    }

    // A file upload (multipart) may be larger than a plain request, but only for a
    // signed-in company member: the credentials are checked before the body is read, so
    // nobody else can make the server buffer more than a plain request.
    let mut tenant = None;
    let limit = if essence == "multipart/form-data" {
        let caller = match authenticate(&app, media, &headers, &rid).await {
            Ok(t) => t,
            Err(refused) => {
                // Read and drop what the client is sending, so it gets this answer rather
                // than a reset connection mid-upload.
                let _ = read_limited(body, 0).await;
                return refused;
            }
        };
        let member = !caller.is_anonymous() && caller.company_id().is_some();
        tenant = Some(caller);
        if member {
            app.config.max_upload_bytes.max(app.config.max_body_bytes)
        } else {
            app.config.max_body_bytes
        }
    } else {
        app.config.max_body_bytes
    };
    let bytes: Bytes = match read_limited(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return refuse(
                media,
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                &format!("the request body is larger than {limit} bytes"),
                &rid,
            );
        }
    };
    let batch = if essence == "multipart/form-data" {
        // One file per request; its size is bounded by the body limit above.
        let opts = async_graphql::http::MultipartOptions::default()
            .max_num_files(1)
            .max_file_size(limit);
        async_graphql::http::receive_batch_body(
            Some(content_type.as_str()),
            futures_util::io::Cursor::new(bytes.to_vec()),
            opts,
        )
        .await
        .map_err(|e| e.to_string())
    } else {
        serde_json::from_slice::<BatchRequest>(&bytes).map_err(|e| e.to_string())
    };
    let batch = match batch {
        Ok(b) => b,
        Err(_) => {
            return refuse(
                media,
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "the body is not a GraphQL request (a JSON object with a `query`)",
                &rid,
            );
        }
    };
    let requests: Vec<&Request> = match &batch {
        BatchRequest::Single(r) => vec![r],
        BatchRequest::Batch(rs) => rs.iter().collect(),
    };
    let ids = document_ids(&bytes, requests.len());
    let missing = |(r, id): (&&Request, &Option<String>)| {
        r.query.trim().is_empty() && crate::operations::gate::named_id(r, id.as_deref()).is_none()
    };
    if requests.is_empty() || requests.iter().zip(ids.iter()).any(missing) {
        return refuse(
            media,
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "every request needs a non-empty `query` (or a `documentId`)",
            &rid,
        );
    }
    if let BatchRequest::Batch(items) = &batch {
        let max = app.config.max_batch;
        if max == 0 {
            return refuse(
                media,
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "batched requests are disabled",
                &rid,
            );
        }
        if items.len() > max || items.is_empty() {
            return refuse(
                media,
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!("a batch holds 1 to {max} requests"),
                &rid,
            );
        }
    }
    let sent = Sent {
        document_ids: ids,
        get: false,
    };
    execute(
        &app, surface, media, &headers, peer, batch, sent, rid, tenant,
    )
    .await
}

/// The caller behind the request's credentials, or the refusal to send.
/// How much of a refused body is read and dropped (never kept) so the client can read
/// the refusal; past it the connection is simply closed.
const DRAIN_BYTES: usize = 1024 * 1024;

/// The body, if it is at most `limit` bytes. A larger one is refused (`Err`) after the rest
/// of it, up to `DRAIN_BYTES` more, has been read and dropped: a client still writing its
/// body then gets the 413 instead of a reset connection.
async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ()> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut dropped = 0usize;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return Err(());
        };
        if dropped == 0 && kept.len() + chunk.len() <= limit {
            kept.extend_from_slice(&chunk);
        } else {
            dropped += chunk.len();
            if dropped > DRAIN_BYTES {
                return Err(());
            }
        }
    }
    if dropped > 0 {
        Err(())
    } else {
        Ok(Bytes::from(kept))
    }
}

async fn authenticate(
    app: &AppState,
    media: MediaType,
    headers: &HeaderMap,
    rid: &str,
) -> Result<TenantContext, Response> {
    let presented = Presented::from_headers(headers).map_err(|e| refuse_app(media, e, rid))?;
    credentials::resolve(app, presented)
        .await
        .map_err(|e| refuse_app(media, e, rid))
}

/// The answer to a request the persisted-operations gate refused.
fn refuse_persisted(
    media: MediaType,
    refusal: crate::operations::gate::Refusal,
    rid: &str,
) -> Response {
    use crate::operations::gate::Refusal;
    let status = match &refusal {
        // A client retries with the text (Apollo) or reports it: a request error, 200 for
        // application/json as Apollo's clients expect, 400 for the GraphQL media type.
        Refusal::NotFound if media == MediaType::GraphQLResponse => StatusCode::BAD_REQUEST,
        Refusal::NotFound => StatusCode::OK,
        Refusal::Forbidden(_) => StatusCode::FORBIDDEN,
        Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
        Refusal::Failed(_) => return refuse_app(media, failed(refusal), rid),
    };
    let (code, message) = refusal.code_and_message();
    refuse(media, status, code, &message, rid)
}

/// The error inside a `Refusal::Failed`.
fn failed(refusal: crate::operations::gate::Refusal) -> AppError {
    match refusal {
        crate::operations::gate::Refusal::Failed(e) => e,
        other => AppError::internal(format!("not a failure: {other:?}")),
    }
}

/// Runs the request for `tenant` (resolved from the headers when not given).
#[allow(clippy::too_many_arguments)]
async fn execute(
    app: &AppState,
    surface: Surface,
    media: MediaType,
    headers: &HeaderMap,
    peer: SocketAddr,
    batch: BatchRequest,
    sent: Sent,
    rid: String,
    tenant: Option<TenantContext>,
) -> Response {
    let started = Instant::now();
    let tenant = match tenant {
        Some(t) => t,
        None => match authenticate(app, media, headers, &rid).await {
            Ok(t) => t,
            Err(refused) => return refused,
        },
    };
    // A request draws its one request with its cost once its document is validated (the
    // extension, in one draw, noted in `slot`); if it never gets there, its request is
    // drawn when its answer is ready (`draw_pending`). A batch draws all its requests here,
    // before anything runs: its documents run at once, and each must know whether the
    // batch was refused before it runs.
    let slot = crate::ratelimit::RateSlot::default();
    let operations: Vec<Option<String>> = match &batch {
        BatchRequest::Single(r) => vec![r.operation_name.clone()],
        BatchRequest::Batch(rs) => rs.iter().map(|r| r.operation_name.clone()).collect(),
    };
    slot.with(|l| l.pending_requests = operations.len() as u64);
    let address = peer.ip().to_string();
    // The requests not drawn yet, drawn now (the refusal to answer instead, if refused).
    // A refusal is counted in the usage; so is a request that was `answered` without the
    // extension counting it (it never reached validation), as an error.
    let draw_pending = async |answered: bool| -> Option<Response> {
        let pending = slot.take_pending();
        if pending == 0 {
            return None;
        }
        let drawn = app
            .limiter
            .charge(
                &tenant,
                Some(&address),
                &[(crate::ratelimit::Measure::Requests, pending)],
            )
            .await;
        let counted = slot.with(|l| {
            l.note(&drawn);
            l.counted
        });
        let refusal = drawn.refused();
        let counts = match refusal {
            Some(_) => Some(crate::usage::Counts::refused()),
            None if answered => Some(crate::usage::Counts::invalid()),
            None => None,
        };
        for name in operations.iter().skip(counted as usize) {
            if let Some(counts) = counts {
                app.limiter.usage.add(&tenant, name.as_deref(), counts);
            }
        }
        let refusal = refusal?;
        Some(slot.with(|l| rate_limited(media, &refusal, &rid, l)))
    };
    if operations.len() > 1
        && let Some(refused) = draw_pending(false).await
    {
        return refused;
    }
    // What each request runs: a persisted document by ID, or text where text may run.
    let mut batch = batch;
    let mut admissions: Vec<crate::operations::gate::Admission> = vec![];
    {
        let requests: Vec<&mut Request> = match &mut batch {
            BatchRequest::Single(r) => vec![r],
            BatchRequest::Batch(rs) => rs.iter_mut().collect(),
        };
        for (i, r) in requests.into_iter().enumerate() {
            let id = sent.document_ids.get(i).cloned().flatten();
            match crate::operations::gate::admit(
                &app.operations,
                &app.db,
                &tenant,
                r,
                id.as_deref(),
            )
            .await
            {
                Ok(admission) => {
                    // Only queries may run over GET: a GET must never change anything.
                    if sent.get {
                        let name = r.operation_name.clone();
                        let kind = r.parsed_query().ok().and_then(|doc| {
                            crate::operations::runtime::operation_type(doc, name.as_deref())
                        });
                        if matches!(
                            kind,
                            Some(OperationType::Mutation | OperationType::Subscription)
                        ) {
                            let mut res = refuse(
                                media,
                                StatusCode::METHOD_NOT_ALLOWED,
                                "BAD_REQUEST",
                                "only queries may be sent with GET; use POST",
                                &rid,
                            );
                            res.headers_mut()
                                .insert(header::ALLOW, HeaderValue::from_static("POST"));
                            if let Some(refused) = draw_pending(true).await {
                                return refused;
                            }
                            slot.with(|l| set_rate_headers(&mut res, l));
                            return res;
                        }
                    }
                    admissions.push(admission);
                }
                Err(refusal) => {
                    if let Some(refused) = draw_pending(true).await {
                        return refused;
                    }
                    let mut res = refuse_persisted(media, refusal, &rid);
                    slot.with(|l| set_rate_headers(&mut res, l));
                    return res;
                }
            }
        }
    }
    let persisted_get = sent.get && admissions.iter().any(|a| a.published.is_some());
    // The texts of automatic persisted queries, kept once their requests pass.
    let registering: Vec<Option<(String, String)>> = {
        let requests: Vec<&Request> = match &batch {
            BatchRequest::Single(r) => vec![r],
            BatchRequest::Batch(rs) => rs.iter().collect(),
        };
        admissions
            .iter()
            .zip(requests)
            .map(|(a, r)| a.register.clone().map(|h| (h, r.query.clone())))
            .collect()
    };
    let client = ClientInfo {
        address: Some(peer.ip().to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let introspection = app.may_introspect(&tenant);
    let meta = RequestMeta {
        request_id: rid.clone(),
        introspection,
    };
    let prepare = |mut r: Request| {
        if !introspection {
            r = r.disable_introspection();
        }
        r = r
            .data(tenant.clone())
            .data(client.clone())
            .data(meta.clone())
            .data(app.limiter.clone())
            .data(slot.clone());
        if surface == Surface::Subgraph {
            r = r.data(crate::federation::entity_loader::<crate::schema::Modules>(
                app.db.clone(),
                tenant.clone(),
                client.clone(),
            ));
        }
        r
    };
    let schema = match surface {
        Surface::Api => &app.schema,
        Surface::Subgraph => &app.subgraph,
    };
    let names: Vec<String> = match &batch {
        BatchRequest::Single(r) => vec![app.operation_names.label(r.operation_name.as_deref())],
        BatchRequest::Batch(rs) => rs
            .iter()
            .map(|r| app.operation_names.label(r.operation_name.as_deref()))
            .collect(),
    };
    let (status, body, responses) = match batch {
        BatchRequest::Single(r) => {
            let mut resp = schema.execute(prepare(r)).await;
            stamp_request_id(&mut resp, &rid);
            let status = if media == MediaType::GraphQLResponse && is_request_error(&resp) {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            let body = serde_json::to_string(&Wire(&resp));
            (status, body, vec![resp])
        }
        BatchRequest::Batch(rs) => {
            let batch = BatchRequest::Batch(rs.into_iter().map(prepare).collect());
            let mut resp = schema.execute_batch(batch).await;
            match &mut resp {
                BatchResponse::Single(r) => stamp_request_id(r, &rid),
                BatchResponse::Batch(rs) => rs.iter_mut().for_each(|r| stamp_request_id(r, &rid)),
            }
            let body = match &resp {
                BatchResponse::Single(r) => serde_json::to_string(&Wire(r)),
                BatchResponse::Batch(rs) => {
                    serde_json::to_string(&rs.iter().map(Wire).collect::<Vec<_>>())
                }
            };
            let list = match resp {
                BatchResponse::Single(r) => vec![r],
                BatchResponse::Batch(rs) => rs,
            };
            (StatusCode::OK, body, list)
        }
    };
    // No document of the body was validated (none parsed, say): its requests are drawn
    // now, and a refusal answers instead.
    if let Some(refused) = draw_pending(true).await {
        return refused;
    }
    // Refused by a budget on validation: 429 when every request of the body was.
    let retry_after = responses
        .iter()
        .map(|r| {
            r.errors.iter().find_map(|e| {
                let ext = e.extensions.as_ref()?;
                // A cost budget's refusal: before execution, so no path (a throttled
                // log-in's RATE_LIMITED is its field's, and the answer stays 200).
                (e.path.is_empty()
                    && ext.get("code")? == &async_graphql::Value::from("RATE_LIMITED"))
                    .then(|| match ext.get("retryAfter") {
                        Some(async_graphql::Value::Number(n)) => n.as_u64().unwrap_or(1),
                        _ => 1,
                    })
            })
        })
        .collect::<Option<Vec<u64>>>()
        .and_then(|all| all.into_iter().max());
    let status = if unavailable(&responses) {
        StatusCode::SERVICE_UNAVAILABLE
    } else if retry_after.is_some() {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        status
    };
    record(&names, &responses, status, started);
    for ((admission, register), resp) in admissions.iter().zip(&registering).zip(&responses) {
        if let Some(hash) = &admission.published {
            app.operations.count(&tenant, hash, !resp.errors.is_empty());
        }
        if let Some((hash, text)) = register
            && !is_request_error(resp)
        {
            app.operations
                .apq_put(tenant.company_id(), hash, text)
                .await;
        }
    }
    // One line per request: the span around it carries the request id. Variables and
    // credentials are never logged (they hold passwords, tokens and patient data).
    tracing::info!(
        operation = %names.join(","),
        status = status.as_u16(),
        errors = responses.iter().map(|r| r.errors.len()).sum::<usize>(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "graphql"
    );
    match body {
        Ok(body) => {
            let mut res = (
                status,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(media.as_str()),
                )],
                body,
            )
                .into_response();
            if status == StatusCode::SERVICE_UNAVAILABLE {
                set_retry_after(&mut res);
            }
            if let Some(secs) = retry_after {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            slot.with(|l| set_rate_headers(&mut res, l));
            if persisted_get && status == StatusCode::OK {
                // A persisted query by GET is addressable, so caches may keep it: a shared
                // cache only what nobody signed in asked; one person's or key's answer only
                // in that client's own cache, checked again each time. Either way the
                // answer depends on the credentials.
                let control = if tenant.is_anonymous() {
                    "public, max-age=60"
                } else {
                    "private, no-cache"
                };
                let h = res.headers_mut();
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static(control));
                h.insert(
                    header::VARY,
                    HeaderValue::from_static("Accept, Authorization, X-Api-Key"),
                );
            }
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "response serialisation failed");
            refuse(
                media,
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "internal error",
                &rid,
            )
        }
    }
}

/// A response as it is written: one that failed before execution (a request error: the
/// document did not parse or validate) has no `data` entry at all, as the GraphQL
/// specification says ("If an error was raised before execution begins, the data entry
/// should not be present in the result") and GraphQL over HTTP repeats; async-graphql
/// would write `"data": null`. Any other response is written as async-graphql writes it.
struct Wire<'a>(&'a GqlResponse);

impl serde::Serialize for Wire<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let r = self.0;
        if !is_request_error(r) {
            return r.serialize(s);
        }
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("errors", &r.errors)?;
        if !r.extensions.is_empty() {
            map.serialize_entry("extensions", &r.extensions)?;
        }
        map.end()
    }
}

fn record(names: &[String], responses: &[GqlResponse], status: StatusCode, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    for (name, resp) in names.iter().zip(responses) {
        metrics::counter!("ils_graphql_requests_total", "operation" => name.clone(), "status" => status.as_u16().to_string()).increment(1);
        metrics::histogram!("ils_graphql_request_duration_seconds", "operation" => name.clone())
            .record(seconds);
        for e in &resp.errors {
            let code = error_code(e).unwrap_or("UNKNOWN").to_owned();
            metrics::counter!("ils_graphql_errors_total", "code" => code).increment(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn negotiation_follows_accept() {
        assert!(negotiate(&HeaderMap::new()) == Some(MediaType::Json));
        assert!(
            negotiate(&accept("application/graphql-response+json"))
                == Some(MediaType::GraphQLResponse)
        );
        assert!(
            negotiate(&accept(
                "application/graphql-response+json, application/json;q=0.9"
            )) == Some(MediaType::GraphQLResponse)
        );
        assert!(negotiate(&accept("application/json")) == Some(MediaType::Json));
        assert!(negotiate(&accept("*/*")) == Some(MediaType::Json));
        assert!(negotiate(&accept("text/html")).is_none());
    }
}
