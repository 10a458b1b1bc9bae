//! The assistant: people ask in plain language and get answers built from their own
//! company's data, through the tools the domain modules offer (`ils_kernel::tools`), by
//! the built-in assistant (`builtin`) for what it knows and a chain of chat models
//! (`provider`) for the rest, within each company's monthly budget.
//!
//! `config` is what the server configures, `assistant` the runtime it holds (providers,
//! answer streaming), `service` the work (asking, conversations, spend, cache,
//! redaction), `graphql` the types and resolvers.

pub mod assistant;
pub mod builtin;
pub mod config;
pub mod graphql;
pub mod provider;
pub mod service;

pub use assistant::Assistant;
pub use config::AiSettings;

/// The assistant module, as the server assembles it.
pub struct Ai;

impl ils_kernel::Module for Ai {
    const NAME: &'static str = "ai";
    type Query = graphql::AiQuery;
    type Mutation = graphql::AiMutation;
    type Subscription = graphql::AiSubscription;

    fn node_types() -> Vec<ils_kernel::node::NodeType> {
        graphql::node::node_types()
    }

    fn fetch_nodes(req: ils_kernel::node::NodeRequest<'_>) -> ils_kernel::node::NodeFetch<'_> {
        Box::pin(graphql::node::fetch_many(req))
    }

    fn tables() -> Vec<ils_kernel::module::Table> {
        use ils_entity::*;
        use ils_kernel::module::Table;
        vec![
            Table::of::<ai_settings::Entity>(),
            Table::of::<ai_conversation::Entity>(),
            Table::of::<ai_message::Entity>(),
            Table::of::<ai_usage::Entity>(),
            Table::of::<ai_spend::Entity>(),
            Table::of::<ai_answer::Entity>(),
        ]
    }
}
