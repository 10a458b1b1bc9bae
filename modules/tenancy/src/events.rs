//! The tenancy module's domain events. Each is seen by the company it concerns; team and
//! credential events (who is invited, which keys exist) by its admins only, as the lists
//! they mirror are. IDs in event data are the same global IDs the GraphQL API returns, so
//! a webhook receiver or a subscriber can look the object up.

use async_graphql::ID;
use ils_kernel::DomainEvent;
use serde::Serialize;

macro_rules! event {
    ($name:ident, $ty:literal, $admins:literal { $($field:ident : $t:ty),* $(,)? }) => {
        #[derive(Serialize, Debug, Clone)]
        #[serde(rename_all = "camelCase")]
        pub struct $name { $(pub $field: $t),* }
        impl DomainEvent for $name {
            const TYPE: &'static str = $ty;
            const ADMINS_ONLY: bool = $admins;
        }
    };
}

event!(UserInvited, "user.invited", true { invitation_id: ID, email: String, role: String });
event!(UserJoined, "user.joined", true { user_id: ID, email: String });
event!(UserRoleChanged, "user.role_changed", true { user_id: ID, role: String });
event!(UserDeactivated, "user.deactivated", true { user_id: ID });
event!(ApiKeyCreated, "api_key.created", true { api_key_id: ID, name: String, role: String });
event!(ApiKeyRevoked, "api_key.revoked", true { api_key_id: ID });
event!(CompanyUpdated, "company.updated", false { company_id: ID });
event!(CompanyApproved, "company.approved", false { company_id: ID });
event!(CompanyRejected, "company.rejected", false { company_id: ID });
