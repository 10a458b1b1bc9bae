//! The marketplace: the company directory, connections between companies (the access
//! grants that open ordering and private catalogs), and supplier catalogs with CSV import.
//!
//! `graphql` holds the types and thin resolvers, `service` the work (and the job kinds),
//! `vocab` and `events` the marketplace's words and domain events both use.

pub mod events;
pub mod graphql;
pub mod onboarding;
pub mod service;
pub mod tools;
pub mod vocab;

pub use ils_common::{grid, imports, search};

use async_graphql::{MergedObject, MergedSubscription};

/// The catalog's shared words (from `ils_common`), and the path other crates name a
/// catalog item's global ID type by.
pub mod catalog {
    pub use ils_common::catalog::{csv, draft, gtin};

    /// The path of the catalog item's global ID type name before the crate was split
    /// (inventory links its products to catalog items by it).
    pub mod items {
        pub use crate::service::catalog::ITEM;
    }
}

/// The marketplace module, as the server assembles it.
pub struct Marketplace;

#[derive(MergedObject, Default)]
pub struct MarketplaceQuery(
    graphql::ProfileQuery,
    graphql::ConnectionsQuery,
    graphql::CatalogQuery,
    graphql::ImportQuery,
);

#[derive(MergedObject, Default)]
pub struct MarketplaceMutation(
    graphql::ProfileMutation,
    graphql::ConnectionsMutation,
    graphql::CatalogMutation,
    graphql::ImportMutation,
);

#[derive(MergedSubscription, Default)]
pub struct MarketplaceSubscription(graphql::ImportSubscription);

impl ils_kernel::Module for Marketplace {
    const NAME: &'static str = "marketplace";
    type Query = MarketplaceQuery;
    type Mutation = MarketplaceMutation;
    type Subscription = MarketplaceSubscription;

    fn node_types() -> Vec<ils_kernel::node::NodeType> {
        graphql::node::node_types()
    }

    fn fetch_nodes(req: ils_kernel::node::NodeRequest<'_>) -> ils_kernel::node::NodeFetch<'_> {
        Box::pin(graphql::node::fetch_many(req))
    }

    fn jobs() -> Vec<ils_kernel::JobKind> {
        vec![
            service::profile::sync_kind(),
            service::import::import_kind(),
        ]
    }

    fn tools() -> Vec<ils_kernel::tools::Tool> {
        tools::tools()
    }

    fn onboarding() -> Vec<ils_kernel::onboarding::Step> {
        onboarding::steps()
    }

    fn tables() -> Vec<ils_kernel::module::Table> {
        use ils_entity::*;
        vec![
            ils_kernel::module::Table::of::<marketplace_profile::Entity>(),
            ils_kernel::module::Table::of::<trade_connection::Entity>(),
            ils_kernel::module::Table::of::<catalog_item::Entity>(),
            ils_kernel::module::Table::of::<data_import::Entity>(),
        ]
    }
}
