//! The tenancy module's domain events. Each is seen by the company it concerns; team and
//! credential events (who is invited, which keys exist) by its admins only, as the lists
//! they mirror are. IDs in event data are the same global IDs the GraphQL API returns, so
//! a webhook receiver or a subscriber can look the object up.

use async_graphql::ID;
use ils_kernel::domain_event;

domain_event!(UserInvited, "user.invited", admins_only: true { invitation_id: ID, email: String, role: String });
domain_event!(UserJoined, "user.joined", admins_only: true { user_id: ID, email: String });
domain_event!(UserRoleChanged, "user.role_changed", admins_only: true { user_id: ID, role: String });
domain_event!(UserDeactivated, "user.deactivated", admins_only: true { user_id: ID });
domain_event!(ApiKeyCreated, "api_key.created", admins_only: true { api_key_id: ID, name: String, role: String });
domain_event!(ApiKeyRevoked, "api_key.revoked", admins_only: true { api_key_id: ID });
pub use ils_common::company::{CompanyApproved, CompanyChange, CompanyRejected, CompanyUpdated};
