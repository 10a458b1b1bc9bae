//! The marketplace: the company directory, connections between companies (the access
//! grants that open ordering and private catalogs), and supplier catalogs with CSV import.

pub mod catalog;
pub mod connections;
pub mod events;
pub use ils_common::{grid, imports, search};
pub mod node;
pub mod profile;
pub mod vocab;

use async_graphql::{MergedObject, MergedSubscription};

/// The marketplace module, as the server assembles it.
pub struct Marketplace;

#[derive(MergedObject, Default)]
pub struct MarketplaceQuery(
    profile::ProfileQuery,
    connections::ConnectionsQuery,
    catalog::items::CatalogQuery,
    catalog::import::ImportQuery,
);

#[derive(MergedObject, Default)]
pub struct MarketplaceMutation(
    profile::ProfileMutation,
    connections::ConnectionsMutation,
    catalog::items::CatalogMutation,
    catalog::import::ImportMutation,
);

#[derive(MergedSubscription, Default)]
pub struct MarketplaceSubscription(catalog::import::ImportSubscription);

impl ils_kernel::Module for Marketplace {
    const NAME: &'static str = "marketplace";
    type Query = MarketplaceQuery;
    type Mutation = MarketplaceMutation;
    type Subscription = MarketplaceSubscription;

    fn node_types() -> Vec<ils_kernel::node::NodeType> {
        node::node_types()
    }

    fn fetch_nodes(req: ils_kernel::node::NodeRequest<'_>) -> ils_kernel::node::NodeFetch<'_> {
        Box::pin(node::fetch_many(req))
    }

    fn jobs() -> Vec<ils_kernel::JobKind> {
        vec![profile::sync_kind(), catalog::import::import_kind()]
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
