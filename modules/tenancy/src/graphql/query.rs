use super::types::{ApiKey, Company, Invitation, Me, User};
use crate::model::{CompanyStatus, CompanyType};
use crate::service::{api_keys, auth, platform, team};
use async_graphql::{Context, InputObject, Object, Result};
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::request_parts;

#[derive(Default)]
pub struct TenancyQuery;

/// Which companies to list: every given field must match.
#[derive(InputObject, Default)]
pub struct CompanyFilter {
    /// Only companies with this status (PENDING_APPROVAL: those waiting for a decision).
    pub status: Option<CompanyStatus>,
    /// Only companies of this type.
    #[graphql(name = "type")]
    pub company_type: Option<CompanyType>,
    /// Part of the name, any case.
    pub search: Option<String>,
}

/// The days a usage read covers.
#[derive(async_graphql::InputObject)]
pub struct UsagePeriodInput {
    /// The first day (UTC).
    pub from: ils_kernel::scalars::Date,
    /// The last day (UTC), included.
    pub to: ils_kernel::scalars::Date,
}

#[Object]
impl TenancyQuery {
    /// What the company's callers asked of the API over a period (at most 366 days,
    /// UTC days, both ends included), per caller and operation: requests, cost points,
    /// refusals by the rate limits, and errors. Company admins see every caller; an API
    /// key sees its own use only. Counts reach it within a few seconds.
    async fn usage(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The days to read.")] period: UsagePeriodInput,
    ) -> Result<Vec<super::types::UsageEntry>> {
        let (tenant, db) = request_parts(ctx)?;
        let entries = crate::service::usage::read(db, tenant, period.from.0, period.to.0).await?;
        Ok(entries
            .into_iter()
            .filter_map(super::types::UsageEntry::of)
            .collect())
    }

    /// The onboarding checklist of the caller's company (any member, or the company's API
    /// key): each step is done when the company has done what it says.
    async fn onboarding(&self, ctx: &Context<'_>) -> Result<super::types::Onboarding> {
        let (tenant, db) = request_parts(ctx)?;
        let checklist = ctx
            .data::<ils_kernel::onboarding::Checklist>()
            .map_err(|_| ils_kernel::AppError::internal("schema has no onboarding checklist"))?;
        let steps = crate::service::onboarding::of_caller(db, tenant, checklist).await?;
        Ok(super::types::Onboarding::of(steps))
    }

    /// Every plan and what it includes (anyone may ask: it is the price list).
    async fn plans(&self) -> Vec<super::types::PlanIncludes> {
        crate::model::Plan::iter()
            .map(|p| super::types::PlanIncludes::of(p, &Default::default()))
            .collect()
    }

    /// The caller: the signed-in user (with their company and roles) or the API key (with
    /// its company and roles). Anonymous callers get an UNAUTHENTICATED error (the field
    /// is nullable only so that the rest of a query still answers).
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<Me>> {
        let (tenant, db) = request_parts(ctx)?;
        let caller = auth::me(db, tenant).await?;
        Ok(Some(Me {
            roles: caller.roles,
            platform_admin: tenant.is_platform_admin(),
            user: caller.user.map(User),
            api_key: caller.api_key.map(ApiKey),
            company: caller.company.map(Company),
        }))
    }

    /// The members of the acting company, active and deactivated, oldest first.
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<User>> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(team::users(
            db,
            tenant,
            PageArgs::new(ctx, first, after, last, before),
            User,
        )
        .await?)
    }

    /// Invitations of the acting company (company admins).
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<Invitation>> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(team::invitations(
            db,
            tenant,
            PageArgs::new(ctx, first, after, last, before),
            Invitation,
        )
        .await?)
    }

    /// API keys of the acting company, without their secrets (company admins).
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<ApiKey>> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(api_keys::list(
            db,
            tenant,
            PageArgs::new(ctx, first, after, last, before),
            ApiKey,
        )
        .await?)
    }

    /// Every company on the platform, oldest first (platform admins only).
    async fn companies(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the companies that match; all when omitted.")] filter: Option<
            CompanyFilter,
        >,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<Company>> {
        let (tenant, db) = request_parts(ctx)?;
        let f = filter.unwrap_or_default();
        let filter = platform::CompanyFilter {
            status: f.status,
            company_type: f.company_type,
            search: f.search,
        };
        Ok(platform::companies(
            db,
            tenant,
            filter,
            PageArgs::new(ctx, first, after, last, before),
            Company,
        )
        .await?)
    }
}
