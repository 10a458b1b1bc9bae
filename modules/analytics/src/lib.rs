//! Analytics: each company's dashboards, from rollups kept by an event handler on the
//! outbox (`rollup`, with the figures each record adds in `facts`) and read by
//! `dashboard`; exported as CSV by `export`. Market insights and peer figures
//! (`insights`): monthly releases across companies, every figure through `disclosure`
//! (minimum contributors, dominance, complementary suppression, clipping and Laplace
//! noise), the one place those rules live.

pub mod dashboard;
pub mod disclosure;
pub mod export;
pub mod facts;
pub mod graphql;
pub mod insights;
pub mod rollup;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct AnalyticsQuery(graphql::DashboardQuery, graphql::InsightsQuery);

#[derive(MergedObject, Default)]
pub struct AnalyticsMutation(graphql::DashboardMutation, graphql::InsightsMutation);

/// The analytics module, as the server assembles it.
pub struct Analytics;

impl ils_kernel::Module for Analytics {
    const NAME: &'static str = "analytics";
    type Query = AnalyticsQuery;
    type Mutation = AnalyticsMutation;
    type Subscription = ils_kernel::module::NoSubscription;

    fn jobs() -> Vec<ils_kernel::JobKind> {
        vec![rollup::rollup_kind(), insights::release_kind()]
    }

    fn schedules() -> Vec<ils_kernel::jobs::Schedule> {
        vec![insights::release_schedule()]
    }

    fn tables() -> Vec<ils_kernel::module::Table> {
        use ils_entity::*;
        vec![
            ils_kernel::module::Table::of::<analytics_daily::Entity>(),
            ils_kernel::module::Table::of::<analytics_source::Entity>(),
            ils_kernel::module::Table::of::<analytics_settings::Entity>(),
            ils_kernel::module::Table::of::<insight_release::Entity>(),
        ]
    }
}
