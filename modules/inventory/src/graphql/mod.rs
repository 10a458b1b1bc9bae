//! The inventory's GraphQL face: object, input and enum types, and thin resolvers that
//! call `crate::service`, one file per area.

pub mod agent;
pub mod counts;
pub mod export;
pub mod import;
pub mod locations;
pub mod node;
pub mod planning;
pub mod products;
pub mod purchasing;
pub mod reconcile;
pub mod stock;

pub use agent::{AgentMutation, AgentQuery};
pub use counts::{CountsMutation, CountsQuery};
pub use export::ExportMutation;
pub use import::{ProductImportMutation, ProductImportQuery, ProductImportSubscription};
pub use locations::{LocationsMutation, LocationsQuery};
pub use planning::PlanningQuery;
pub use products::{ProductsMutation, ProductsQuery};
pub use purchasing::{PurchasingMutation, PurchasingQuery};
pub use reconcile::{ReconcileMutation, ReconcileQuery};
pub use stock::{StockMutation, StockQuery};

/// A part read with its object (a movement's product, a count's location): always there
/// for rows of the caller's own, so one missing is a fault on our side.
pub(crate) fn loaded<'a, T>(part: &'a Option<T>, what: &str) -> async_graphql::Result<&'a T> {
    part.as_ref()
        .ok_or_else(|| ils_kernel::AppError::internal(format!("{what} was not read")).into())
}
