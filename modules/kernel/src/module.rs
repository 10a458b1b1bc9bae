use crate::jobs::{JobKind, Schedule};
use async_graphql::{ObjectType, SubscriptionType};

/// What a domain crate hands the server. `api` merges every module's parts into one schema
/// (`MergedObject` / `MergedSubscription`) and every module's job kinds, event handlers and
/// schedules into one registry; a new domain is one crate, one line in the merge and one
/// line in the module list.
pub trait Module: Send + Sync + 'static {
    /// A short name for logs and metrics.
    const NAME: &'static str;
    type Query: ObjectType + Default + 'static;
    type Mutation: ObjectType + Default + 'static;
    type Subscription: SubscriptionType + Default + 'static;

    /// The module's job kinds; a kind with `on_events` also handles those events.
    fn jobs() -> Vec<JobKind> {
        Vec::new()
    }

    /// Recurring jobs (cron).
    fn schedules() -> Vec<Schedule> {
        Vec::new()
    }
}
