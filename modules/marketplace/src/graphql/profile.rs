//! The directory's GraphQL face: marketplace profiles, the lists of listed labs and
//! suppliers, and the profile editor.

use crate::service::profile::{self, DirectoryCriterion, ProfileEdit, specialties_of};
use crate::vocab::Specialty;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_common::company::{COMPANY, CompanyType};
use ils_entity::marketplace_profile;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::{AppError, id, request_parts};

/// The global ID type name of a profile.
pub const PROFILE: &str = "MarketplaceProfile";

/// A company as the marketplace shows it: public fields only.
#[derive(Clone)]
pub struct MarketplaceProfile(pub marketplace_profile::Model);

/// A company's page in the marketplace directory: what it offers and where, public to
/// every signed-in company once listed. Name and type are the company's own, kept in step
/// with it.
#[Object]
impl MarketplaceProfile {
    /// The profile's global ID.
    pub async fn id(&self) -> ID {
        id::encode(PROFILE, self.0.company_id)
    }
    /// The company's global ID (what `requestConnection` takes). An ID rather than the
    /// `Company` itself, since a company may read only its own company record.
    async fn company_id(&self) -> ID {
        id::encode(COMPANY, self.0.company_id)
    }
    /// The company's name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What kind of company it is: LAB or SUPPLIER in the directory (ECP for a practice's
    /// own profile, which is never listed).
    #[graphql(name = "type")]
    async fn company_type(&self) -> Result<CompanyType> {
        Ok(CompanyType::parse(&self.0.company_type).ok_or_else(|| {
            AppError::internal(format!("a profile of unknown type {}", self.0.company_type))
        })?)
    }
    /// Whether the company shows in the directory.
    async fn listed(&self) -> bool {
        self.0.listed
    }
    /// What the company says about itself (at most 2,000 characters); null when not set.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// The company's city; null when not set.
    async fn city(&self) -> Option<&str> {
        self.0.city.as_deref()
    }
    /// The company's region, county or state; null when not set.
    async fn region(&self) -> Option<&str> {
        self.0.region.as_deref()
    }
    /// The company's country, ISO 3166-1 alpha-2 (`GB`); null when not set.
    async fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }
    /// Where the company delivers or serves (regions, postcodes, countries), as it says.
    async fn service_areas(&self) -> Vec<String> {
        serde_json::from_str(&self.0.service_areas).unwrap_or_default()
    }
    /// What the company offers: designs, materials, coatings and services for a lab,
    /// product categories for a supplier.
    async fn specialties(&self) -> Vec<Specialty> {
        specialties_of(&self.0)
    }
    /// An http(s) URL of the company's logo; null when not set.
    async fn logo_url(&self) -> Option<&str> {
        self.0.logo_url.as_deref()
    }
    /// When the profile was last saved (or its company renamed or re-typed).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// What `updateMarketplaceProfile` takes: a partial update. An absent field stays as it
/// is; an empty string clears a text.
#[derive(InputObject, Default)]
pub struct UpdateMarketplaceProfileInput {
    /// Show the company in the directory (labs and suppliers only).
    pub listed: Option<bool>,
    /// What the company says about itself, at most 2,000 characters.
    pub description: Option<String>,
    /// The company's city, at most 100 characters.
    pub city: Option<String>,
    /// The company's region, county or state, at most 100 characters.
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. "GB".
    pub country: Option<String>,
    /// Where the company delivers or serves, replacing the list: at most 50 entries of
    /// at most 100 characters (an empty list clears it).
    pub service_areas: Option<Vec<String>>,
    /// What the company offers, replacing the list: lab specialties for a lab, product
    /// categories for a supplier.
    pub specialties: Option<Vec<Specialty>>,
    /// An http(s) URL of the company's logo, at most 300 characters.
    pub logo_url: Option<String>,
}

impl UpdateMarketplaceProfileInput {
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

/// What `updateMarketplaceProfile` returns.
#[derive(SimpleObject)]
pub struct UpdateMarketplaceProfilePayload {
    /// The profile as saved.
    pub marketplace_profile: MarketplaceProfile,
}

/// Which directory entries to list; every condition given must hold.
#[derive(InputObject, Default)]
pub struct DirectoryFilter {
    /// Words to find in the name, description or specialties (any case; every word must
    /// match; on PostgreSQL a full-text prefix search).
    pub text: Option<String>,
    /// Only companies that list this specialty.
    pub specialty: Option<Specialty>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Only companies in this region (exact text, any case).
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

    /// Listed, active labs, oldest first: public profile fields only.
    #[allow(clippy::too_many_arguments)]
    async fn marketplace_labs(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which companies: by words, specialty, country and region; all when absent."
        )]
        filter: Option<DirectoryFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<MarketplaceProfile>> {
        let page = PageArgs::new(ctx, first, after, last, before);
        directory(ctx, CompanyType::Lab, filter, page).await
    }

    /// Listed, active suppliers, oldest first: public profile fields only.
    #[allow(clippy::too_many_arguments)]
    async fn marketplace_suppliers(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which companies: by words, specialty, country and region; all when absent."
        )]
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
    /// Edits your company's marketplace profile (company admins). A practice's profile
    /// cannot be listed.
    async fn update_marketplace_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The fields to change; absent fields stay as they are.")]
        input: UpdateMarketplaceProfileInput,
    ) -> Result<UpdateMarketplaceProfilePayload> {
        let (tenant, db) = request_parts(ctx)?;
        let saved = profile::update(db, tenant, input.edits()).await?;
        Ok(UpdateMarketplaceProfilePayload {
            marketplace_profile: MarketplaceProfile(saved),
        })
    }
}
