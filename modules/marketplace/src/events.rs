//! The marketplace's domain events. Connection events reach both parties; catalog import
//! events reach the supplier. IDs in event data are the global IDs the API returns.

use async_graphql::ID;
use ils_kernel::DomainEvent;
use serde::Serialize;

macro_rules! event {
    ($name:ident, $ty:literal { $($field:ident : $t:ty),* $(,)? }) => {
        #[derive(Serialize, Debug, Clone)]
        #[serde(rename_all = "camelCase")]
        pub struct $name { $(pub $field: $t),* }
        impl DomainEvent for $name {
            const TYPE: &'static str = $ty;
        }
    };
}

/// What every connection event says: which connection, between whom, in which state now.
#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionChange {
    pub connection_id: ID,
    pub requester_company_id: ID,
    pub responder_company_id: ID,
    pub state: String,
}

macro_rules! connection_event {
    ($name:ident, $ty:literal) => {
        #[derive(Serialize, Debug, Clone)]
        pub struct $name(pub ConnectionChange);
        impl DomainEvent for $name {
            const TYPE: &'static str = $ty;
        }
    };
}

connection_event!(ConnectionRequested, "connection.requested");
connection_event!(ConnectionAccepted, "connection.accepted");
connection_event!(ConnectionRejected, "connection.rejected");
connection_event!(ConnectionEnded, "connection.ended");

event!(MarketplaceProfileUpdated, "marketplace.profile_updated" { company_id: ID, listed: bool });

/// A catalog import's progress: sent as batches commit, and once more when it ends.
#[derive(Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImportProgress {
    pub import_id: ID,
    pub status: String,
    pub total_rows: i32,
    pub processed_rows: i32,
    pub created: i32,
    pub updated: i32,
    pub unchanged: i32,
    pub failed: i32,
}

macro_rules! import_event {
    ($name:ident, $ty:literal) => {
        #[derive(Serialize, Debug, Clone)]
        pub struct $name(pub ImportProgress);
        impl DomainEvent for $name {
            const TYPE: &'static str = $ty;
        }
    };
}

import_event!(CatalogImportProgressed, "catalog.import.progress");
import_event!(CatalogImportCompleted, "catalog.import.completed");
import_event!(CatalogImportFailed, "catalog.import.failed");
