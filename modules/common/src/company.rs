//! What kind of company a tenant is and where its account stands: words every domain uses
//! (who may order from whom, who may import a catalog).

use ils_kernel::string_enum;

/// The global ID type name of a company.
pub const COMPANY: &str = "Company";

string_enum!(CompanyType { Ecp = "ECP", Lab = "LAB", Supplier = "SUPPLIER" });
string_enum!(CompanyStatus {
    Active = "ACTIVE",
    PendingApproval = "PENDING_APPROVAL",
    Rejected = "REJECTED",
});
