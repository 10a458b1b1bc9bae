//! The event backbone's public face: the `events` subscription, the job queue's admin
//! operations, webhooks (endpoints, signed deliveries with retries, redelivery), the mail
//! job, and the audit log reader. The mechanisms themselves (outbox, queue, bus) live in
//! the kernel; this crate is what companies and the platform operator see of them.

pub mod audit;
pub mod events;
pub mod jobs;
pub mod mail;
pub mod webhooks;

use async_graphql::MergedObject;
use ils_kernel::{AppError, TenantContext};

/// The backbone module, as the server assembles it.
pub struct Backbone;

#[derive(MergedObject, Default)]
pub struct BackboneQuery(jobs::JobsQuery, webhooks::WebhooksQuery, audit::AuditQuery);

#[derive(MergedObject, Default)]
pub struct BackboneMutation(jobs::JobsMutation, webhooks::WebhooksMutation);

impl ils_kernel::Module for Backbone {
    const NAME: &'static str = "backbone";
    type Query = BackboneQuery;
    type Mutation = BackboneMutation;
    type Subscription = events::EventsSubscription;

    fn schedules() -> Vec<ils_kernel::jobs::Schedule> {
        vec![webhooks::prune_schedule()]
    }

    fn jobs() -> Vec<ils_kernel::JobKind> {
        vec![
            webhooks::fanout_kind(),
            webhooks::deliver_kind(),
            webhooks::prune_kind(),
            mail::send_kind(),
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
