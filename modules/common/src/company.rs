//! What kind of company a tenant is and where its account stands: words every domain uses
//! (who may order from whom, who may import a catalog).

/// The global ID type name of a company.
pub const COMPANY: &str = "Company";

pub use ils_entity::company::{CompanyStatus, CompanyType};

/// What every company event says: which company changed. The events are tenancy's to
/// emit; the marketplace keeps its directory copy from them.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct CompanyChange {
    pub company_id: async_graphql::ID,
}

ils_kernel::domain_event!(CompanyUpdated, "company.updated", admins_only: false, CompanyChange);
ils_kernel::domain_event!(CompanyApproved, "company.approved", admins_only: false, CompanyChange);
ils_kernel::domain_event!(CompanyRejected, "company.rejected", admins_only: false, CompanyChange);

impl CompanyChange {
    /// What a company event says; `None` for other events (and for one this release
    /// cannot read, which is logged).
    pub fn of(ev: &ils_kernel::Event) -> Option<CompanyChange> {
        use ils_kernel::events::signature;
        ev.read_as(&[
            signature::<CompanyUpdated>(),
            signature::<CompanyApproved>(),
            signature::<CompanyRejected>(),
        ])
    }
}
