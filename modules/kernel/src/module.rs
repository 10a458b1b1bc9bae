use async_graphql::{ObjectType, SubscriptionType};

/// What a domain crate hands the server. `api` merges every module's parts into one schema
/// (`MergedObject` / `MergedSubscription`); a new domain is one crate, one line in the merge
/// and one line in the module list.
pub trait Module: Send + Sync + 'static {
    /// A short name for logs and metrics.
    const NAME: &'static str;
    type Query: ObjectType + Default + 'static;
    type Mutation: ObjectType + Default + 'static;
    type Subscription: SubscriptionType + Default + 'static;
}
