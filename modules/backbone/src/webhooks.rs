//! Webhooks: company admins register endpoints for event types; every matching event that
//! the company may see becomes a delivery, POSTed with a signature
//! (`x-ils-signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`), retried with
//! exponential backoff (about a day in all by default), then dead-lettered. Only http(s);
//! in production loopback, private and link-local addresses are refused (at registration
//! and again when connecting, so DNS cannot be turned against us) unless allowed.

use crate::parts;
use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use ils_entity::{webhook_delivery, webhook_endpoint};
use ils_kernel::authz::require_role;
use ils_kernel::jobs::{JobError, JobKind, JobPayload, JobRun, NewJob, backoff_delay, handler};
use ils_kernel::pagination::PageArgs;
use ils_kernel::pagination::paginate;
use ils_kernel::{AppError, AppResult, Db, Role, TenantContext, Tx, id};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, IntoActiveModel, QueryFilter, QuerySelect};
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
            // HTTP(S)_PROXY must not route deliveries around the address checks.
            .no_proxy()
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
/// carrier-grade NAT, documentation, reserved, multicast or unspecified). IPv6 forms that
/// carry an IPv4 address (mapped, compatible, 6to4) are judged by that address; NAT64
/// prefixes and site-local addresses are refused outright.
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
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                // 240.0.0.0/4, reserved (the broadcast address included).
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                IpAddr::V4(std::net::Ipv4Addr::new(
                    (hi >> 8) as u8,
                    hi as u8,
                    (lo >> 8) as u8,
                    lo as u8,
                ))
            };
            // IPv4-compatible ::a.b.c.d (deprecated ::/96; :: and ::1 land here too).
            if seg[..6] == [0; 6] {
                return is_public(embedded(seg[6], seg[7]));
            }
            // 6to4, 2002:AABB:CCDD::/48 routes to the IPv4 address AA.BB.CC.DD.
            if seg[0] == 0x2002 {
                return is_public(embedded(seg[1], seg[2]));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // NAT64: 64:ff9b::/96 and 64:ff9b:1::/48 reach IPv4 through a translator.
                || seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
                || seg[..3] == [0x64, 0xff9b, 1]
                // Documentation, 2001:db8::/32.
                || (seg[0] == 0x2001 && seg[1] == 0x0db8)
                // Unique local fc00::/7, link-local fe80::/10, site-local fec0::/10.
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] & 0xffc0) == 0xfec0)
        }
    }
}

/// Whether a URL's host is refused without asking DNS: an IP literal that is not public,
/// or a name that only means this machine or its local network. Used at registration and
/// again at delivery (IP literals never reach the resolver that filters names).
fn host_refused(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Ipv4(ip) => !is_public(IpAddr::V4(*ip)),
        url::Host::Ipv6(ip) => !is_public(IpAddr::V6(*ip)),
        url::Host::Domain(d) => {
            let d = d.to_ascii_lowercase();
            let d = d.trim_end_matches('.');
            d == "localhost" || d.ends_with(".localhost") || d.ends_with(".local")
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
    let Some(host) = parsed.host() else {
        return Err(bad("the URL has no host"));
    };
    if !allow_private {
        let refused = || bad("loopback, private and link-local addresses are not allowed");
        if host_refused(&host) {
            return Err(refused());
        }
        if let url::Host::Domain(d) = host {
            // Resolvable names must resolve to public addresses now; the delivery client
            // checks again at every connection.
            if let Ok(addrs) = tokio::net::lookup_host((d.to_ascii_lowercase().as_str(), 0)).await
                && addrs.into_iter().any(|a| !is_public(a.ip()))
            {
                return Err(refused());
            }
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

/// The event types an endpoint subscribes to, checked like the `events` subscription's.
fn check_types(types: &[String]) -> AppResult<Vec<String>> {
    ils_kernel::events::check_patterns(types, "input.eventTypes")?;
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
            PageArgs::new(first, after, last, before),
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
            PageArgs::new(first, after, last, before),
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
        // Authorised before the URL is looked at: the check may ask DNS, which must not be
        // an oracle for callers who may not manage webhooks, and no transaction stays open
        // across the lookup.
        let tx = admin_tx(db, tenant).await?;
        tx.commit().await?;
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
        // Authorised before validating, as in `create_webhook_endpoint`.
        let tx = admin_tx(db, tenant).await?;
        tx.commit().await?;
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
        let endpoint = change_endpoint(ctx, &id, |am| {
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
        })
        .await?;
        Ok(endpoint.into())
    }

    /// Stops deliveries to an endpoint until it is enabled again.
    async fn disable_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookEndpoint> {
        Ok(change_endpoint(ctx, &id, |am| am.enabled = Set(false))
            .await?
            .into())
    }

    async fn enable_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookEndpoint> {
        Ok(change_endpoint(ctx, &id, |am| am.enabled = Set(true))
            .await?
            .into())
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
        let secret = new_secret();
        let endpoint = change_endpoint(ctx, &id, |am| am.secret = Set(secret.clone())).await?;
        Ok(WebhookEndpointWithSecret {
            endpoint: endpoint.into(),
            secret,
        })
    }

    /// Sends a DEAD or DELIVERED delivery again, with a fresh series of attempts (one that
    /// is PENDING or FAILED is still being tried and is refused).
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        delivery_id: ID,
    ) -> Result<WebhookDelivery> {
        let (tenant, db) = parts(ctx)?;
        let did = id::decode(DELIVERY, &delivery_id, "deliveryId")?;
        let max = settings(ctx)?.max_attempts;
        let tx = admin_tx(db, tenant).await?;
        // Checked and changed in one statement, so two redeliveries (or a redelivery and a
        // running series) cannot both start a series.
        let changed = tx
            .update_many::<webhook_delivery::Entity>(
                vec![
                    (webhook_delivery::Column::Status, Expr::value(PENDING)),
                    (webhook_delivery::Column::UpdatedAt, Expr::value(Utc::now())),
                ],
                sea_orm::Condition::all()
                    .add(webhook_delivery::Column::Id.eq(did))
                    .add(webhook_delivery::Column::Status.is_in([DEAD, DELIVERED])),
            )
            .await?;
        let delivery = tx.get::<webhook_delivery::Entity>(did).await?;
        if changed == 0 {
            return Err(AppError::bad_input(
                "deliveryId",
                format!(
                    "the delivery is {} and still being tried; only DEAD or DELIVERED deliveries can be redelivered",
                    delivery.status
                ),
            )
            .into());
        }
        tx.enqueue(deliver_job(did, &Uuid::now_v7().to_string(), max))
            .await?;
        tx.commit().await?;
        Ok(delivery.into())
    }
}

/// Loads an endpoint in a company admin's transaction, applies `change`, stamps
/// `updated_at` and saves it.
async fn change_endpoint(
    ctx: &Context<'_>,
    id: &ID,
    change: impl FnOnce(&mut webhook_endpoint::ActiveModel),
) -> AppResult<webhook_endpoint::Model> {
    let (tenant, db) = parts(ctx)?;
    let endpoint_id = id::decode(ENDPOINT, id, "id")?;
    let tx = admin_tx(db, tenant).await?;
    let mut am = tx
        .get::<webhook_endpoint::Entity>(endpoint_id)
        .await?
        .into_active_model();
    change(&mut am);
    am.updated_at = Set(Utc::now());
    let endpoint = tx.update(am).await?;
    tx.commit().await?;
    Ok(endpoint)
}

/// One delivery's attempts.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub struct Deliver {
    pub delivery_id: Uuid,
}

impl JobPayload for Deliver {
    const KIND: &'static str = DELIVER;
}

ils_kernel::empty_job_payload!(
    /// Prunes old deliveries.
    PruneDeliveries,
    PRUNE
);

fn deliver_job(delivery: Uuid, series: &str, max_attempts: i32) -> NewJob {
    NewJob::of(&Deliver {
        delivery_id: delivery,
    })
    .key(format!("{DELIVER}:{delivery}:{series}"))
    .max_attempts(max_attempts)
}

pub const PRUNE: &str = "webhook.prune";
/// How long the delivery log keeps a delivery.
pub const KEEP_DELIVERIES_DAYS: i64 = 30;

/// Deletes deliveries older than the retention, every company's: cross-tenant maintenance.
pub fn prune_kind() -> JobKind {
    JobKind::new(
        PRUNE,
        handler(|run: JobRun| async move {
            #[allow(clippy::disallowed_methods)]
            // a cross-tenant worker: retention of every company's log
            let tx = run.db.system().await?;
            let cutoff = Utc::now() - chrono::Duration::days(KEEP_DELIVERIES_DAYS);
            let deleted = tx
                .delete_many::<webhook_delivery::Entity>()
                .filter(webhook_delivery::Column::CreatedAt.lt(cutoff))
                .exec(tx.conn())
                .await
                .map_err(AppError::from)?
                .rows_affected;
            tx.commit().await?;
            tracing::info!(deleted, "pruned old webhook deliveries");
            Ok(())
        }),
    )
    .max_attempts(3)
}

pub fn prune_schedule() -> ils_kernel::jobs::Schedule {
    ils_kernel::jobs::Schedule {
        name: "webhook-deliveries",
        cron: "41 3 * * *",
        job: || NewJob::of(&PruneDeliveries {}),
    }
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
                #[allow(clippy::disallowed_methods)] // each company's own endpoints
                let ctx = ils_kernel::system::act_for(
                    &run.db,
                    *company,
                    "webhooks.fanout",
                    "deliver an event to the company's webhook endpoints",
                )
                .await?;
                let tx = run.db.tenant(&ctx).await?;
                let endpoints = tx
                    .select::<webhook_endpoint::Entity>()
                    .filter(webhook_endpoint::Column::Enabled.eq(true))
                    .all(tx.conn())
                    .await
                    .map_err(AppError::from)?;
                // The endpoints this event already reached (an earlier run of this job).
                let done: Vec<Uuid> = tx
                    .select::<webhook_delivery::Entity>()
                    .select_only()
                    .column(webhook_delivery::Column::EndpointId)
                    .filter(webhook_delivery::Column::EventId.eq(ev.id))
                    .into_tuple()
                    .all(tx.conn())
                    .await
                    .map_err(AppError::from)?;
                let now = Utc::now();
                for e in endpoints {
                    let types: Vec<String> =
                        serde_json::from_str(&e.event_types).unwrap_or_default();
                    if done.contains(&e.id) || !ev.matches(&types) {
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
            let did = run.payload::<Deliver>()?.delivery_id;
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
            // An IP literal never reaches the resolver that drops non-public addresses, so
            // it is checked here (again: the rules may have tightened since registration).
            if !settings.allow_private
                && let Ok(url) = reqwest::Url::parse(&endpoint.url)
                && url.host().is_some_and(|h| host_refused(&h))
            {
                let message = "the endpoint address is not public";
                record(&run, delivery, None, Some(message.into()), None, true).await?;
                return Err(JobError::permanent(message));
            }
            // The attempt is counted before the request leaves, so the log counts every
            // request a receiver may have seen, even one whose worker died mid-flight. One
            // SQL increment, so concurrent attempts (a redelivery overlapping a worker whose
            // lease ran out) are all counted.
            let tx = run.db.tenant(&tenant).await?;
            let counted = tx
                .update_many::<webhook_delivery::Entity>(
                    vec![
                        (
                            webhook_delivery::Column::Attempts,
                            sea_orm::sea_query::ExprTrait::add(
                                Expr::col(webhook_delivery::Column::Attempts),
                                1,
                            ),
                        ),
                        (webhook_delivery::Column::UpdatedAt, Expr::value(Utc::now())),
                    ],
                    webhook_delivery::Column::Id.eq(did),
                )
                .await?;
            if counted == 0 {
                // Deleted with its endpoint since it was read.
                return Ok(());
            }
            let delivery = tx.get::<webhook_delivery::Entity>(did).await?;
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
    // No `max_attempts` here: every delivery job is enqueued by `deliver_job`, which sets
    // it from `WebhookSettings::max_attempts`.
    .timeout(Duration::from_secs(120))
    // A last attempt that died without recording (its worker stopped, it timed out) still
    // leaves the delivery DEAD in the log, like its job.
    .on_dead(handler(|run: JobRun| async move {
        let did = run.payload::<Deliver>()?.delivery_id;
        let error = run.dead_error().unwrap_or("failed").to_owned();
        let tx = run.db.tenant(&run.tenant()).await?;
        tx.update_many::<webhook_delivery::Entity>(
            vec![
                (webhook_delivery::Column::Status, Expr::value(DEAD)),
                (webhook_delivery::Column::LastError, Expr::value(error)),
                (webhook_delivery::Column::UpdatedAt, Expr::value(Utc::now())),
            ],
            sea_orm::Condition::all()
                .add(webhook_delivery::Column::Id.eq(did))
                .add(webhook_delivery::Column::Status.ne(DELIVERED)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }))
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
            // Reserved IPv4: 192.0.0.0/24, 240.0.0.0/4 and the broadcast address.
            "192.0.0.1",
            "192.0.0.170",
            "240.0.0.1",
            "255.255.255.255",
            "198.51.100.7",
            // NAT64 (even of a public address: the translator may be ours).
            "64:ff9b::7f00:1",
            "64:ff9b::808:808",
            "64:ff9b:1::a00:1",
            "64:ff9b:1:ffff::1",
            // IPv4-compatible ::a.b.c.d, judged by the IPv4 address.
            "::7f00:1",
            "::a00:1",
            "::a9fe:a9fe",
            "::",
            // 6to4 of private addresses.
            "2002:7f00:1::1",
            "2002:a00:1::1",
            "2002:a9fe:a9fe::1",
            // Site-local and documentation.
            "fec0::1",
            "feff::1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:4700::1111",
            "8.8.8.8",
            "::ffff:8.8.8.8",
            "::808:808",
            "2002:808:808::1",
            "192.0.1.1",
            "223.255.255.254",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn hosts_are_refused_without_dns() {
        let host = |u: &str| {
            let url = reqwest::Url::parse(u).unwrap();
            host_refused(&url.host().unwrap())
        };
        for u in [
            "http://127.0.0.1/",
            "http://[::1]/",
            "http://[64:ff9b::a00:1]/",
            "http://[fec0::1]/",
            "http://240.1.2.3/",
            "http://0x7f000001/",
            "http://LocalHost./",
            "http://printer.local/",
        ] {
            assert!(host(u), "{u}");
        }
        for u in [
            "http://8.8.8.8/",
            "http://[2606:4700::1111]/",
            "http://example.com/",
        ] {
            assert!(!host(u), "{u}");
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
