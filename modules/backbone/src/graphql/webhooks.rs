//! Webhooks as company admins manage them: endpoints, the delivery log, redelivery.

use crate::model::WebhookDeliveryStatus;
use crate::parts;
use crate::service::webhooks::deliveries::Delivery;
use crate::service::webhooks::{DELIVERY, ENDPOINT, WebhookSettings, deliveries, endpoints};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_entity::webhook_endpoint;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::{AppError, AppResult, id};

/// A URL of yours that ILS POSTs your company's events to, signed with the endpoint's
/// secret (header `x-ils-signature`). Company admins only.
#[derive(SimpleObject)]
pub struct WebhookEndpoint {
    /// The endpoint's global ID.
    pub id: ID,
    /// Where events are POSTed: an http(s) URL (in production a public address).
    pub url: String,
    /// Your note on what the endpoint is for; empty when none was given.
    pub description: String,
    /// Event types it receives: exact types, `prefix.*` or `*`.
    pub event_types: Vec<String>,
    /// Whether events are delivered to it; a disabled endpoint gets nothing until it is
    /// enabled again.
    pub enabled: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed (settings, enabled, secret).
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

/// A delivery, with its endpoint (the GraphQL description is on the `Object` impl).
pub struct WebhookDelivery(pub Delivery);

impl AsMut<Delivery> for WebhookDelivery {
    fn as_mut(&mut self) -> &mut Delivery {
        &mut self.0
    }
}

/// One event sent (or being sent) to one endpoint, with the outcome of its last attempt.
/// Kept 30 days. Company admins only.
#[Object]
impl WebhookDelivery {
    /// The delivery's global ID; also sent in the `x-ils-delivery-id` header.
    async fn id(&self) -> ID {
        id::encode(DELIVERY, self.0.row.id)
    }

    /// The endpoint it is sent to.
    async fn endpoint(&self) -> Result<WebhookEndpoint> {
        let endpoint = self.0.endpoint.clone().ok_or_else(|| {
            AppError::internal(format!("delivery {} has no endpoint", self.0.row.id))
        })?;
        Ok(endpoint.into())
    }

    /// The event's id (the body's `id`): the same for every endpoint and redelivery of
    /// one event, so receivers de-duplicate on it.
    async fn event_id(&self) -> String {
        self.0.row.event_id.to_string()
    }

    /// The event's type, such as `order.submitted`.
    async fn event_type(&self) -> &str {
        &self.0.row.event_type
    }

    /// Where the delivery is: PENDING, DELIVERED, FAILED (will be retried) or DEAD.
    async fn status(&self) -> WebhookDeliveryStatus {
        self.0.row.status
    }

    /// HTTP attempts so far, redeliveries included.
    async fn attempts(&self) -> i32 {
        self.0.row.attempts
    }

    /// The HTTP status your endpoint answered the last attempt with; null before the
    /// first attempt and when it did not answer (see `lastError`).
    async fn last_status_code(&self) -> Option<i32> {
        self.0.row.last_status_code
    }

    /// Why the last attempt failed (an error status, a timeout, a refused address); null
    /// when it succeeded or none was made yet.
    async fn last_error(&self) -> Option<&str> {
        self.0.row.last_error.as_deref()
    }

    /// How long the last attempt took, in milliseconds; null before the first attempt and
    /// when no request went out.
    async fn last_latency_ms(&self) -> Option<i32> {
        self.0.row.last_latency_ms
    }

    /// When the event was queued for this endpoint.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.row.created_at
    }

    /// When the delivery last changed (an attempt, a redelivery).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.row.updated_at
    }

    /// When your endpoint last accepted it (a 2xx answer); null until then.
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.delivered_at
    }
}

/// A receiver to register.
#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    /// Where to POST the events: an http(s) URL of at most 2,000 characters; in
    /// production loopback, private and link-local addresses are refused.
    pub url: String,
    /// Event types to receive, 1 to 50: exact types (`order.submitted`), families
    /// (`order.*`) or everything (`*`).
    pub event_types: Vec<String>,
    /// A note on what the endpoint is for, at most 500 characters.
    pub description: Option<String>,
}

/// The endpoint registered, and its signing secret.
#[derive(SimpleObject)]
pub struct CreateWebhookEndpointPayload {
    /// The new endpoint, enabled.
    pub webhook_endpoint: WebhookEndpoint,
    /// The signing secret (`whsec_…`): shown this once. Keep it to verify the
    /// `x-ils-signature` header of every delivery.
    pub secret: String,
}

/// The endpoint to change and the fields to change; omitted fields stay.
#[derive(InputObject)]
pub struct UpdateWebhookEndpointInput {
    /// The endpoint's global ID.
    pub id: ID,
    /// A new URL, checked as when registering.
    pub url: Option<String>,
    /// New event types (they replace the old ones), 1 to 50: exact types, `prefix.*` or
    /// `*`.
    pub event_types: Option<Vec<String>>,
    /// A new note, at most 500 characters.
    pub description: Option<String>,
    /// Whether events are delivered to it.
    pub enabled: Option<bool>,
}

/// The endpoint changed.
#[derive(SimpleObject)]
pub struct UpdateWebhookEndpointPayload {
    /// The endpoint as it is now.
    pub webhook_endpoint: WebhookEndpoint,
}

/// The endpoint to enable.
#[derive(InputObject)]
pub struct EnableWebhookEndpointInput {
    /// The endpoint's global ID.
    pub id: ID,
}

/// The endpoint enabled.
#[derive(SimpleObject)]
pub struct EnableWebhookEndpointPayload {
    /// The endpoint, enabled.
    pub webhook_endpoint: WebhookEndpoint,
}

/// The endpoint to disable.
#[derive(InputObject)]
pub struct DisableWebhookEndpointInput {
    /// The endpoint's global ID.
    pub id: ID,
}

/// The endpoint disabled.
#[derive(SimpleObject)]
pub struct DisableWebhookEndpointPayload {
    /// The endpoint, disabled.
    pub webhook_endpoint: WebhookEndpoint,
}

/// The endpoint to delete.
#[derive(InputObject)]
pub struct DeleteWebhookEndpointInput {
    /// The endpoint's global ID.
    pub id: ID,
}

/// What was deleted.
#[derive(SimpleObject)]
pub struct DeleteWebhookEndpointPayload {
    /// The global ID of the deleted endpoint.
    pub deleted_id: ID,
}

/// The endpoint whose secret to replace.
#[derive(InputObject)]
pub struct RotateWebhookSecretInput {
    /// The endpoint's global ID.
    pub id: ID,
}

/// The endpoint and its new signing secret.
#[derive(SimpleObject)]
pub struct RotateWebhookSecretPayload {
    /// The endpoint.
    pub webhook_endpoint: WebhookEndpoint,
    /// The new signing secret (`whsec_…`): shown this once; it signs every later attempt,
    /// and the old one no longer does.
    pub secret: String,
}

/// The delivery to send again.
#[derive(InputObject)]
pub struct RedeliverWebhookInput {
    /// The global ID of a DEAD or DELIVERED delivery.
    pub delivery_id: ID,
}

/// The delivery, being sent again.
#[derive(SimpleObject)]
pub struct RedeliverWebhookPayload {
    /// The delivery, PENDING again.
    pub webhook_delivery: WebhookDelivery,
}

/// Which deliveries `webhookDeliveries` lists; every field given narrows the list.
#[derive(InputObject, Default)]
pub struct WebhookDeliveryFilter {
    /// Only deliveries to this endpoint (its global ID).
    pub endpoint_id: Option<ID>,
    /// Only deliveries with this status.
    pub status: Option<WebhookDeliveryStatus>,
    /// Only deliveries of this exact event type, such as `order.submitted`.
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
    /// Your company's webhook endpoints, oldest first. Company admins only.
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

    /// Deliveries to your endpoints, oldest first (`last: N` for the newest). Company
    /// admins only.
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which deliveries: every field given narrows the list.")] filter: Option<
            WebhookDeliveryFilter,
        >,
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
        Ok(deliveries::list(db, tenant, filter, page, WebhookDelivery).await?)
    }
}

#[derive(Default)]
pub struct WebhooksMutation;

#[Object]
impl WebhooksMutation {
    /// Registers a receiver for event types; the signing secret is shown once. Company
    /// admins only.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The URL and the event types to send to it.")]
        input: CreateWebhookEndpointInput,
    ) -> Result<CreateWebhookEndpointPayload> {
        let (tenant, db) = parts(ctx)?;
        let new = endpoints::NewEndpoint {
            url: input.url,
            event_types: input.event_types,
            description: input.description,
        };
        let (endpoint, secret) = endpoints::create(db, tenant, settings(ctx)?, new).await?;
        Ok(CreateWebhookEndpointPayload {
            webhook_endpoint: endpoint.into(),
            secret,
        })
    }

    /// Changes an endpoint's URL, event types, note or enabled flag; omitted fields stay.
    /// Company admins only.
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint and the fields to change.")]
        input: UpdateWebhookEndpointInput,
    ) -> Result<UpdateWebhookEndpointPayload> {
        let (tenant, db) = parts(ctx)?;
        let change = endpoints::EndpointChange {
            url: input.url,
            event_types: input.event_types,
            description: input.description,
            enabled: input.enabled,
        };
        // The caller is authorised and the fields checked before the ID is read.
        let change = endpoints::check_change(db, tenant, settings(ctx)?, change).await?;
        let endpoint_id = id::decode(ENDPOINT, &input.id, "input.id")?;
        let endpoint = endpoints::update(db, tenant, endpoint_id, change).await?;
        Ok(UpdateWebhookEndpointPayload {
            webhook_endpoint: endpoint.into(),
        })
    }

    /// Stops deliveries to an endpoint until it is enabled again: events meanwhile are not
    /// sent to it, and deliveries already queued end DEAD (`redeliverWebhook` can send them
    /// later). Company admins only.
    async fn disable_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint to disable.")] input: DisableWebhookEndpointInput,
    ) -> Result<DisableWebhookEndpointPayload> {
        let (tenant, db) = parts(ctx)?;
        let endpoint_id = id::decode(ENDPOINT, &input.id, "input.id")?;
        let endpoint = endpoints::set_enabled(db, tenant, endpoint_id, false).await?;
        Ok(DisableWebhookEndpointPayload {
            webhook_endpoint: endpoint.into(),
        })
    }

    /// Resumes deliveries to a disabled endpoint, for events from now on. Company admins
    /// only.
    async fn enable_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint to enable.")] input: EnableWebhookEndpointInput,
    ) -> Result<EnableWebhookEndpointPayload> {
        let (tenant, db) = parts(ctx)?;
        let endpoint_id = id::decode(ENDPOINT, &input.id, "input.id")?;
        let endpoint = endpoints::set_enabled(db, tenant, endpoint_id, true).await?;
        Ok(EnableWebhookEndpointPayload {
            webhook_endpoint: endpoint.into(),
        })
    }

    /// Deletes an endpoint and its delivery log. Company admins only.
    async fn delete_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint to delete.")] input: DeleteWebhookEndpointInput,
    ) -> Result<DeleteWebhookEndpointPayload> {
        let (tenant, db) = parts(ctx)?;
        let endpoint_id = id::decode(ENDPOINT, &input.id, "input.id")?;
        endpoints::delete(db, tenant, endpoint_id).await?;
        Ok(DeleteWebhookEndpointPayload {
            deleted_id: input.id,
        })
    }

    /// Replaces the signing secret; the new one is shown once and signs every later attempt.
    /// Company admins only.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint whose secret to replace.")] input: RotateWebhookSecretInput,
    ) -> Result<RotateWebhookSecretPayload> {
        let (tenant, db) = parts(ctx)?;
        let endpoint_id = id::decode(ENDPOINT, &input.id, "input.id")?;
        let (endpoint, secret) = endpoints::rotate_secret(db, tenant, endpoint_id).await?;
        Ok(RotateWebhookSecretPayload {
            webhook_endpoint: endpoint.into(),
            secret,
        })
    }

    /// Sends a DEAD or DELIVERED delivery again, with a fresh series of attempts (one that
    /// is PENDING or FAILED is still being tried and is refused). Company admins only.
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The delivery to send again.")] input: RedeliverWebhookInput,
    ) -> Result<RedeliverWebhookPayload> {
        let (tenant, db) = parts(ctx)?;
        let did = id::decode(DELIVERY, &input.delivery_id, "input.deliveryId")?;
        let max = settings(ctx)?.max_attempts;
        let delivery = deliveries::redeliver(db, tenant, did, max).await?;
        Ok(RedeliverWebhookPayload {
            webhook_delivery: WebhookDelivery(delivery),
        })
    }
}
