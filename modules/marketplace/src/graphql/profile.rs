//! The directory's GraphQL face: marketplace profiles, the lists of listed labs and
//! suppliers, and the profile editor.

use crate::service::profile::{self, DirectoryCriterion, ProfileEdit, specialties_of};
use crate::vocab::Specialty;
use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use ils_common::company::{COMPANY, CompanyType};
use ils_entity::marketplace_profile;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::{id, request_parts};

/// The global ID type name of a profile.
pub const PROFILE: &str = "MarketplaceProfile";

/// A company as the marketplace shows it: public fields only.
#[derive(Clone)]
pub struct MarketplaceProfile(pub marketplace_profile::Model);

#[Object]
impl MarketplaceProfile {
    pub async fn id(&self) -> ID {
        id::encode(PROFILE, self.0.company_id)
    }
    /// The company's global ID (what `requestConnection` takes).
    async fn company_id(&self) -> ID {
        id::encode(COMPANY, self.0.company_id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    #[graphql(name = "type")]
    async fn company_type(&self) -> Option<CompanyType> {
        CompanyType::parse(&self.0.company_type)
    }
    /// Whether the company shows in the directory.
    async fn listed(&self) -> bool {
        self.0.listed
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn city(&self) -> Option<&str> {
        self.0.city.as_deref()
    }
    async fn region(&self) -> Option<&str> {
        self.0.region.as_deref()
    }
    /// ISO 3166-1 alpha-2.
    async fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }
    /// Where the company delivers or serves (regions, postcodes, countries), as it says.
    async fn service_areas(&self) -> Vec<String> {
        serde_json::from_str(&self.0.service_areas).unwrap_or_default()
    }
    async fn specialties(&self) -> Vec<Specialty> {
        specialties_of(&self.0)
    }
    async fn logo_url(&self) -> Option<&str> {
        self.0.logo_url.as_deref()
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A partial update: an absent field stays as it is; an empty string clears a text.
#[derive(InputObject, Default)]
pub struct MarketplaceProfileInput {
    /// Show the company in the directory (labs and suppliers only).
    pub listed: Option<bool>,
    pub description: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. "GB".
    pub country: Option<String>,
    pub service_areas: Option<Vec<String>>,
    pub specialties: Option<Vec<Specialty>>,
    pub logo_url: Option<String>,
}

impl MarketplaceProfileInput {
    /// The fields given, as edits in field order.
    fn edits(self) -> Vec<ProfileEdit> {
        use ProfileEdit as E;
        [
            self.listed.map(E::Listed),
            self.description.map(E::Description),
            self.city.map(E::City),
            self.region.map(E::Region),
            self.country.map(E::Country),
            self.service_areas.map(E::ServiceAreas),
            self.specialties.map(E::Specialties),
            self.logo_url.map(E::LogoUrl),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

#[derive(InputObject, Default)]
pub struct DirectoryFilter {
    /// Words to find in the name, description or specialties (any case; every word must
    /// match; on PostgreSQL a full-text prefix search).
    pub text: Option<String>,
    pub specialty: Option<Specialty>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub region: Option<String>,
}

impl DirectoryFilter {
    /// The conditions given, in field order.
    fn criteria(self) -> Vec<DirectoryCriterion> {
        use DirectoryCriterion as C;
        [
            self.text.map(C::Text),
            self.specialty.map(C::Specialty),
            self.country.map(C::Country),
            self.region.map(C::Region),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

#[derive(Default)]
pub struct ProfileQuery;

#[Object]
impl ProfileQuery {
    /// Your company's marketplace profile (unlisted defaults until you save one).
    async fn my_marketplace_profile(&self, ctx: &Context<'_>) -> Result<MarketplaceProfile> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(MarketplaceProfile(profile::mine(db, tenant).await?))
    }

    /// Listed, active labs: public profile fields only.
    #[allow(clippy::too_many_arguments)]
    async fn marketplace_labs(
        &self,
        ctx: &Context<'_>,
        filter: Option<DirectoryFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<MarketplaceProfile>> {
        let page = PageArgs::new(ctx, first, after, last, before);
        directory(ctx, CompanyType::Lab, filter, page).await
    }

    /// Listed, active suppliers: public profile fields only.
    #[allow(clippy::too_many_arguments)]
    async fn marketplace_suppliers(
        &self,
        ctx: &Context<'_>,
        filter: Option<DirectoryFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<MarketplaceProfile>> {
        let page = PageArgs::new(ctx, first, after, last, before);
        directory(ctx, CompanyType::Supplier, filter, page).await
    }
}

/// One page of the directory's companies of `kind`.
async fn directory(
    ctx: &Context<'_>,
    kind: CompanyType,
    filter: Option<DirectoryFilter>,
    page: PageArgs,
) -> Result<Page<MarketplaceProfile>> {
    let (tenant, db) = request_parts(ctx)?;
    let criteria = filter.unwrap_or_default().criteria();
    Ok(profile::directory(db, tenant, kind, criteria, page, MarketplaceProfile).await?)
}

#[derive(Default)]
pub struct ProfileMutation;

#[Object]
impl ProfileMutation {
    /// Edits your company's marketplace profile (company admins).
    async fn update_marketplace_profile(
        &self,
        ctx: &Context<'_>,
        input: MarketplaceProfileInput,
    ) -> Result<MarketplaceProfile> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(MarketplaceProfile(
            profile::update(db, tenant, input.edits()).await?,
        ))
    }
}
