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
    type Subscription = async_graphql::EmptySubscription;
}
