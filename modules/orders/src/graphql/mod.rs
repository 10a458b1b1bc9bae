//! The orders module's GraphQL face: object and input types, and thin resolvers that call
//! `crate::service`.

pub mod export;
pub mod import;
pub mod node;
pub mod orders;
pub mod patients;
pub mod prescriptions;
pub mod turnaround;

pub use export::ExportQuery;
pub use import::DcsImportMutation;
pub use orders::{LensOrdersMutation, LensOrdersQuery, LensOrdersSubscription};
pub use patients::{PatientsMutation, PatientsQuery};
pub use prescriptions::{PrescriptionsMutation, PrescriptionsQuery};
pub use turnaround::{TurnaroundMutation, TurnaroundQuery};
