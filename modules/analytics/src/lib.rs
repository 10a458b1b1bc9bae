//! Analytics: each company's dashboards, from rollups kept by an event handler on the
//! outbox (`rollup`, with the figures each record adds in `facts`) and read by
//! `dashboard`; exported as CSV by `export`. `disclosure` is the control every published
//! market figure will pass (minimum contributors, dominance, complementary suppression,
//! clipping and Laplace noise), pure and tested on its own; market insights and peer
//! benchmarks, which will go through it, are not built yet.

pub mod dashboard;
pub mod disclosure;
pub mod export;
pub mod facts;
pub mod graphql;
pub mod rollup;

/// The analytics module, as the server assembles it.
pub struct Analytics;

impl ils_kernel::Module for Analytics {
    const NAME: &'static str = "analytics";
    type Query = graphql::AnalyticsQuery;
    type Mutation = graphql::AnalyticsMutation;
    type Subscription = ils_kernel::module::NoSubscription;

    fn jobs() -> Vec<ils_kernel::JobKind> {
        vec![rollup::rollup_kind()]
    }

    fn tables() -> Vec<ils_kernel::module::Table> {
        use ils_entity::*;
        vec![
            ils_kernel::module::Table::of::<analytics_daily::Entity>(),
            ils_kernel::module::Table::of::<analytics_source::Entity>(),
        ]
    }
}
