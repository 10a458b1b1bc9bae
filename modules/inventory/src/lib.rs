//! Inventory and purchasing: every company's products and locations, a perpetual stock
//! ledger with balances kept in the same transaction, reorder points, purchase orders to
//! suppliers and stock counts.
//!
//! `graphql` holds the types and thin resolvers, `service` the work (and the job kinds),
//! `model` the names and stored vocabularies both use (with a purchase order's status
//! moves), `events` what changes announce; `ledger` (a movement's effect on a balance),
//! `reorder` (demand statistics, reorder points, EOQ, ABC) and `forecast` (demand
//! forecasting methods, their backtest and the choice between them) are pure arithmetic.

pub mod events;
pub mod forecast;
pub mod graphql;
pub mod ledger;
pub mod model;
pub mod reorder;
pub mod service;
pub mod tools;

use async_graphql::{MergedObject, MergedSubscription};

/// The inventory module, as the server assembles it.
pub struct Inventory;

#[derive(MergedObject, Default)]
pub struct InventoryQuery(
    graphql::AgentQuery,
    graphql::CountsQuery,
    graphql::ProductImportQuery,
    graphql::LocationsQuery,
    graphql::PlanningQuery,
    graphql::ProductsQuery,
    graphql::PurchasingQuery,
    graphql::ReconcileQuery,
    graphql::StockQuery,
);

#[derive(MergedObject, Default)]
pub struct InventoryMutation(
    graphql::AgentMutation,
    graphql::CountsMutation,
    graphql::ExportMutation,
    graphql::ProductImportMutation,
    graphql::LocationsMutation,
    graphql::ProductsMutation,
    graphql::PurchasingMutation,
    graphql::ReconcileMutation,
    graphql::StockMutation,
);

#[derive(MergedSubscription, Default)]
pub struct InventorySubscription(graphql::ProductImportSubscription);

impl ils_kernel::Module for Inventory {
    const NAME: &'static str = "inventory";
    type Query = InventoryQuery;
    type Mutation = InventoryMutation;
    /// Low stock and purchase events reach clients through the events subscription.
    type Subscription = InventorySubscription;

    fn node_types() -> Vec<ils_kernel::node::NodeType> {
        graphql::node::node_types()
    }

    fn fetch_nodes(req: ils_kernel::node::NodeRequest<'_>) -> ils_kernel::node::NodeFetch<'_> {
        Box::pin(graphql::node::fetch_many(req))
    }

    fn jobs() -> Vec<ils_kernel::JobKind> {
        vec![
            service::reconcile::reconcile_kind(),
            service::reconcile::reconcile_all_kind(),
            service::import::import_kind(),
            service::agent::agent_kind(),
            service::agent::agent_all_kind(),
        ]
    }

    fn tools() -> Vec<ils_kernel::tools::Tool> {
        tools::tools()
    }

    fn schedules() -> Vec<ils_kernel::jobs::Schedule> {
        vec![
            service::reconcile::reconcile_schedule(),
            service::agent::agent_schedule(),
        ]
    }

    fn tables() -> Vec<ils_kernel::module::Table> {
        use ils_entity::*;
        vec![
            ils_kernel::module::Table::of::<stock_location::Entity>(),
            ils_kernel::module::Table::of::<product::Entity>(),
            ils_kernel::module::Table::of::<stock_balance::Entity>(),
            ils_kernel::module::Table::of::<stock_movement::Entity>(),
            ils_kernel::module::Table::of::<inventory_settings::Entity>(),
            ils_kernel::module::Table::of::<purchase_order::Entity>(),
            ils_kernel::module::Table::of::<purchase_order_line::Entity>(),
            ils_kernel::module::Table::of::<stock_count::Entity>(),
            ils_kernel::module::Table::of::<stock_count_line::Entity>(),
            ils_kernel::module::Table::of::<stock_discrepancy::Entity>(),
            ils_kernel::module::Table::of::<demand_daily::Entity>(),
            ils_kernel::module::Table::of::<agent_settings::Entity>(),
        ]
    }
}
