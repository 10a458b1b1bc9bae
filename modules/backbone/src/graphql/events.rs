//! `events(types:)`: the live stream of the caller's company's domain events.

use crate::service::events;
use async_graphql::{Context, Json, Object, Result, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use ils_kernel::events::SharedDelivery;
use ils_kernel::{AppError, Bus, Db, Event};
use std::sync::Arc;

#[derive(Default)]
pub struct EventsSubscription;

/// A domain event as a subscriber sees it: the event itself, shared by every socket it
/// goes to (one `Arc` from the bus); each field is made from it only when selected. Its
/// fields must depend on the event alone (not on who subscribed), since one execution of
/// an event is shared by the subscribers of a company (`SharedDelivery`).
#[derive(Clone)]
pub struct DomainEventView(pub Arc<Event>);

/// A domain event as a subscriber sees it.
#[Object(name = "DomainEvent")]
impl DomainEventView {
    /// The event id: the same event keeps it wherever it is delivered (a webhook, a
    /// handler, a resumed subscription).
    async fn id(&self) -> String {
        self.0.id.to_string()
    }

    /// Where this event is in the stream: subscribe again with `after:` this cursor to get
    /// every event that followed it (kept 7 days by default), with no gap and no repeat.
    async fn cursor(&self) -> String {
        self.0.cursor().unwrap_or_default()
    }

    /// What happened, such as `order.submitted` or `api_key.created`.
    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }

    /// When it happened.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }

    /// The event's details; their fields depend on `type` (a webhook delivery's body
    /// carries the same `data`).
    async fn data(&self) -> Json<serde_json::Value> {
        Json(self.0.data.clone())
    }
}

#[Subscription]
impl EventsSubscription {
    /// Your company's events as they happen. `types` selects exact types (`api_key.created`),
    /// families (`order.*`) or everything (`*`, the default). Team and credential events
    /// (`user.*`, `api_key.*`) reach company admins only. Each event carries its `cursor`:
    /// after a dropped connection, an outage or a deploy, subscribe with `after:` the last
    /// cursor you received to get, in order, every event that followed it, then the live
    /// ones, each once. A cursor older than the retention (7 days by default) is
    /// BAD_USER_INPUT.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Event types to receive, at most 50: exact types (`order.submitted`), families (`order.*`) or everything (`*`, the default)."
        )]
        types: Option<Vec<String>>,
        #[graphql(
            desc = "Resume after this event's `cursor`: the events that followed it are sent first."
        )]
        after: Option<String>,
    ) -> Result<impl Stream<Item = DomainEventView> + use<>> {
        let tenant = ctx
            .data::<ils_kernel::TenantContext>()
            .map_err(|_| AppError::internal("request has no tenant context"))?;
        let bus = ctx
            .data::<Bus>()
            .map_err(|_| AppError::internal("schema has no event bus"))?;
        let db = ctx
            .data::<Db>()
            .map_err(|_| AppError::internal("schema has no database"))?;
        // Every field of DomainEvent depends on the event alone, so one execution of an
        // event serves every socket with the same document and visibility.
        let shared = ctx.data_opt::<Arc<SharedDelivery>>().cloned();
        Ok(events::stream(db, tenant, bus, types, after)
            .await?
            .map(move |ev| {
                if let Some(shared) = &shared {
                    shared.offer(&ev);
                }
                DomainEventView(ev)
            }))
    }
}
