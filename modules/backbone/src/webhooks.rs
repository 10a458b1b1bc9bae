//! Webhooks: company admins register endpoints for event types; every matching event that
//! the company may see becomes a delivery, POSTed with a signature
//! (`x-ils-signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`), retried with
//! exponential backoff (about a day in all by default), then dead-lettered. Only http(s);
//! in production loopback, private and link-local addresses are refused (at registration
//! and again when connecting, so DNS cannot be turned against us) unless allowed.

use crate::{page, parts};
use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use ils_entity::{webhook_delivery, webhook_endpoint};
use ils_kernel::authz::require_role;
use ils_kernel::events::type_matches;
use ils_kernel::jobs::{JobError, JobKind, JobRun, NewJob, backoff_delay, handler};
use ils_kernel::pagination::paginate;
use ils_kernel::{AppError, AppResult, Db, Role, TenantContext, Tx, id};
use rand::RngCore;
use sea_orm::{ActiveValue::Set, ColumnTrait, IntoActiveModel, QueryFilter};
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

pub const ENDPOINT: &str = "WebhookEndpoint";
pub const DELIVERY: &str = "WebhookDelivery";
pub const FANOUT: &str = "webhook.fanout";
pub const DELIVER: &str = "webhook.deliver";

pub const PENDING: &str = "PENDING";
pub const DELIVERED: &str = "DELIVERED";
pub const FAILED: &str = "FAILED";
pub const DEAD: &str = "DEAD";

/// How deliveries are made; shared by the GraphQL layer (URL checks) and the jobs.
#[derive(Clone)]
pub struct WebhookSettings {
    pub client: reqwest::Client,
    pub max_attempts: i32,
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Loopback, private and link-local targets allowed (development, tests).
    pub allow_private: bool,
}

impl WebhookSettings {
    pub fn new(
        timeout: Duration,
        max_attempts: i32,
        retry_base: Duration,
        retry_max: Duration,
        allow_private: bool,
    ) -> Result<WebhookSettings, String> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("ILS-Webhooks/1");
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(WebhookSettings {
            client: builder
                .build()
                .map_err(|e| format!("webhook client: {e}"))?,
            max_attempts: max_attempts.max(1),
            retry_base,
            retry_max,
            allow_private,
        })
    }
}

/// Whether an address is on the public internet (not loopback, private, link-local,
/// carrier-grade NAT, documentation, multicast or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// A DNS resolver that drops non-public addresses, so a public name that resolves to a
/// private address (DNS rebinding) cannot be reached.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            let iter: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(iter)
        })
    }
}

/// Checks a receiver URL: http(s) with a host, and (unless allowed) not a loopback,
/// private or link-local address.
pub async fn check_url(url: &str, allow_private: bool) -> AppResult<String> {
    let bad = |m: &str| AppError::bad_input("input.url", m);
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| bad("not a valid URL"))?;
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        return Err(bad("only http and https URLs are allowed"));
    }
    if url.len() > 2000 {
        return Err(bad("at most 2000 characters"));
    }
    let host = match parsed.host() {
        Some(h) => h.to_owned(),
        None => return Err(bad("the URL has no host")),
    };
    if !allow_private {
        let refused = || bad("loopback, private and link-local addresses are not allowed");
        match host {
            url::Host::Ipv4(ip) if !is_public(IpAddr::V4(ip)) => return Err(refused()),
            url::Host::Ipv6(ip) if !is_public(IpAddr::V6(ip)) => return Err(refused()),
            url::Host::Domain(d) => {
                let d = d.to_ascii_lowercase();
                if d == "localhost" || d.ends_with(".localhost") || d.ends_with(".local") {
                    return Err(refused());
                }
                // Resolvable names must resolve to public addresses now; the delivery
                // client checks again at every connection.
                if let Ok(addrs) = tokio::net::lookup_host((d.as_str(), 0)).await
                    && addrs.into_iter().any(|a| !is_public(a.ip()))
                {
                    return Err(refused());
                }
            }
            _ => {}
        }
    }
    Ok(parsed.to_string())
}

/// `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

fn check_types(types: &[String]) -> AppResult<Vec<String>> {
    if types.is_empty() {
        return Err(AppError::bad_input(
            "input.eventTypes",
            "name at least one event type (or \"*\")",
        ));
    }
    if types.len() > 50 {
        return Err(AppError::bad_input(
            "input.eventTypes",
            "at most 50 event types",
        ));
    }
    for t in types {
        let ok = !t.is_empty()
            && t.len() <= 100
            && t.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._*".contains(c))
            && (!t.contains('*') || t == "*" || (t.ends_with(".*") && t.matches('*').count() == 1));
        if !ok {
            return Err(AppError::bad_input(
                "input.eventTypes",
                format!("{t:?} is not an event type, a prefix such as \"order.*\", or \"*\""),
            ));
        }
    }
    Ok(types.to_vec())
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum WebhookDeliveryStatus {
    /// Waiting for its first attempt.
    Pending,
    Delivered,
    /// The last attempt failed; it will be retried.
    Failed,
    /// Every attempt failed; `redeliverWebhook` sends it again.
    Dead,
}

impl WebhookDeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            WebhookDeliveryStatus::Pending => PENDING,
            WebhookDeliveryStatus::Delivered => DELIVERED,
            WebhookDeliveryStatus::Failed => FAILED,
            WebhookDeliveryStatus::Dead => DEAD,
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            DELIVERED => WebhookDeliveryStatus::Delivered,
            FAILED => WebhookDeliveryStatus::Failed,
            DEAD => WebhookDeliveryStatus::Dead,
            _ => WebhookDeliveryStatus::Pending,
        }
    }
}

#[derive(SimpleObject)]
pub struct WebhookEndpoint {
    pub id: ID,
    pub url: String,
    pub description: String,
    /// Event types it receives: exact types, `prefix.*` or `*`.
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<webhook_endpoint::Model> for WebhookEndpoint {
    fn from(e: webhook_endpoint::Model) -> Self {
        WebhookEndpoint {
            id: id::encode(ENDPOINT, e.id),
            url: e.url,
            description: e.description,
            event_types: serde_json::from_str(&e.event_types).unwrap_or_default(),
            enabled: e.enabled,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

#[derive(SimpleObject)]
pub struct WebhookDelivery {
    pub id: ID,
    pub endpoint_id: ID,
    pub event_id: String,
    pub event_type: String,
    pub status: WebhookDeliveryStatus,
    /// HTTP attempts so far, redeliveries included.
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub last_latency_ms: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<webhook_delivery::Model> for WebhookDelivery {
    fn from(d: webhook_delivery::Model) -> Self {
        WebhookDelivery {
            id: id::encode(DELIVERY, d.id),
            endpoint_id: id::encode(ENDPOINT, d.endpoint_id),
            event_id: d.event_id.to_string(),
            event_type: d.event_type,
            status: WebhookDeliveryStatus::parse(&d.status),
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            last_latency_ms: d.last_latency_ms,
            created_at: d.created_at,
            updated_at: d.updated_at,
            delivered_at: d.delivered_at,
        }
    }
}

#[derive(SimpleObject)]
pub struct WebhookEndpointWithSecret {
    pub endpoint: WebhookEndpoint,
    /// The signing secret: shown this once.
    pub secret: String,
}

#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
}

/// Fields to change; omitted ones stay.
#[derive(InputObject)]
pub struct UpdateWebhookEndpointInput {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

#[derive(InputObject, Default)]
pub struct WebhookDeliveryFilter {
    pub endpoint_id: Option<ID>,
    pub status: Option<WebhookDeliveryStatus>,
    pub event_type: Option<String>,
}

fn settings<'a>(ctx: &Context<'a>) -> AppResult<&'a WebhookSettings> {
    ctx.data::<WebhookSettings>()
        .map_err(|_| AppError::internal("no webhook settings"))
}

/// A company admin's transaction.
async fn admin_tx(db: &Db, tenant: &TenantContext) -> AppResult<Tx> {
    let tx = db.tenant(tenant).await?;
    require_role(&tx, tenant, Role::CompanyAdmin).await?;
    Ok(tx)
}

#[derive(Default)]
pub struct WebhooksQuery;

#[Object]
impl WebhooksQuery {
    /// Your company's webhook endpoints.
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, WebhookEndpoint>> {
        let (tenant, db) = parts(ctx)?;
        let tx = admin_tx(db, tenant).await?;
        let conn = paginate(
            tx.conn(),
            tx.select::<webhook_endpoint::Entity>(),
            webhook_endpoint::Column::Id,
            page(first, after, last, before),
            |e| e.id,
            WebhookEndpoint::from,
        )
        .await?;
        tx.commit().await?;
        Ok(conn)
    }

    /// Deliveries to your endpoints, oldest first (`last: N` for the newest).
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        filter: Option<WebhookDeliveryFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, WebhookDelivery>> {
        let (tenant, db) = parts(ctx)?;
        let filter = filter.unwrap_or_default();
        let endpoint = match &filter.endpoint_id {
            Some(e) => Some(id::decode(ENDPOINT, e, "filter.endpointId")?),
            None => None,
        };
        let tx = admin_tx(db, tenant).await?;
        let mut select = tx.select::<webhook_delivery::Entity>();
        if let Some(e) = endpoint {
            select = select.filter(webhook_delivery::Column::EndpointId.eq(e));
        }
        if let Some(s) = filter.status {
            select = select.filter(webhook_delivery::Column::Status.eq(s.as_str()));
        }
        if let Some(t) = filter.event_type {
            select = select.filter(webhook_delivery::Column::EventType.eq(t));
        }
        let conn = paginate(
            tx.conn(),
            select,
            webhook_delivery::Column::Id,
            page(first, after, last, before),
            |d| d.id,
            WebhookDelivery::from,
        )
        .await?;
        tx.commit().await?;
        Ok(conn)
    }
}

#[derive(Default)]
pub struct WebhooksMutation;

#[Object]
impl WebhooksMutation {
    /// Registers a receiver for event types; the signing secret is shown once.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookEndpointInput,
    ) -> Result<WebhookEndpointWithSecret> {
        let (tenant, db) = parts(ctx)?;
        let url = check_url(&input.url, settings(ctx)?.allow_private).await?;
        let types = check_types(&input.event_types)?;
        let description = input.description.unwrap_or_default();
        if description.chars().count() > 500 {
            return Err(AppError::bad_input("input.description", "at most 500 characters").into());
        }
        let secret = new_secret();
        let now = Utc::now();
        let tx = admin_tx(db, tenant).await?;
        let endpoint = tx
            .insert(webhook_endpoint::ActiveModel {
                id: Set(Uuid::now_v7()),
                company_id: sea_orm::ActiveValue::NotSet,
                url: Set(url),
                description: Set(description),
                event_types: Set(serde_json::to_string(&types).unwrap_or_default()),
                secret: Set(secret.clone()),
                enabled: Set(true),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .await?;
        tx.commit().await?;
        Ok(WebhookEndpointWithSecret {
            endpoint: endpoint.into(),
            secret,
        })
    }

    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateWebhookEndpointInput,
    ) -> Result<WebhookEndpoint> {
        let (tenant, db) = parts(ctx)?;
        let endpoint_id = id::decode(ENDPOINT, &id, "id")?;
        let url = match &input.url {
            Some(u) => Some(check_url(u, settings(ctx)?.allow_private).await?),
            None => None,
        };
        let types = input.event_types.as_deref().map(check_types).transpose()?;
        if let Some(d) = &input.description
            && d.chars().count() > 500
        {
            return Err(AppError::bad_input("input.description", "at most 500 characters").into());
        }
        let tx = admin_tx(db, tenant).await?;
        let mut am = tx
            .get::<webhook_endpoint::Entity>(endpoint_id)
            .await?
            .into_active_model();
        if let Some(u) = url {
            am.url = Set(u);
        }
        if let Some(t) = types {
            am.event_types = Set(serde_json::to_string(&t).unwrap_or_default());
        }
        if let Some(d) = input.description {
            am.description = Set(d);
        }
        if let Some(e) = input.enabled {
            am.enabled = Set(e);
        }
        am.updated_at = Set(Utc::now());
        let endpoint = tx.update(am).await?;
        tx.commit().await?;
        Ok(endpoint.into())
    }

    /// Stops deliveries to an endpoint until it is enabled again.
    async fn disable_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookEndpoint> {
        set_enabled(ctx, id, false).await
    }

    async fn enable_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookEndpoint> {
        set_enabled(ctx, id, true).await
    }

    /// Deletes an endpoint and its delivery log; returns its ID.
    async fn delete_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let (tenant, db) = parts(ctx)?;
        let endpoint_id = id::decode(ENDPOINT, &id, "id")?;
        let tx = admin_tx(db, tenant).await?;
        tx.get::<webhook_endpoint::Entity>(endpoint_id).await?;
        tx.delete_many::<webhook_delivery::Entity>()
            .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id))
            .exec(tx.conn())
            .await
            .map_err(AppError::from)?;
        tx.delete_many::<webhook_endpoint::Entity>()
            .filter(webhook_endpoint::Column::Id.eq(endpoint_id))
            .exec(tx.conn())
            .await
            .map_err(AppError::from)?;
        tx.commit().await?;
        Ok(id)
    }

    /// Replaces the signing secret; the new one is shown once and signs every later attempt.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<WebhookEndpointWithSecret> {
        let (tenant, db) = parts(ctx)?;
        let endpoint_id = id::decode(ENDPOINT, &id, "id")?;
        let tx = admin_tx(db, tenant).await?;
        let mut am = tx
            .get::<webhook_endpoint::Entity>(endpoint_id)
            .await?
            .into_active_model();
        let secret = new_secret();
        am.secret = Set(secret.clone());
        am.updated_at = Set(Utc::now());
        let endpoint = tx.update(am).await?;
        tx.commit().await?;
        Ok(WebhookEndpointWithSecret {
            endpoint: endpoint.into(),
            secret,
        })
    }

    /// Sends a delivery again, with a fresh series of attempts.
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        delivery_id: ID,
    ) -> Result<WebhookDelivery> {
        let (tenant, db) = parts(ctx)?;
        let did = id::decode(DELIVERY, &delivery_id, "deliveryId")?;
        let max = settings(ctx)?.max_attempts;
        let tx = admin_tx(db, tenant).await?;
        let mut am = tx
            .get::<webhook_delivery::Entity>(did)
            .await?
            .into_active_model();
        am.status = Set(PENDING.into());
        am.updated_at = Set(Utc::now());
        let delivery = tx.update(am).await?;
        tx.enqueue(deliver_job(did, &Uuid::now_v7().to_string(), max))
            .await?;
        tx.commit().await?;
        Ok(delivery.into())
    }
}

async fn set_enabled(ctx: &Context<'_>, id: ID, enabled: bool) -> Result<WebhookEndpoint> {
    let (tenant, db) = parts(ctx)?;
    let endpoint_id = id::decode(ENDPOINT, &id, "id")?;
    let tx = admin_tx(db, tenant).await?;
    let mut am = tx
        .get::<webhook_endpoint::Entity>(endpoint_id)
        .await?
        .into_active_model();
    am.enabled = Set(enabled);
    am.updated_at = Set(Utc::now());
    let endpoint = tx.update(am).await?;
    tx.commit().await?;
    Ok(endpoint.into())
}

fn deliver_job(delivery: Uuid, series: &str, max_attempts: i32) -> NewJob {
    NewJob::new(DELIVER, serde_json::json!({ "deliveryId": delivery }))
        .key(format!("{DELIVER}:{delivery}:{series}"))
        .max_attempts(max_attempts)
}

/// Turns each event into one delivery per matching enabled endpoint of each company that
/// may see it (idempotent: a second run for the same event adds nothing).
pub fn fanout_kind() -> JobKind {
    JobKind::new(
        FANOUT,
        handler(|run: JobRun| async move {
            let ev = run.event()?;
            let max = run.resources.need::<WebhookSettings>()?.max_attempts;
            let body = serde_json::json!({
                "id": ev.id,
                "type": ev.event_type,
                "occurredAt": ev.occurred_at,
                "data": ev.data,
            })
            .to_string();
            for company in &ev.audience {
                let tx = run
                    .db
                    .tenant(&TenantContext::system_for(Some(*company)))
                    .await?;
                let endpoints = tx
                    .select::<webhook_endpoint::Entity>()
                    .filter(webhook_endpoint::Column::Enabled.eq(true))
                    .all(tx.conn())
                    .await
                    .map_err(AppError::from)?;
                let done: Vec<Uuid> = tx
                    .select::<webhook_delivery::Entity>()
                    .filter(webhook_delivery::Column::EventId.eq(ev.id))
                    .all(tx.conn())
                    .await
                    .map_err(AppError::from)?
                    .into_iter()
                    .map(|d| d.endpoint_id)
                    .collect();
                let now = Utc::now();
                for e in endpoints {
                    let types: Vec<String> =
                        serde_json::from_str(&e.event_types).unwrap_or_default();
                    if done.contains(&e.id)
                        || !types.iter().any(|t| type_matches(t, &ev.event_type))
                    {
                        continue;
                    }
                    let delivery = tx
                        .insert(webhook_delivery::ActiveModel {
                            id: Set(Uuid::now_v7()),
                            company_id: sea_orm::ActiveValue::NotSet,
                            endpoint_id: Set(e.id),
                            event_id: Set(ev.id),
                            event_type: Set(ev.event_type.clone()),
                            body: Set(body.clone()),
                            status: Set(PENDING.into()),
                            attempts: Set(0),
                            last_status_code: Set(None),
                            last_error: Set(None),
                            last_latency_ms: Set(None),
                            created_at: Set(now),
                            updated_at: Set(now),
                            delivered_at: Set(None),
                        })
                        .await?;
                    tx.enqueue(deliver_job(delivery.id, "0", max)).await?;
                }
                tx.commit().await?;
            }
            Ok(())
        }),
    )
    .on_events(&["*"])
    .max_attempts(10)
}

/// One HTTP attempt of one delivery.
pub fn deliver_kind() -> JobKind {
    JobKind::new(
        DELIVER,
        handler(|run: JobRun| async move {
            let settings = run.resources.need::<WebhookSettings>()?.clone();
            let did: Uuid = run
                .payload
                .get("deliveryId")
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| JobError::permanent("no deliveryId"))?;
            let tenant = run.tenant();
            // Read, then let go of the database while the receiver answers.
            let tx = run.db.tenant(&tenant).await?;
            let delivery = match tx.get::<webhook_delivery::Entity>(did).await {
                Ok(d) => d,
                // The endpoint was deleted, and its deliveries with it.
                Err(AppError::NotFound) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            let endpoint = match tx
                .get::<webhook_endpoint::Entity>(delivery.endpoint_id)
                .await
            {
                Ok(e) => e,
                Err(AppError::NotFound) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            tx.commit().await?;
            if !endpoint.enabled {
                record(
                    &run,
                    delivery,
                    None,
                    Some("the endpoint is disabled".into()),
                    None,
                    true,
                )
                .await?;
                return Err(JobError::permanent("the endpoint is disabled"));
            }
            // The attempt is counted before the request leaves, so the log counts every
            // request a receiver may have seen, even one whose worker died mid-flight.
            let tx = run.db.tenant(&tenant).await?;
            let mut counted = delivery.clone().into_active_model();
            counted.attempts = Set(delivery.attempts + 1);
            counted.updated_at = Set(Utc::now());
            let delivery = tx.update(counted).await?;
            tx.commit().await?;
            let t = Utc::now().timestamp();
            let started = Instant::now();
            let sent = settings
                .client
                .post(&endpoint.url)
                .header("content-type", "application/json")
                .header("x-ils-event-id", delivery.event_id.to_string())
                .header("x-ils-event-type", &delivery.event_type)
                .header("x-ils-delivery-id", id::encode(DELIVERY, delivery.id).0)
                .header("x-ils-timestamp", t.to_string())
                .header(
                    "x-ils-signature",
                    signature(&endpoint.secret, t, &delivery.body),
                )
                .body(delivery.body.clone())
                .send()
                .await;
            let latency = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
            let (code, error) = match sent {
                Ok(resp) if resp.status().is_success() => {
                    (Some(resp.status().as_u16() as i32), None)
                }
                Ok(resp) => (
                    Some(resp.status().as_u16() as i32),
                    Some(format!(
                        "the receiver answered HTTP {}",
                        resp.status().as_u16()
                    )),
                ),
                Err(e) if e.is_timeout() => {
                    (None, Some("the receiver did not answer in time".into()))
                }
                Err(e) => (
                    None,
                    Some(format!("could not reach the receiver: {}", error_chain(&e))),
                ),
            };
            let last = run.is_last_attempt();
            record(&run, delivery, code, error.clone(), Some(latency), last).await?;
            match error {
                None => Ok(()),
                Some(message) => Err(JobError {
                    message,
                    retry_after: Some(backoff_delay(
                        settings.retry_base,
                        settings.retry_max,
                        run.attempt,
                    )),
                    permanent: false,
                }),
            }
        }),
    )
    .max_attempts(14)
    .timeout(Duration::from_secs(120))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Writes an attempt's outcome to the delivery log (the attempt itself was counted when it
/// started).
async fn record(
    run: &JobRun,
    delivery: webhook_delivery::Model,
    code: Option<i32>,
    error: Option<String>,
    latency: Option<i32>,
    last_attempt: bool,
) -> Result<(), JobError> {
    let tx = run.db.tenant(&run.tenant()).await?;
    let now = Utc::now();
    let mut am = delivery.into_active_model();
    am.last_status_code = Set(code);
    am.last_latency_ms = Set(latency);
    am.updated_at = Set(now);
    match &error {
        None => {
            am.status = Set(DELIVERED.into());
            am.delivered_at = Set(Some(now));
            am.last_error = Set(None);
        }
        Some(e) => {
            am.status = Set(if last_attempt { DEAD } else { FAILED }.into());
            am.last_error = Set(Some(e.clone()));
        }
    }
    tx.update(am).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_timestamp_dot_body() {
        // Reference value computed independently:
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        let s = signature("whsec_test", 1_700_000_000, r#"{"a":1}"#);
        assert_eq!(
            s,
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn private_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "8.8.8.8"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn urls_are_checked() {
        assert!(check_url("ftp://example.com/x", true).await.is_err());
        assert!(check_url("not a url", true).await.is_err());
        assert!(check_url("http://127.0.0.1:9/x", true).await.is_ok());
        for u in [
            "http://127.0.0.1:9/x",
            "http://10.0.0.1/",
            "http://[::1]/",
            "http://localhost/",
            "http://169.254.169.254/",
        ] {
            let e = check_url(u, false).await.unwrap_err();
            assert_eq!(e.code(), "BAD_USER_INPUT", "{u}");
        }
    }

    #[test]
    fn event_type_patterns_are_checked() {
        assert!(check_types(&["*".into(), "order.*".into(), "api_key.created".into()]).is_ok());
        for bad in ["", "Order", "a*b", "**", "order.*.x"] {
            assert!(check_types(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(check_types(&[]).is_err());
    }
}
