//! The tenancy module's domain events. Each is seen by the company it concerns.

use ils_kernel::DomainEvent;
use serde::Serialize;
use uuid::Uuid;

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

event!(UserInvited, "user.invited" { invitation_id: Uuid, email: String, role: String });
event!(UserJoined, "user.joined" { user_id: Uuid, email: String });
event!(UserRoleChanged, "user.role_changed" { user_id: Uuid, role: String });
event!(UserDeactivated, "user.deactivated" { user_id: Uuid });
event!(ApiKeyCreated, "api_key.created" { api_key_id: Uuid, name: String, role: String });
event!(ApiKeyRevoked, "api_key.revoked" { api_key_id: Uuid });
event!(CompanyUpdated, "company.updated" { company_id: Uuid });
event!(CompanyApproved, "company.approved" { company_id: Uuid });
event!(CompanyRejected, "company.rejected" { company_id: Uuid });
