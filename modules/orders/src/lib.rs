//! Lens orders between practices and labs: patients and prescriptions (the practice's
//! health data), validated orders, the lab's workflow, live tracking, and DCS (OMA) job
//! files.

pub mod dcs;
pub mod export;
pub mod import;
mod json;
pub mod lens;
pub mod node;
pub mod notify;
pub mod orders;
pub mod patients;
pub mod prescriptions;
pub mod rx;
pub mod turnaround;

use async_graphql::{MergedObject, MergedSubscription};

/// The orders module, as the server assembles it.
pub struct Orders;

#[derive(MergedObject, Default)]
pub struct OrdersQuery(
    orders::LensOrdersQuery,
    export::ExportQuery,
    patients::PatientsQuery,
    prescriptions::PrescriptionsQuery,
    turnaround::TurnaroundQuery,
);

#[derive(MergedObject, Default)]
pub struct OrdersMutation(
    orders::LensOrdersMutation,
    patients::PatientsMutation,
    prescriptions::PrescriptionsMutation,
    import::DcsImportMutation,
    turnaround::TurnaroundMutation,
);

#[derive(MergedSubscription, Default)]
pub struct OrdersSubscription(orders::LensOrdersSubscription);

impl ils_kernel::Module for Orders {
    const NAME: &'static str = "orders";
    type Query = OrdersQuery;
    type Mutation = OrdersMutation;
    type Subscription = OrdersSubscription;

    fn node_types() -> Vec<ils_kernel::node::NodeType> {
        node::node_types()
    }

    fn fetch_nodes(req: ils_kernel::node::NodeRequest<'_>) -> ils_kernel::node::NodeFetch<'_> {
        Box::pin(node::fetch_many(req))
    }

    fn jobs() -> Vec<ils_kernel::JobKind> {
        vec![notify::mail_kind()]
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
