//! Inventory and purchasing: every company's products and locations, a perpetual stock
//! ledger with balances kept in the same transaction, reorder points, purchase orders to
//! suppliers and stock counts.

pub mod counts;
pub mod export;
pub mod import;
pub mod ledger;
pub mod locations;
pub mod low;
pub mod node;
pub mod planning;
pub mod products;
pub mod purchasing;
pub mod reconcile;
pub mod reorder;
pub mod stock;

use async_graphql::{MergedObject, MergedSubscription};

/// The inventory module, as the server assembles it.
pub struct Inventory;

#[derive(MergedObject, Default)]
pub struct InventoryQuery(
    counts::CountsQuery,
    import::ProductImportQuery,
    locations::LocationsQuery,
    planning::PlanningQuery,
    products::ProductsQuery,
    purchasing::PurchasingQuery,
    reconcile::ReconcileQuery,
    stock::StockQuery,
);

#[derive(MergedObject, Default)]
pub struct InventoryMutation(
    counts::CountsMutation,
    export::ExportMutation,
    import::ProductImportMutation,
    locations::LocationsMutation,
    products::ProductsMutation,
    purchasing::PurchasingMutation,
    reconcile::ReconcileMutation,
    stock::StockMutation,
);

#[derive(MergedSubscription, Default)]
pub struct InventorySubscription(import::ProductImportSubscription);

impl ils_kernel::Module for Inventory {
    const NAME: &'static str = "inventory";
    type Query = InventoryQuery;
    type Mutation = InventoryMutation;
    /// Low stock and purchase events reach clients through the events subscription.
    type Subscription = InventorySubscription;

    fn node_types() -> Vec<ils_kernel::node::NodeType> {
        node::node_types()
    }

    fn fetch_nodes(req: ils_kernel::node::NodeRequest<'_>) -> ils_kernel::node::NodeFetch<'_> {
        Box::pin(node::fetch_many(req))
    }

    fn jobs() -> Vec<ils_kernel::JobKind> {
        vec![
            reconcile::reconcile_kind(),
            reconcile::reconcile_all_kind(),
            import::import_kind(),
        ]
    }

    fn schedules() -> Vec<ils_kernel::jobs::Schedule> {
        vec![reconcile::reconcile_schedule()]
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
        ]
    }
}
