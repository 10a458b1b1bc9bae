//! The orders domain without the database or GraphQL: the lifecycle, the job's parts and
//! its checks, a lab's turnaround rules, and how an order reads from and writes to a DCS
//! file. (The prescription maths, the lens and the DCS parser are the crate's `rx`, `lens`
//! and `dcs`.)

pub mod dcs_job;
pub mod job;
pub mod state;
pub mod turnaround;

pub use job::{Fit, check_job, measures_out_of_range};
pub use state::{
    JobType, LAB_MEASURES, OrderStatus, Party, ProductionStage, REMADE_FROM, RemakeReason, allowed,
};
pub use turnaround::LabTurnaround;

/// The global ID type name of a lens order.
pub const ORDER: &str = "LensOrder";
/// The global ID type name of a patient.
pub const PATIENT: &str = "Patient";
/// The global ID type name of a prescription.
pub const PRESCRIPTION: &str = "Prescription";
