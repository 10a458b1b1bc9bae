//! The marketplace's domain events. Connection events reach both parties; import events
//! are named by each import target (see [`crate::imports`]). IDs in event data are the
//! global IDs the API returns.

use crate::vocab::ConnectionStatus;
use async_graphql::ID;
use ils_kernel::domain_event;
use serde::{Deserialize, Serialize};

/// What every connection event says: which connection, between whom, in which status now
/// (under `state`: the event data keeps its first shape).
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionChange {
    pub connection_id: ID,
    pub requester_company_id: ID,
    pub responder_company_id: ID,
    pub state: ConnectionStatus,
}

domain_event!(ConnectionRequested, "connection.requested", admins_only: false, ConnectionChange);
domain_event!(ConnectionAccepted, "connection.accepted", admins_only: false, ConnectionChange);
domain_event!(ConnectionRejected, "connection.rejected", admins_only: false, ConnectionChange);
domain_event!(ConnectionEnded, "connection.ended", admins_only: false, ConnectionChange);

domain_event!(MarketplaceProfileUpdated, "marketplace.profile_updated", admins_only: false {
    company_id: ID,
    listed: bool,
});
