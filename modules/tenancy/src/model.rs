//! The tenancy vocabulary, shared by services and the GraphQL types.

pub use ils_common::company::{COMPANY, CompanyStatus, CompanyType};
use ils_kernel::string_enum;

string_enum!(
    /// A company's subscription plan.
    Plan {
        /// The free plan for eye-care practices.
        FreeEcp = "FREE_ECP",
        /// The free plan for lens labs.
        FreeLab = "FREE_LAB",
        /// The free plan for suppliers.
        FreeSupplier = "FREE_SUPPLIER",
    }
);
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

/// The plan a new company of `kind` starts on.
pub fn initial_plan(kind: CompanyType) -> Plan {
    match kind {
        CompanyType::Ecp => Plan::FreeEcp,
        CompanyType::Lab => Plan::FreeLab,
        CompanyType::Supplier => Plan::FreeSupplier,
    }
}
