//! The marketplace's GraphQL face: object, input and enum types, and thin resolvers that
//! call `crate::service`.

pub mod catalog;
pub mod connections;
pub mod import;
pub mod node;
pub mod profile;

pub use catalog::{CatalogMutation, CatalogQuery};
pub use connections::{ConnectionsMutation, ConnectionsQuery};
pub use import::{ImportMutation, ImportQuery, ImportSubscription};
pub use profile::{ProfileMutation, ProfileQuery};
