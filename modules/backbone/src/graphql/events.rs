//! `events(types:)`: the live stream of the caller's company's domain events.

use crate::service::events;
use async_graphql::{Context, Json, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use ils_kernel::{AppError, Bus, Event};

#[derive(Default)]
pub struct EventsSubscription;

/// A domain event as a subscriber sees it.
#[derive(SimpleObject, Clone)]
#[graphql(name = "DomainEvent")]
pub struct DomainEventView {
    /// The event id; consumers de-duplicate on it (delivery is at least once).
    pub id: String,
    /// What happened, such as `order.submitted` or `api_key.created`.
    #[graphql(name = "type")]
    pub event_type: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// The event's details; their fields depend on `type` (a webhook delivery's body
    /// carries the same `data`).
    pub data: Json<serde_json::Value>,
}

impl From<&Event> for DomainEventView {
    fn from(e: &Event) -> Self {
        DomainEventView {
            id: e.id.to_string(),
            event_type: e.event_type.clone(),
            occurred_at: e.occurred_at,
            data: Json(e.data.clone()),
        }
    }
}

#[Subscription]
impl EventsSubscription {
    /// Your company's events as they happen. `types` selects exact types (`api_key.created`),
    /// families (`order.*`) or everything (`*`, the default). Team and credential events
    /// (`user.*`, `api_key.*`) reach company admins only.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Event types to receive, at most 50: exact types (`order.submitted`), families (`order.*`) or everything (`*`, the default)."
        )]
        types: Option<Vec<String>>,
    ) -> Result<impl Stream<Item = DomainEventView> + use<>> {
        let tenant = ctx
            .data::<ils_kernel::TenantContext>()
            .map_err(|_| AppError::internal("request has no tenant context"))?;
        let bus = ctx
            .data::<Bus>()
            .map_err(|_| AppError::internal("schema has no event bus"))?;
        Ok(events::stream(tenant, bus, types)?.map(|ev| DomainEventView::from(ev.as_ref())))
    }
}
