use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

crate::string_enum!(
    /// Where a lens order stands. The practice drafts, submits, may cancel before
    /// production, and marks the job ARRIVED and DELIVERED (to the patient); the lab
    /// RECEIVES it (accepts, with its job number and due date), may put it ON_HOLD with a
    /// question or REJECT it, then moves it through production and quality check and SHIPS it.
    OrderStatus {
        /// Being written by the practice; only the practice sees it, and its job may still
        /// change (`updateOrderDraft`).
        Draft = "DRAFT",
        /// Sent to the lab, checked, waiting for the lab to accept or reject it.
        Submitted = "SUBMITTED",
        /// Accepted by the lab, with its job number and due date.
        Received = "RECEIVED",
        /// The lab asked the practice a question (`holdQuestion`) and waits for the answer.
        OnHold = "ON_HOLD",
        /// Being made; `productionStage` says where.
        InProduction = "IN_PRODUCTION",
        /// Made, being inspected by the lab.
        QualityCheck = "QUALITY_CHECK",
        /// On its way to the practice (`carrier`, `trackingNumber`).
        Shipped = "SHIPPED",
        /// Received by the practice.
        Arrived = "ARRIVED",
        /// Handed to the patient: the order is finished.
        Delivered = "DELIVERED",
        /// Withdrawn by the practice before production (`cancelReason`): finished.
        Cancelled = "CANCELLED",
        /// Refused by the lab (`rejectReason`): finished.
        Rejected = "REJECTED",
    }
);

impl OrderStatus {
    /// Whether nothing more happens to an order in this status.
    pub fn finished(self) -> bool {
        matches!(
            self,
            OrderStatus::Delivered | OrderStatus::Cancelled | OrderStatus::Rejected
        )
    }
}

crate::string_enum!(
    /// Whether a job is a first pair or a lens made again.
    JobType {
        /// A new job.
        New = "NEW",
        /// A job made again for an earlier order (`remakeOf`), for a `remakeReason`.
        Remake = "REMAKE",
    }
);

crate::string_enum!(
    /// Why a job is made again.
    RemakeReason {
        /// The lab made the lens wrong.
        LabError = "LAB_ERROR",
        /// The practice measured or ordered wrong.
        PractitionerError = "PRACTITIONER_ERROR",
        /// A fault covered by the lens's warranty (coating failure, say).
        Warranty = "WARRANTY",
        /// The patient cannot get used to the lens (a progressive, typically).
        NonAdapt = "NON_ADAPT",
    }
);

crate::string_enum!(
    /// Which lenses a job is for: a pair, or one eye's (a DCS file's `DO=B`, `DO=R`, `DO=L`).
    Eyes {
        /// Both lenses (a pair).
        Both = "BOTH",
        /// The right lens only (OD).
        Right = "RIGHT",
        /// The left lens only (OS).
        Left = "LEFT",
    }
);

crate::string_enum!(
    /// Where an order IN_PRODUCTION is in the lab.
    ProductionStage {
        /// The lens's powers are ground and polished into the blank.
        Surfacing = "SURFACING",
        /// Treatments (anti-reflective, hard coat, tint…) are applied.
        Coating = "COATING",
        /// The lens is cut to the frame's shape.
        Edging = "EDGING",
        /// The lenses are fitted into the frame.
        Assembly = "ASSEMBLY",
    }
);

/// A spectacle lens job from a practice to a lab: one row both parties see (the practice
/// owns it; the lab is a party once the order is submitted to it).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lens_orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The practice (ECP).
    pub company_id: Uuid,
    /// The lab, once submitted.
    pub lab_company_id: Option<Uuid>,
    /// The lab's name as the practice's connection knew it at submission.
    pub lab_name: Option<String>,
    /// Human-readable, per practice: `ORD-000042`.
    pub order_number: String,
    pub status: OrderStatus,
    /// Bumped by every change: a move names the version it saw (optimistic locking).
    pub version: i32,
    pub patient_id: Option<Uuid>,
    /// What the lab sees of the patient: a reference, not a name.
    pub patient_ref: String,
    /// The patient's name, copied only when the practice chose to share it on this order.
    pub patient_name: Option<String>,
    /// Shared only when the practice chose to, like the name.
    pub patient_birth_date: Option<Date>,
    /// The prescription for this job (JSON, as entered) and its minus-cyl form.
    #[sea_orm(column_type = "Text")]
    pub rx: String,
    #[sea_orm(column_type = "Text")]
    pub rx_minus_cyl: String,
    /// The lens (JSON: design, index, coatings, tint, product code).
    #[sea_orm(column_type = "Text")]
    pub lens: String,
    /// The frame (JSON), or none while the frame is to come.
    #[sea_orm(column_type = "Text", nullable)]
    pub frame: Option<String>,
    /// Fitting heights per eye (JSON).
    #[sea_orm(column_type = "Text")]
    pub fit: String,
    pub job_type: JobType,
    pub remake_of: Option<Uuid>,
    pub remake_reason: Option<RemakeReason>,
    pub requested_date: Option<Date>,
    #[sea_orm(column_type = "Text", nullable)]
    pub notes: Option<String>,
    pub lab_job_number: Option<String>,
    /// The practice's own reference for the job (a DCS file's `JOB=`), written back as
    /// `JOB=` in the order's DCS file.
    pub external_ref: Option<String>,
    /// The DCS file the order was made from (its text), whose records the order's DCS file
    /// keeps: unknown and vendor labels verbatim, with the order's own fields overlaid.
    #[sea_orm(column_type = "Text", nullable)]
    pub dcs_source: Option<String>,
    /// Which lenses the job is for.
    pub eyes: Eyes,
    pub due_date: Option<Date>,
    pub production_stage: Option<ProductionStage>,
    #[sea_orm(column_type = "Text", nullable)]
    pub hold_question: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub hold_answer: Option<String>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub reject_reason: Option<String>,
    pub cancel_reason: Option<String>,
    pub submitted_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

// Pages of orders decode their rows by position (`by_position!`).
crate::by_position!(
    id,
    company_id,
    lab_company_id: nullable,
    lab_name: nullable,
    order_number,
    status,
    version,
    patient_id: nullable,
    patient_ref,
    patient_name: nullable,
    patient_birth_date: nullable,
    rx,
    rx_minus_cyl,
    lens,
    frame: nullable,
    fit,
    job_type,
    remake_of: nullable,
    remake_reason: nullable,
    requested_date: nullable,
    notes: nullable,
    lab_job_number: nullable,
    external_ref: nullable,
    dcs_source: nullable,
    eyes,
    due_date: nullable,
    production_stage: nullable,
    hold_question: nullable,
    hold_answer: nullable,
    carrier: nullable,
    tracking_number: nullable,
    reject_reason: nullable,
    cancel_reason: nullable,
    submitted_at: nullable,
    created_at,
    updated_at,
);

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A lens order: the practice owns it; the lab it was sent to is the other party.
impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId).with_party(Column::LabCompanyId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    #[test]
    fn a_row_is_read_in_the_order_of_the_columns() {
        let columns: Vec<&str> = Column::iter().map(|c| c.as_str()).collect();
        assert_eq!(columns, Model::FIELDS);
    }
}
