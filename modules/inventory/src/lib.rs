//! Inventory and purchasing: every company's products and locations, a perpetual stock
//! ledger with balances kept in the same transaction, reorder points, purchase orders to
//! suppliers and stock counts.

pub mod ledger;
pub mod locations;
pub mod node;
pub mod products;
pub mod reorder;
pub mod stock;

use async_graphql::MergedObject;

/// The inventory module, as the server assembles it.
pub struct Inventory;

#[derive(MergedObject, Default)]
pub struct InventoryQuery(
    locations::LocationsQuery,
    products::ProductsQuery,
    stock::StockQuery,
);

#[derive(MergedObject, Default)]
pub struct InventoryMutation(
    locations::LocationsMutation,
    products::ProductsMutation,
    stock::StockMutation,
);

impl ils_kernel::Module for Inventory {
    const NAME: &'static str = "inventory";
    type Query = InventoryQuery;
    type Mutation = InventoryMutation;
    /// Low stock and purchase events reach clients through the events subscription.
    type Subscription = async_graphql::EmptySubscription;
}
