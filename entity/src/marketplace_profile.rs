use crate::company::CompanyStatus;
use crate::policy::{Guarded, Policy};
use sea_orm::Condition;
use sea_orm::entity::prelude::*;

/// A company's public face in the marketplace directory. The company's name, type and
/// status are copied from `companies` (which other tenants cannot read) when the profile is
/// saved and whenever tenancy reports a change, so the directory never joins across tenants.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "marketplace_profiles")]
pub struct Model {
    /// The company's id: one profile per company.
    #[sea_orm(primary_key, auto_increment = false)]
    pub company_id: Uuid,
    pub name: String,
    /// ECP | LAB | SUPPLIER
    pub company_type: String,
    /// The company's status; only ACTIVE is listed.
    pub status: CompanyStatus,
    pub listed: bool,
    pub description: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
    /// JSON array of strings.
    #[sea_orm(column_type = "Text")]
    pub service_areas: String,
    /// JSON array of upper-case specialty codes.
    #[sea_orm(column_type = "Text")]
    pub specialties: String,
    pub logo_url: Option<String>,
    /// Lower-cased name, description and specialties, for text search.
    #[sea_orm(column_type = "Text")]
    pub search_text: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The directory: a company's own profile, and every listed profile of an ACTIVE company.
impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId).with_public_read(
            Condition::all()
                .add(Column::Listed.eq(true))
                .add(Column::Status.eq(CompanyStatus::Active)),
        )
    }
}
