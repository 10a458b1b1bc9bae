//! Tenancy: companies, users and their roles, sign-up and log-in, sessions, invitations,
//! API keys, and the platform operator's approvals.

pub mod events;
pub mod graphql;
pub mod model;
pub mod password;
pub mod service;
pub mod tokens;

/// The tenancy module, as the server assembles it.
pub struct Tenancy;

impl ils_kernel::Module for Tenancy {
    const NAME: &'static str = "tenancy";
    type Query = graphql::TenancyQuery;
    type Mutation = graphql::TenancyMutation;
    type Subscription = ils_kernel::module::NoSubscription;

    fn node_types() -> Vec<ils_kernel::node::NodeType> {
        graphql::node::node_types()
    }

    fn fetch_nodes(req: ils_kernel::node::NodeRequest<'_>) -> ils_kernel::node::NodeFetch<'_> {
        Box::pin(graphql::node::fetch_many(req))
    }

    fn jobs() -> Vec<ils_kernel::JobKind> {
        vec![service::prune::prune_kind()]
    }

    fn schedules() -> Vec<ils_kernel::jobs::Schedule> {
        vec![service::prune::prune_schedule()]
    }

    fn onboarding() -> Vec<ils_kernel::onboarding::Step> {
        service::onboarding::steps()
    }

    fn tables() -> Vec<ils_kernel::module::Table> {
        use ils_entity::*;
        vec![
            ils_kernel::module::Table::of::<company::Entity>(),
            ils_kernel::module::Table::of::<user::Entity>(),
            ils_kernel::module::Table::of::<invitation::Entity>(),
            ils_kernel::module::Table::of::<api_key::Entity>(),
            ils_kernel::module::Table::of::<refresh_token::Entity>(),
            ils_kernel::module::Table::of::<sign_up_request::Entity>(),
            ils_kernel::module::Table::of::<usage_daily::Entity>(),
        ]
    }
}
