//! The tenancy vocabulary, shared by services and the GraphQL types.

use ils_kernel::string_enum;

string_enum!(CompanyType { Ecp = "ECP", Lab = "LAB", Supplier = "SUPPLIER" });
string_enum!(CompanyStatus {
    Active = "ACTIVE",
    PendingApproval = "PENDING_APPROVAL",
    Rejected = "REJECTED",
});
string_enum!(Plan { FreeEcp = "FREE_ECP", FreeLab = "FREE_LAB", FreeSupplier = "FREE_SUPPLIER" });
string_enum!(UserStatus { Active = "ACTIVE", Deactivated = "DEACTIVATED" });

/// The marker stored in `users.role` for the platform operator.
pub const PLATFORM_ADMIN_ROLE: &str = "PLATFORM_ADMIN";

impl CompanyType {
    /// Practices start at once; labs and suppliers wait for the platform's approval.
    pub fn initial_status(self) -> CompanyStatus {
        match self {
            CompanyType::Ecp => CompanyStatus::Active,
            _ => CompanyStatus::PendingApproval,
        }
    }

    pub fn initial_plan(self) -> Plan {
        match self {
            CompanyType::Ecp => Plan::FreeEcp,
            CompanyType::Lab => Plan::FreeLab,
            CompanyType::Supplier => Plan::FreeSupplier,
        }
    }
}
