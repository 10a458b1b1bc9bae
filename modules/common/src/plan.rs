//! Plans and what each includes: one table, read by every domain that refuses an action
//! beyond a plan (`PLAN_LIMIT`) and by the server's rate limiter. Apart from the features
//! a plan leaves out (analytics), reads never depend on the plan: a company that moved to
//! a smaller plan keeps and sees everything it has, and only new use beyond the smaller
//! plan is refused.

use ils_entity::company;
use ils_kernel::{AppError, AppResult, Tx, string_enum};
use uuid::Uuid;

string_enum!(
    /// A company's plan.
    Plan {
        /// The free plan for eye-care practices: approved at once.
        FreeEcp = "FREE_ECP",
        /// The full plan: labs and suppliers (approved by the platform), and practices that
        /// upgrade.
        Full = "FULL",
    }
);

/// One budget of the rate limiter: requests and cost points (a request's query
/// complexity) a minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    pub requests_per_minute: u64,
    pub cost_per_minute: u64,
}

impl Budget {
    pub const fn new(requests_per_minute: u64, cost_per_minute: u64) -> Budget {
        Budget {
            requests_per_minute,
            cost_per_minute,
        }
    }
}

/// The callers a budget is kept for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Caller {
    /// Each API key of the company.
    ApiKey,
    /// Each signed-in user of the company.
    User,
    /// The company as a whole: every key and user of it together.
    Company,
}

impl Caller {
    pub const ALL: [Caller; 3] = [Caller::ApiKey, Caller::User, Caller::Company];

    pub fn as_str(self) -> &'static str {
        match self {
            Caller::ApiKey => "API_KEY",
            Caller::User => "USER",
            Caller::Company => "COMPANY",
        }
    }
}

/// The rate budgets of a plan, per kind of caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budgets {
    pub api_key: Budget,
    pub user: Budget,
    pub company: Budget,
}

impl Budgets {
    pub fn of(&self, caller: Caller) -> Budget {
        match caller {
            Caller::ApiKey => self.api_key,
            Caller::User => self.user,
            Caller::Company => self.company,
        }
    }

    /// These budgets with a company's overrides (platform admins set them).
    pub fn with(mut self, overrides: &Overrides) -> Budgets {
        if let Some(b) = overrides.api_key {
            self.api_key = b;
        }
        if let Some(b) = overrides.user {
            self.user = b;
        }
        if let Some(b) = overrides.company {
            self.company = b;
        }
        self
    }
}

/// A company's budgets other than its plan's, kept as JSON on the company.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Budget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Budget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<Budget>,
}

impl Overrides {
    /// The overrides kept on a company (none when the column is empty or unreadable; an
    /// unreadable value is logged, and the plan's budgets apply).
    pub fn parse(kept: Option<&str>) -> Overrides {
        kept.and_then(|s| {
            serde_json::from_str(s)
                .inspect_err(|e| tracing::warn!(error = %e, "unreadable rate overrides"))
                .ok()
        })
        .unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }
}

/// What a plan includes. `None`: no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Includes {
    pub users: Option<u64>,
    pub api_keys: Option<u64>,
    pub webhook_endpoints: Option<u64>,
    /// Lens orders submitted in a calendar month (UTC).
    pub monthly_orders: Option<u64>,
    pub catalog_items: Option<u64>,
    pub budgets: Budgets,
    /// The assistant asks a language model (every plan has the built-in answers).
    pub assistant_model: bool,
    /// Dashboards, their exports and peer benchmarks.
    pub analytics: bool,
    /// API keys limited to a list of persisted operations (partner integrations).
    pub partner_operations: bool,
}

/// The table: what each plan includes.
pub const fn includes(plan: Plan) -> Includes {
    match plan {
        Plan::FreeEcp => Includes {
            users: Some(5),
            api_keys: Some(2),
            webhook_endpoints: Some(2),
            monthly_orders: Some(300),
            catalog_items: Some(500),
            budgets: Budgets {
                api_key: Budget::new(120, 12_000),
                user: Budget::new(300, 30_000),
                company: Budget::new(1_200, 120_000),
            },
            assistant_model: false,
            analytics: false,
            partner_operations: false,
        },
        Plan::Full => Includes {
            users: None,
            api_keys: None,
            webhook_endpoints: Some(20),
            monthly_orders: None,
            catalog_items: Some(100_000),
            budgets: Budgets {
                api_key: Budget::new(1_200, 120_000),
                user: Budget::new(1_200, 120_000),
                company: Budget::new(6_000, 600_000),
            },
            assistant_model: true,
            analytics: true,
            partner_operations: true,
        },
    }
}

/// Counted things a plan limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    Users,
    ApiKeys,
    WebhookEndpoints,
    MonthlyOrders,
    CatalogItems,
}

impl Counted {
    pub fn as_str(self) -> &'static str {
        match self {
            Counted::Users => "users",
            Counted::ApiKeys => "apiKeys",
            Counted::WebhookEndpoints => "webhookEndpoints",
            Counted::MonthlyOrders => "monthlyOrders",
            Counted::CatalogItems => "catalogItems",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Counted::Users => "users (active and invited)",
            Counted::ApiKeys => "active API keys",
            Counted::WebhookEndpoints => "webhook endpoints",
            Counted::MonthlyOrders => "lens orders submitted this month",
            Counted::CatalogItems => "catalog items",
        }
    }

    /// The most of this a company on `plan` may have (`None`: no limit).
    pub fn limit(self, plan: Plan) -> Option<u64> {
        self.of(&includes(plan))
    }

    fn of(self, i: &Includes) -> Option<u64> {
        match self {
            Counted::Users => i.users,
            Counted::ApiKeys => i.api_keys,
            Counted::WebhookEndpoints => i.webhook_endpoints,
            Counted::MonthlyOrders => i.monthly_orders,
            Counted::CatalogItems => i.catalog_items,
        }
    }
}

/// Features a plan may leave out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    AssistantModel,
    Analytics,
    PartnerOperations,
}

impl Feature {
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::AssistantModel => "assistantModel",
            Feature::Analytics => "analytics",
            Feature::PartnerOperations => "partnerOperations",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Feature::AssistantModel => "the assistant's language model",
            Feature::Analytics => "analytics",
            Feature::PartnerOperations => "partner operation lists",
        }
    }

    fn of(self, i: &Includes) -> bool {
        match self {
            Feature::AssistantModel => i.assistant_model,
            Feature::Analytics => i.analytics,
            Feature::PartnerOperations => i.partner_operations,
        }
    }
}

/// The smallest plan above `plan` whose limit of `counted` is above `used` (none when no
/// plan is).
fn lifted_count(plan: Plan, counted: Counted, used: u64) -> Option<Plan> {
    Plan::iter()
        .filter(|p| p.rank() > plan.rank())
        .find(|p| counted.of(&includes(*p)).is_none_or(|max| used < max))
}

impl Plan {
    pub fn iter() -> impl Iterator<Item = Plan> {
        [Plan::FreeEcp, Plan::Full].into_iter()
    }

    /// Plans in order of what they include.
    fn rank(self) -> u8 {
        match self {
            Plan::FreeEcp => 0,
            Plan::Full => 1,
        }
    }
}

/// A company's plan, read in the scope of `tx` (a company that cannot be read, or whose
/// plan this release does not know, is on the smallest plan).
pub async fn plan_of(tx: &Tx, company: Uuid) -> AppResult<Plan> {
    let row = tx.find::<company::Entity>(company).await?;
    Ok(row
        .and_then(|c| Plan::parse(&c.plan))
        .unwrap_or(Plan::FreeEcp))
}

/// A company's plan, its row held until `tx` ends (PostgreSQL; SQLite's writer holds the
/// database already): what a count against the plan is taken under, so that two
/// additions at once cannot both see room for one. Inserts elsewhere that merely
/// reference the company go on (`Tx::hold`).
pub async fn hold(tx: &Tx, company: Uuid) -> AppResult<Plan> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let row = tx
        .hold(
            tx.select::<company::Entity>()
                .filter(company::Column::Id.eq(company)),
        )
        .one(tx.conn())
        .await?;
    Ok(row
        .and_then(|c| Plan::parse(&c.plan))
        .unwrap_or(Plan::FreeEcp))
}

/// Refuses one more of `counted` when the company's plan allows no more: `PLAN_LIMIT`,
/// with the limit and the plan that lifts it. When the plan has a limit, `count` (how
/// many the company has) runs under `hold`; otherwise nothing is held or counted.
pub async fn allow_one_more(
    tx: &Tx,
    company: Uuid,
    counted: Counted,
    count: impl std::future::Future<Output = AppResult<u64>>,
) -> AppResult<()> {
    match hold_if_limited(tx, company, counted).await? {
        Some(plan) => check_count(plan, counted, count.await?),
        None => Ok(()),
    }
}

/// The company's plan, held (`hold`) when it limits `counted`; `None` when it does not
/// (then nothing is held, and nothing need be counted).
pub async fn hold_if_limited(tx: &Tx, company: Uuid, counted: Counted) -> AppResult<Option<Plan>> {
    if counted.limit(plan_of(tx, company).await?).is_none() {
        return Ok(None);
    }
    hold(tx, company).await.map(Some)
}

/// `allow_one_more` for a known plan (pure).
pub fn check_count(plan: Plan, counted: Counted, used: u64) -> AppResult<()> {
    let Some(max) = counted.of(&includes(plan)) else {
        return Ok(());
    };
    if used < max {
        return Ok(());
    }
    let lifted = lifted_count(plan, counted, used);
    let then = match lifted {
        Some(p) => format!("; the {} plan allows more", p.as_str()),
        None => String::new(),
    };
    Err(AppError::PlanLimit {
        message: format!(
            "the {} plan includes {max} {}{then}",
            plan.as_str(),
            counted.describe()
        ),
        limit: counted.as_str().to_owned(),
        max: Some(max),
        plan: lifted.map(|p| p.as_str().to_owned()),
    })
}

/// Refuses an action that needs `feature` when the company's plan leaves it out.
pub async fn require(tx: &Tx, company: Uuid, feature: Feature) -> AppResult<()> {
    let plan = plan_of(tx, company).await?;
    check_feature(plan, feature)
}

/// `require` for a known plan (pure).
pub fn check_feature(plan: Plan, feature: Feature) -> AppResult<()> {
    if feature.of(&includes(plan)) {
        return Ok(());
    }
    let lifted = Plan::iter().find(|p| p.rank() > plan.rank() && feature.of(&includes(*p)));
    Err(AppError::PlanLimit {
        message: format!(
            "{} is not included in the {} plan{}",
            feature.describe(),
            plan.as_str(),
            lifted
                .map(|p| format!("; the {} plan includes it", p.as_str()))
                .unwrap_or_default()
        ),
        limit: feature.as_str().to_owned(),
        max: None,
        plan: lifted.map(|p| p.as_str().to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(r: AppResult<()>) -> (String, String, Option<u64>, Option<String>) {
        match r {
            Err(AppError::PlanLimit {
                message,
                limit,
                max,
                plan,
            }) => (message, limit, max, plan),
            other => panic!("expected PLAN_LIMIT, got {other:?}"),
        }
    }

    #[test]
    fn a_count_below_the_plan_passes_and_at_it_names_the_plan_that_lifts_it() {
        assert!(check_count(Plan::FreeEcp, Counted::Users, 4).is_ok());
        let (message, limit, max, plan) = refused(check_count(Plan::FreeEcp, Counted::Users, 5));
        assert_eq!(limit, "users");
        assert_eq!(max, Some(5));
        assert_eq!(plan.as_deref(), Some("FULL"));
        assert!(
            message.contains("FREE_ECP plan includes 5 users"),
            "{message}"
        );
        // The full plan has no monthly order limit; its webhook limit has no plan above.
        assert!(check_count(Plan::Full, Counted::MonthlyOrders, 1_000_000).is_ok());
        let (_, _, max, plan) = refused(check_count(Plan::Full, Counted::WebhookEndpoints, 20));
        assert_eq!((max, plan), (Some(20), None));
    }

    #[test]
    fn features_of_the_full_plan_are_refused_on_the_free_one() {
        for f in [
            Feature::AssistantModel,
            Feature::Analytics,
            Feature::PartnerOperations,
        ] {
            assert!(check_feature(Plan::Full, f).is_ok());
            let (_, limit, max, plan) = refused(check_feature(Plan::FreeEcp, f));
            assert_eq!((limit.as_str(), max), (f.as_str(), None));
            assert_eq!(plan.as_deref(), Some("FULL"));
        }
    }

    #[test]
    fn overrides_replace_only_the_budgets_they_name() {
        let base = includes(Plan::FreeEcp).budgets;
        let o = Overrides::parse(Some(
            r#"{"apiKey":{"requestsPerMinute":5,"costPerMinute":50}}"#,
        ));
        let b = base.with(&o);
        assert_eq!(b.api_key, Budget::new(5, 50));
        assert_eq!((b.user, b.company), (base.user, base.company));
        assert!(Overrides::parse(Some("not json")).is_empty());
        assert!(Overrides::parse(None).is_empty());
    }

    #[test]
    fn a_bigger_plan_includes_at_least_as_much() {
        let (free, full) = (includes(Plan::FreeEcp), includes(Plan::Full));
        for c in [
            Counted::Users,
            Counted::ApiKeys,
            Counted::WebhookEndpoints,
            Counted::MonthlyOrders,
            Counted::CatalogItems,
        ] {
            let (a, b) = (c.of(&free), c.of(&full));
            assert!(b.is_none() || a.is_some_and(|a| a <= b.unwrap()), "{c:?}");
        }
        for caller in Caller::ALL {
            let (a, b) = (free.budgets.of(caller), full.budgets.of(caller));
            assert!(a.requests_per_minute <= b.requests_per_minute);
            assert!(a.cost_per_minute <= b.cost_per_minute);
        }
    }
}
