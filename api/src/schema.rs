//! The one schema: the platform's modules, listed once, with their limits.

use crate::extension::Protections;
use async_graphql::{ObjectType, Schema, SchemaBuilder, SubscriptionType};

crate::modules! {
    /// Every domain of the platform, in order. A new domain is one line here (and its
    /// crate in Cargo.toml): its GraphQL roots, node types, jobs, event handlers and
    /// schedules all come through its `Module`.
    pub mod platform {
        ils_tenancy::Tenancy,
        ils_backbone::Backbone,
        ils_marketplace::Marketplace,
        ils_orders::Orders,
        ils_inventory::Inventory,
    }
}

pub use platform::{AppSchema, Modules, Mutation, Query, Subscription};

/// A schema of `Query`, `Mutation` and `Subscription` roots (the platform's, or a test's
/// own list) with the limits; `data` is added by the caller (database, token settings…).
pub fn builder<Q, M, S>(limits: &Protections) -> SchemaBuilder<Q, M, S>
where
    Q: ObjectType + Default + 'static,
    M: ObjectType + Default + 'static,
    S: SubscriptionType + Default + 'static,
{
    // Depth and complexity are measured by the protections extension, which holds
    // introspection to its own limits (async-graphql's would refuse GraphiQL's query).
    Schema::build(Q::default(), M::default(), S::default())
        .limit_directives(limits.max_directives)
        .limit_recursive_depth(limits.max_depth.max(32))
        .extension(crate::extension::ProtectionsFactory(limits.clone()))
        .extension(crate::audit::AuditFactory)
        .extension(crate::extension::MeasureFactory(limits.clone()))
}

/// The platform's schema with its limits.
pub fn platform_builder(limits: &Protections) -> SchemaBuilder<Query, Mutation, Subscription> {
    builder(limits)
}

/// The SDL that `schema.graphql` must equal.
pub fn sdl() -> String {
    platform_builder(&Protections::default()).finish().sdl()
}
