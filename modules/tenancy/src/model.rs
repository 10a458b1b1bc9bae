//! The tenancy vocabulary, shared by services and the GraphQL types.

pub use ils_common::company::{COMPANY, CompanyStatus, CompanyType};

pub use ils_common::plan::Plan;
pub use ils_entity::user::UserStatus;

/// Global ID type names of this module's objects.
pub const USER: &str = "User";
pub const INVITATION: &str = "Invitation";
pub const API_KEY: &str = "ApiKey";

/// The marker stored in `users.role` for the platform operator.
pub const PLATFORM_ADMIN_ROLE: &str = "PLATFORM_ADMIN";

/// Practices start at once; labs and suppliers wait for the platform's approval.
pub fn initial_status(kind: CompanyType) -> CompanyStatus {
    match kind {
        CompanyType::Ecp => CompanyStatus::Active,
        _ => CompanyStatus::PendingApproval,
    }
}

/// The plan a new company of `kind` starts on: practices on the free plan (approved at
/// once), labs and suppliers on the full plan (approved by the platform).
pub fn initial_plan(kind: CompanyType) -> Plan {
    match kind {
        CompanyType::Ecp => Plan::FreeEcp,
        CompanyType::Lab | CompanyType::Supplier => Plan::Full,
    }
}
