//! Webhooks as company admins manage them: endpoints, the delivery log, redelivery.

use crate::model::WebhookDeliveryStatus;
use crate::parts;
use crate::service::webhooks::{DELIVERY, ENDPOINT, WebhookSettings, deliveries, endpoints};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_entity::{webhook_delivery, webhook_endpoint};
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::{AppError, AppResult, id};

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
            status: d.status,
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

impl From<(webhook_endpoint::Model, String)> for WebhookEndpointWithSecret {
    fn from((endpoint, secret): (webhook_endpoint::Model, String)) -> Self {
        WebhookEndpointWithSecret {
            endpoint: endpoint.into(),
            secret,
        }
    }
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
    ) -> Result<Page<WebhookEndpoint>> {
        let (tenant, db) = parts(ctx)?;
        Ok(endpoints::list(
            db,
            tenant,
            PageArgs::new(ctx, first, after, last, before),
            WebhookEndpoint::from,
        )
        .await?)
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
    ) -> Result<Page<WebhookDelivery>> {
        let (tenant, db) = parts(ctx)?;
        let filter = filter.unwrap_or_default();
        let endpoint_id = match &filter.endpoint_id {
            Some(e) => Some(id::decode(ENDPOINT, e, "filter.endpointId")?),
            None => None,
        };
        let filter = deliveries::Filter {
            endpoint_id,
            status: filter.status,
            event_type: filter.event_type,
        };
        let page = PageArgs::new(ctx, first, after, last, before);
        Ok(deliveries::list(db, tenant, filter, page, WebhookDelivery::from).await?)
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
        let new = endpoints::NewEndpoint {
            url: input.url,
            event_types: input.event_types,
            description: input.description,
        };
        Ok(endpoints::create(db, tenant, settings(ctx)?, new)
            .await?
            .into())
    }

    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateWebhookEndpointInput,
    ) -> Result<WebhookEndpoint> {
        let (tenant, db) = parts(ctx)?;
        let change = endpoints::EndpointChange {
            url: input.url,
            event_types: input.event_types,
            description: input.description,
            enabled: input.enabled,
        };
        // The caller is authorised and the fields checked before the ID is read.
        let change = endpoints::check_change(db, tenant, settings(ctx)?, change).await?;
        let endpoint_id = id::decode(ENDPOINT, &id, "id")?;
        Ok(endpoints::update(db, tenant, endpoint_id, change)
            .await?
            .into())
    }

    /// Stops deliveries to an endpoint until it is enabled again.
    async fn disable_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookEndpoint> {
        let (tenant, db) = parts(ctx)?;
        let endpoint_id = id::decode(ENDPOINT, &id, "id")?;
        Ok(endpoints::set_enabled(db, tenant, endpoint_id, false)
            .await?
            .into())
    }

    async fn enable_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookEndpoint> {
        let (tenant, db) = parts(ctx)?;
        let endpoint_id = id::decode(ENDPOINT, &id, "id")?;
        Ok(endpoints::set_enabled(db, tenant, endpoint_id, true)
            .await?
            .into())
    }

    /// Deletes an endpoint and its delivery log; returns its ID.
    async fn delete_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let (tenant, db) = parts(ctx)?;
        let endpoint_id = id::decode(ENDPOINT, &id, "id")?;
        endpoints::delete(db, tenant, endpoint_id).await?;
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
        Ok(endpoints::rotate_secret(db, tenant, endpoint_id)
            .await?
            .into())
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
        Ok(deliveries::redeliver(db, tenant, did, max).await?.into())
    }
}
