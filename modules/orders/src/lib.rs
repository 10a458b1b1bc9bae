//! Lens orders between practices and labs: patients and prescriptions (the practice's
//! health data), validated orders, the lab's workflow, live tracking, and DCS (OMA) job
//! files.
//!
//! `graphql` holds the types and thin resolvers, `service` the work (and the mail job),
//! `model` the domain without the database (the order's lifecycle, the job's checks, a
//! lab's turnaround rules, orders as DCS files), `events` what order changes announce.
//! The optical maths (`rx`), the lens (`lens`) and the lossless DCS file parser (`dcs`)
//! are pure too.

pub mod dcs;
pub mod events;
pub mod graphql;
mod json;
pub mod lens;
pub mod model;
pub mod onboarding;
pub mod rx;
pub mod service;
pub mod tools;

use async_graphql::{MergedObject, MergedSubscription};

/// The orders module, as the server assembles it.
pub struct Orders;

#[derive(MergedObject, Default)]
pub struct OrdersQuery(
    graphql::LensOrdersQuery,
    graphql::ExportQuery,
    graphql::PatientsQuery,
    graphql::PrescriptionsQuery,
    graphql::TurnaroundQuery,
);

#[derive(MergedObject, Default)]
pub struct OrdersMutation(
    graphql::LensOrdersMutation,
    graphql::PatientsMutation,
    graphql::PrescriptionsMutation,
    graphql::DcsImportMutation,
    graphql::TurnaroundMutation,
);

#[derive(MergedSubscription, Default)]
pub struct OrdersSubscription(graphql::LensOrdersSubscription);

impl ils_kernel::Module for Orders {
    const NAME: &'static str = "orders";
    type Query = OrdersQuery;
    type Mutation = OrdersMutation;
    type Subscription = OrdersSubscription;

    fn node_types() -> Vec<ils_kernel::node::NodeType> {
        graphql::node::node_types()
    }

    fn fetch_nodes(req: ils_kernel::node::NodeRequest<'_>) -> ils_kernel::node::NodeFetch<'_> {
        Box::pin(graphql::node::fetch_many(req))
    }

    fn jobs() -> Vec<ils_kernel::JobKind> {
        vec![service::notify::mail_kind()]
    }

    fn tools() -> Vec<ils_kernel::tools::Tool> {
        tools::tools()
    }

    fn onboarding() -> Vec<ils_kernel::onboarding::Step> {
        onboarding::steps()
    }

    fn tables() -> Vec<ils_kernel::module::Table> {
        use ils_entity::*;
        vec![
            ils_kernel::module::Table::of::<patient::Entity>(),
            ils_kernel::module::Table::of::<prescription::Entity>(),
            ils_kernel::module::Table::of::<lab_turnaround::Entity>(),
            ils_kernel::module::Table::of::<lens_order::Entity>(),
            ils_kernel::module::Table::of::<order_status_change::Entity>(),
        ]
    }
}
