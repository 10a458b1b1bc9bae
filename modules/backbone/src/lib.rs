//! The event backbone's public face: the `events` subscription, the job queue's admin
//! operations, webhooks (endpoints, signed deliveries with retries, redelivery), the mail
//! job, and the audit log reader. The mechanisms themselves (outbox, queue, bus) live in
//! the kernel; this crate is what companies and the platform operator see of them.
//!
//! `graphql` holds the types and thin resolvers, `service` the work (and the job kinds),
//! `model` the stored vocabularies both use.

pub mod graphql;
pub mod model;
pub mod service;

use async_graphql::MergedObject;
use ils_kernel::{AppError, TenantContext};

/// The paths of the job queue's GraphQL face before the crate was split.
pub mod jobs {
    pub use crate::graphql::jobs::{
        DiscardJobInput, DiscardJobPayload, JOB, Job, JobFilter, JobStatusCount, JobsMutation,
        JobsQuery, RetryJobInput, RetryJobPayload,
    };
    pub use crate::model::JobStatus;
}

/// The paths of the audit log's GraphQL face before the crate was split.
pub mod audit {
    pub use crate::graphql::audit::{AUDIT_ENTRY, AuditEntry, AuditLogFilter, AuditQuery};
    pub use crate::model::AuditOutcome;
}

/// The paths of the `events` subscription before the crate was split.
pub mod events {
    pub use crate::graphql::events::{DomainEventView, EventsSubscription};
}

/// The paths of the mail job before the crate was split.
pub mod mail {
    pub use crate::service::mail::{Mailer, send_kind};
}

/// The paths of webhooks before the crate was split: settings, the address check,
/// signing, the GraphQL types and resolvers, and the jobs with their payloads.
pub mod webhooks {
    pub use crate::graphql::webhooks::{
        CreateWebhookEndpointInput, CreateWebhookEndpointPayload, DeleteWebhookEndpointInput,
        DeleteWebhookEndpointPayload, DisableWebhookEndpointInput, DisableWebhookEndpointPayload,
        EnableWebhookEndpointInput, EnableWebhookEndpointPayload, RedeliverWebhookInput,
        RedeliverWebhookPayload, RotateWebhookSecretInput, RotateWebhookSecretPayload,
        UpdateWebhookEndpointInput, UpdateWebhookEndpointPayload, WebhookDelivery,
        WebhookDeliveryFilter, WebhookEndpoint, WebhooksMutation, WebhooksQuery,
    };
    pub use crate::model::WebhookDeliveryStatus;
    pub use crate::service::webhooks::{
        DELIVER, DELIVERY, Deliver, ENDPOINT, FANOUT, KEEP_DELIVERIES_DAYS, PRUNE, PruneDeliveries,
        WebhookSettings, check_url, deliver_kind, fanout_kind, is_public, prune_kind,
        prune_schedule, signature,
    };
}

/// The backbone module, as the server assembles it.
pub struct Backbone;

#[derive(MergedObject, Default)]
pub struct BackboneQuery(
    graphql::JobsQuery,
    graphql::WebhooksQuery,
    graphql::AuditQuery,
);

#[derive(MergedObject, Default)]
pub struct BackboneMutation(graphql::JobsMutation, graphql::WebhooksMutation);

impl ils_kernel::Module for Backbone {
    const NAME: &'static str = "backbone";
    type Query = BackboneQuery;
    type Mutation = BackboneMutation;
    type Subscription = graphql::EventsSubscription;

    fn node_types() -> Vec<ils_kernel::node::NodeType> {
        graphql::node::node_types()
    }

    fn fetch_nodes(req: ils_kernel::node::NodeRequest<'_>) -> ils_kernel::node::NodeFetch<'_> {
        Box::pin(graphql::node::fetch_many(req))
    }

    fn schedules() -> Vec<ils_kernel::jobs::Schedule> {
        vec![service::webhooks::prune_schedule()]
    }

    fn jobs() -> Vec<ils_kernel::JobKind> {
        vec![
            service::webhooks::fanout_kind(),
            service::webhooks::deliver_kind(),
            service::webhooks::prune_kind(),
            service::mail::send_kind(),
        ]
    }

    fn tables() -> Vec<ils_kernel::module::Table> {
        use ils_entity::*;
        vec![
            ils_kernel::module::Table::of::<webhook_endpoint::Entity>(),
            ils_kernel::module::Table::of::<webhook_delivery::Entity>(),
        ]
    }
}

/// The tenant context and database of a resolver.
pub(crate) fn parts<'a>(
    ctx: &async_graphql::Context<'a>,
) -> Result<(&'a TenantContext, &'a ils_kernel::Db), AppError> {
    ils_kernel::request_parts(ctx)
}
