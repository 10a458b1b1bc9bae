//! Lens orders: a practice drafts a job, submits it to a lab it is actively connected to,
//! and both follow it through the lab's workflow to delivery. One row both parties see
//! (the guard's parties and, on PostgreSQL, row-level security); every move names the
//! version it saw, so two racing moves cannot both win; every move is kept in the history.

use crate::json::{enc, stored};
pub use crate::lens::LensSpec;
use crate::patients::{PATIENT, practice_tx};
use crate::prescriptions::PRESCRIPTION;
use crate::rx::{EyeFit, FrameMeasure, Rx, minus_cyl, validate_fit, validate_rx};
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use ils_common::catalog::draft::{FieldError, LensDesign};
use ils_common::company::COMPANY;
use ils_common::company::{CompanyStatus, CompanyType};
use ils_common::search;
use ils_common::validate;
use ils_entity::prescription;
use ils_entity::{company, lens_order as order, order_status_change as change, patient};
use ils_kernel::authz::require_member;
use ils_kernel::connections::active_partner;
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, ClientInfo, Db, TenantContext, Tx, id, request_parts};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, PaginatorTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ORDER: &str = "LensOrder";

ils_kernel::string_enum!(
    /// Where a lens order stands. The practice drafts, submits, may cancel before
    /// production, and marks the job ARRIVED and DELIVERED (to the patient); the lab
    /// RECEIVES it (accepts, with its job number and due date), may put it ON_HOLD with a
    /// question or REJECT it, then moves it through production and quality check and SHIPS it.
    OrderStatus {
        Draft = "DRAFT",
        Submitted = "SUBMITTED",
        Received = "RECEIVED",
        OnHold = "ON_HOLD",
        InProduction = "IN_PRODUCTION",
        QualityCheck = "QUALITY_CHECK",
        Shipped = "SHIPPED",
        Arrived = "ARRIVED",
        Delivered = "DELIVERED",
        Cancelled = "CANCELLED",
        Rejected = "REJECTED",
    }
);

ils_kernel::string_enum!(JobType { New = "NEW", Remake = "REMAKE" });

ils_kernel::string_enum!(
    /// Why a job is made again.
    RemakeReason {
        LabError = "LAB_ERROR",
        PractitionerError = "PRACTITIONER_ERROR",
        Warranty = "WARRANTY",
        NonAdapt = "NON_ADAPT",
    }
);

ils_kernel::string_enum!(
    ProductionStage {
        Surfacing = "SURFACING",
        Coating = "COATING",
        Edging = "EDGING",
        Assembly = "ASSEMBLY",
    }
);

/// Which side of an order a company is on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Party {
    Practice,
    Lab,
}

/// Every move each party may make: (from, to, who).
const MOVES: &[(OrderStatus, OrderStatus, Party)] = {
    use OrderStatus::*;
    use Party::*;
    &[
        (Submitted, Cancelled, Practice),
        (Received, Cancelled, Practice),
        (OnHold, Cancelled, Practice),
        (OnHold, Received, Practice), // the practice answers the lab's question
        (Shipped, Arrived, Practice),
        (Arrived, Delivered, Practice),
        (Submitted, Received, Lab),
        (Submitted, Rejected, Lab),
        (Received, Rejected, Lab),
        (Received, OnHold, Lab),
        (Received, InProduction, Lab),
        (InProduction, InProduction, Lab), // the next production stage
        (InProduction, QualityCheck, Lab),
        (QualityCheck, InProduction, Lab), // failed inspection: back to a stage
        (QualityCheck, Shipped, Lab),
    ]
};

/// Where `party` may move an order that is in `from`.
pub fn allowed(from: OrderStatus, party: Party) -> Vec<OrderStatus> {
    MOVES
        .iter()
        .filter(|(f, _, p)| *f == from && *p == party)
        .map(|(_, t, _)| *t)
        .collect()
}

/// Fitting heights per eye.
#[derive(SimpleObject, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fit {
    pub right: EyeFit,
    pub left: EyeFit,
}

#[derive(InputObject)]
pub struct DraftOrderInput {
    /// One of your patients; or give only `patientRef`.
    pub patient_id: Option<ID>,
    /// What the lab sees of the patient (defaults to the patient's external reference).
    pub patient_ref: Option<String>,
    /// Show the patient's name to the lab on this order (default false).
    pub share_patient_name: Option<bool>,
    /// Show the patient's birth date to the lab on this order (default false).
    pub share_patient_birth_date: Option<bool>,
    /// A stored prescription to copy, or `rx`; a draft may wait for either.
    pub prescription_id: Option<ID>,
    pub rx: Option<Rx>,
    /// The lens; a draft may wait for it.
    pub lens: Option<LensSpec>,
    /// The frame's measurements; leave out while the frame is to come.
    pub frame: Option<FrameMeasure>,
    pub right: Option<EyeFit>,
    pub left: Option<EyeFit>,
    pub job_type: Option<JobType>,
    /// For a REMAKE: the earlier order.
    pub remake_of: Option<ID>,
    pub remake_reason: Option<RemakeReason>,
    pub requested_date: Option<NaiveDate>,
    pub notes: Option<String>,
}

/// A move of an order, with what that move needs.
#[derive(InputObject)]
pub struct MoveOrderInput {
    pub id: ID,
    /// The version you saw: a move on a changed order is CONFLICT.
    pub version: i32,
    pub to: OrderStatus,
    /// IN_PRODUCTION: the stage.
    pub stage: Option<ProductionStage>,
    /// ON_HOLD: the lab's question.
    pub question: Option<String>,
    /// ON_HOLD -> RECEIVED: the practice's answer.
    pub answer: Option<String>,
    /// REJECTED: why.
    pub reason: Option<String>,
    /// SHIPPED.
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    /// RECEIVED by the lab: its job number (generated when absent) and due date
    /// (computed from the design and treatments when absent).
    pub lab_job_number: Option<String>,
    pub due_date: Option<NaiveDate>,
}

#[derive(Clone)]
pub struct LensOrder {
    pub row: order::Model,
    /// The company looking at it.
    pub viewer: Uuid,
}

#[derive(SimpleObject, Clone)]
pub struct StatusChange {
    pub from_status: Option<OrderStatus>,
    pub to_status: OrderStatus,
    /// The company that made the move.
    pub actor_company_id: Option<ID>,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

#[Object]
impl LensOrder {
    pub async fn id(&self) -> ID {
        id::encode(ORDER, self.row.id)
    }
    /// The practice's order number.
    async fn order_number(&self) -> &str {
        &self.row.order_number
    }
    async fn status(&self) -> Option<OrderStatus> {
        OrderStatus::parse(&self.row.status)
    }
    /// Name it in `moveOrder`.
    async fn version(&self) -> i32 {
        self.row.version
    }
    async fn practice_id(&self) -> ID {
        id::encode(COMPANY, self.row.company_id)
    }
    async fn lab_id(&self) -> Option<ID> {
        self.row.lab_company_id.map(|l| id::encode(COMPANY, l))
    }
    /// The lab's name, as your connection knew it when the order was submitted.
    async fn lab_name(&self) -> Option<&str> {
        self.row.lab_name.as_deref()
    }
    /// The practice's own patient record (the practice only).
    async fn patient_id(&self) -> Option<ID> {
        (self.viewer == self.row.company_id)
            .then_some(self.row.patient_id)
            .flatten()
            .map(|p| id::encode(PATIENT, p))
    }
    async fn patient_ref(&self) -> &str {
        &self.row.patient_ref
    }
    /// Only when the practice chose to share it on this order.
    async fn patient_name(&self) -> Option<&str> {
        self.row.patient_name.as_deref()
    }
    /// Only when the practice chose to share it on this order.
    async fn patient_birth_date(&self) -> Option<NaiveDate> {
        self.row.patient_birth_date
    }
    /// Null while a draft waits for its prescription.
    async fn rx(&self) -> Result<Option<Rx>> {
        Ok(stored(&self.row.rx)?)
    }
    /// The prescription in minus-cylinder form, as labs work.
    async fn rx_minus_cyl(&self) -> Result<Option<Rx>> {
        Ok(stored(&self.row.rx_minus_cyl)?)
    }
    /// Null while a draft waits for its lens.
    async fn lens(&self) -> Result<Option<LensSpec>> {
        Ok(stored(&self.row.lens)?)
    }
    /// Null while the frame is to come.
    async fn frame(&self) -> Result<Option<FrameMeasure>> {
        Ok(self.row.frame.as_deref().map(stored).transpose()?)
    }
    async fn fit(&self) -> Result<Fit> {
        Ok(stored(&self.row.fit)?)
    }
    async fn job_type(&self) -> Option<JobType> {
        JobType::parse(&self.row.job_type)
    }
    async fn remake_of(&self) -> Option<ID> {
        self.row.remake_of.map(|o| id::encode(ORDER, o))
    }
    async fn remake_reason(&self) -> Option<RemakeReason> {
        self.row
            .remake_reason
            .as_deref()
            .and_then(RemakeReason::parse)
    }
    async fn requested_date(&self) -> Option<NaiveDate> {
        self.row.requested_date
    }
    async fn notes(&self) -> Option<&str> {
        self.row.notes.as_deref()
    }
    async fn lab_job_number(&self) -> Option<&str> {
        self.row.lab_job_number.as_deref()
    }
    async fn due_date(&self) -> Option<NaiveDate> {
        self.row.due_date
    }
    async fn production_stage(&self) -> Option<ProductionStage> {
        self.row
            .production_stage
            .as_deref()
            .and_then(ProductionStage::parse)
    }
    async fn hold_question(&self) -> Option<&str> {
        self.row.hold_question.as_deref()
    }
    async fn hold_answer(&self) -> Option<&str> {
        self.row.hold_answer.as_deref()
    }
    async fn carrier(&self) -> Option<&str> {
        self.row.carrier.as_deref()
    }
    async fn tracking_number(&self) -> Option<&str> {
        self.row.tracking_number.as_deref()
    }
    /// Why the lab rejected the order.
    async fn reject_reason(&self) -> Option<&str> {
        self.row.reject_reason.as_deref()
    }
    /// Why the practice cancelled the order, if it said.
    async fn cancel_reason(&self) -> Option<&str> {
        self.row.cancel_reason.as_deref()
    }
    async fn submitted_at(&self) -> Option<DateTime<Utc>> {
        self.row.submitted_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
    /// Every move, oldest first, with who made it and when.
    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<StatusChange>> {
        let (tenant, db) = request_parts(ctx)?;
        let tx = db.tenant(tenant).await?;
        let rows = tx
            .select::<change::Entity>()
            .filter(change::Column::OrderId.eq(self.row.id))
            .order_by_asc(change::Column::Id)
            .all(tx.conn())
            .await
            .map_err(AppError::from)?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .filter_map(|c| {
                Some(StatusChange {
                    from_status: c.from_status.as_deref().and_then(OrderStatus::parse),
                    to_status: OrderStatus::parse(&c.to_status)?,
                    actor_company_id: c.actor_company_id.map(|a| id::encode(COMPANY, a)),
                    note: c.note,
                    at: c.created_at,
                })
            })
            .collect())
    }
}

const INDICES: [&str; 7] = ["1.50", "1.53", "1.56", "1.59", "1.60", "1.67", "1.74"];

/// Everything `submitOrder` checks, all at once, with input paths.
pub fn check_job(row: &order::Model, today: NaiveDate) -> Result<Vec<FieldError>, AppError> {
    let rx: Option<Rx> = stored(&row.rx)?;
    let lens: Option<LensSpec> = stored(&row.lens)?;
    let fit: Fit = stored(&row.fit)?;
    let frame: Option<FrameMeasure> = row.frame.as_deref().map(stored).transpose()?;
    let (rx, lens) = match (rx, lens) {
        (Some(rx), Some(lens)) => (rx, lens),
        (rx, lens) => {
            let mut missing = Vec::new();
            if rx.is_none() {
                missing.push(FieldError {
                    field: "rx".into(),
                    message: "the order needs a prescription".into(),
                });
            }
            if lens.is_none() {
                missing.push(FieldError {
                    field: "lens".into(),
                    message: "the order needs a lens".into(),
                });
            }
            // What can be checked without the missing part is checked too.
            if let Some(rx) = &rx {
                missing.extend(prefixed("rx.", validate_rx(rx, None, today)));
            }
            if let Some(frame) = &frame {
                let fit_errors = validate_fit(
                    LensDesign::SingleVision,
                    Some(frame),
                    &fit.right,
                    &fit.left,
                    &Rx::default(),
                );
                missing.extend(fit_errors);
            }
            return Ok(missing);
        }
    };
    let mut errors = prefixed("rx.", validate_rx(&rx, Some(lens.design), today));
    if rx.expires_on.is_some_and(|d| d < today) {
        errors.push(FieldError {
            field: "rx.expiresOn".into(),
            message: "the prescription has expired".into(),
        });
    }
    errors.extend(validate_fit(
        lens.design,
        frame.as_ref(),
        &fit.right,
        &fit.left,
        &rx,
    ));
    if let Some(frame) = &frame {
        errors.extend(crate::rx::validate_blank(frame, &rx));
    }
    if !INDICES
        .iter()
        .any(|i| i.parse::<Decimal>().ok() == Some(lens.index))
    {
        errors.push(FieldError {
            field: "lens.index".into(),
            message: format!("must be one of {}", INDICES.join(", ")),
        });
    }
    Ok(errors)
}

/// Errors with a path prefix (`rx.` + `right.axis`).
pub(crate) fn prefixed(prefix: &str, errors: Vec<FieldError>) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|e| FieldError {
            field: format!("{prefix}{}", e.field),
            message: e.message,
        })
        .collect()
}

fn text(value: Option<String>, field: &str, max: usize) -> AppResult<Option<String>> {
    validate::optional_text(value.as_deref(), field, max)
}

/// The job a draft input describes, checked for form (not yet for optics).
struct Job {
    patient_id: Option<Uuid>,
    patient_ref: String,
    patient_name: Option<String>,
    patient_birth_date: Option<NaiveDate>,
    rx: Option<Rx>,
    lens: Option<LensSpec>,
    frame: Option<FrameMeasure>,
    fit: Fit,
    job_type: JobType,
    remake_of: Option<Uuid>,
    remake_reason: Option<RemakeReason>,
    requested_date: Option<NaiveDate>,
    notes: Option<String>,
}

impl Job {
    /// The columns the job fills (the same for a new draft and a replaced one).
    fn columns(&self) -> AppResult<Vec<(order::Column, sea_orm::Value)>> {
        let minus = self.rx.as_ref().map(|rx| Rx {
            right: minus_cyl(&rx.right),
            left: minus_cyl(&rx.left),
            ..rx.clone()
        });
        use order::Column as C;
        Ok(vec![
            (C::PatientId, self.patient_id.into()),
            (C::PatientRef, self.patient_ref.clone().into()),
            (C::PatientName, self.patient_name.clone().into()),
            (C::PatientBirthDate, self.patient_birth_date.into()),
            (C::Rx, enc(&self.rx)?.into()),
            (C::RxMinusCyl, enc(&minus)?.into()),
            (C::Lens, enc(&self.lens)?.into()),
            (C::Frame, self.frame.as_ref().map(enc).transpose()?.into()),
            (C::Fit, enc(&self.fit)?.into()),
            (C::JobType, self.job_type.as_str().into()),
            (C::RemakeOf, self.remake_of.into()),
            (
                C::RemakeReason,
                self.remake_reason.map(|r| r.as_str().to_owned()).into(),
            ),
            (C::RequestedDate, self.requested_date.into()),
            (C::Notes, self.notes.clone().into()),
        ])
    }
}

/// Reads a draft input against the practice's own records (`me`).
async fn job_of(tx: &Tx, me: Uuid, input: DraftOrderInput) -> AppResult<Job> {
    check_magnitudes(&input)?;
    let patient = match &input.patient_id {
        Some(pid) => Some(
            tx.get::<patient::Entity>(id::decode(PATIENT, pid, "input.patientId")?)
                .await
                .map_err(|e| match e {
                    AppError::NotFound => AppError::bad_input("input.patientId", "no such patient"),
                    e => e,
                })?,
        ),
        None => None,
    };
    let patient_ref = match (text(input.patient_ref, "input.patientRef", 64)?, &patient) {
        (Some(r), _) => r,
        (None, Some(p)) => p
            .external_ref
            .clone()
            // Random, not derived from the record (a UUIDv7 prefix would tell its time).
            .unwrap_or_else(|| format!("P-{}", &Uuid::new_v4().simple().to_string()[..10])),
        (None, None) => {
            return Err(AppError::bad_input(
                "input.patientRef",
                "give a patient or a patient reference",
            ));
        }
    };
    let patient_name = match (input.share_patient_name.unwrap_or(false), &patient) {
        (true, Some(p)) => Some(format!("{} {}", p.first_name, p.last_name)),
        (true, None) => {
            return Err(AppError::bad_input(
                "input.sharePatientName",
                "there is no patient record to share",
            ));
        }
        (false, _) => None,
    };
    let patient_birth_date = match (input.share_patient_birth_date.unwrap_or(false), &patient) {
        (true, Some(p)) => Some(p.date_of_birth.ok_or_else(|| {
            AppError::bad_input(
                "input.sharePatientBirthDate",
                "the patient record has no birth date",
            )
        })?),
        (true, None) => {
            return Err(AppError::bad_input(
                "input.sharePatientBirthDate",
                "there is no patient record to share",
            ));
        }
        (false, _) => None,
    };
    let rx = match (&input.prescription_id, input.rx) {
        (Some(rid), None) => {
            let kept = tx
                .get::<prescription::Entity>(id::decode(PRESCRIPTION, rid, "input.prescriptionId")?)
                .await
                .map_err(|e| match e {
                    AppError::NotFound => {
                        AppError::bad_input("input.prescriptionId", "no such prescription")
                    }
                    e => e,
                })?;
            // The prescription must be this patient's.
            if patient.as_ref().is_some_and(|p| p.id != kept.patient_id) {
                return Err(AppError::bad_input(
                    "input.prescriptionId",
                    "this prescription is another patient's",
                ));
            }
            Some(stored::<Rx>(&kept.rx)?)
        }
        (None, rx) => rx,
        (Some(_), Some(_)) => {
            return Err(AppError::bad_input(
                "input.rx",
                "give either a prescriptionId or an rx, not both",
            ));
        }
    };
    let job_type = input.job_type.unwrap_or(JobType::New);
    let remake_of = match (job_type, &input.remake_of, input.remake_reason) {
        (JobType::New, None, None) => None,
        (JobType::Remake, Some(of), Some(_)) => {
            let earlier = id::decode(ORDER, of, "input.remakeOf")?;
            let found = tx
                .select::<order::Entity>()
                .filter(order::Column::Id.eq(earlier))
                .filter(order::Column::CompanyId.eq(me))
                .one(tx.conn())
                .await?;
            let Some(found) = found else {
                return Err(AppError::bad_input(
                    "input.remakeOf",
                    "no such order of yours",
                ));
            };
            // A remake replaces lenses that were made: the original has left the lab.
            let made = [
                OrderStatus::Shipped,
                OrderStatus::Arrived,
                OrderStatus::Delivered,
            ];
            if !made.iter().any(|s| s.as_str() == found.status) {
                return Err(AppError::bad_input(
                    "input.remakeOf",
                    format!(
                        "{} is {}: only a shipped, arrived or delivered order is remade",
                        found.order_number, found.status
                    ),
                ));
            }
            Some(earlier)
        }
        (JobType::Remake, _, _) => {
            return Err(AppError::bad_input(
                "input.remakeOf",
                "a remake names the earlier order and a reason",
            ));
        }
        (JobType::New, _, _) => {
            return Err(AppError::bad_input(
                "input.jobType",
                "remakeOf and remakeReason are for REMAKE jobs",
            ));
        }
    };
    Ok(Job {
        patient_id: patient.as_ref().map(|p| p.id),
        patient_ref,
        patient_name,
        patient_birth_date,
        rx,
        lens: input.lens,
        frame: input.frame,
        fit: Fit {
            right: input.right.unwrap_or_default(),
            left: input.left.unwrap_or_default(),
        },
        job_type,
        remake_of,
        remake_reason: input.remake_reason,
        requested_date: input.requested_date,
        notes: text(input.notes, "input.notes", 2000)?,
    })
}

/// A new draft for the acting practice; `note` goes on its first history step (where it
/// came from, say).
pub async fn draft(
    db: &Db,
    ctx: &TenantContext,
    input: DraftOrderInput,
    note: Option<String>,
) -> AppResult<order::Model> {
    let (tx, me) = practice_tx(db, ctx).await?;
    // One draft at a time per practice takes a number: the practice's row is locked
    // (PostgreSQL; SQLite writes one at a time anyway), so numbers never collide.
    tx.lock_for_update(
        tx.select::<company::Entity>()
            .filter(company::Column::Id.eq(me)),
    )
    .one(tx.conn())
    .await?;
    let job = job_of(&tx, me, input).await?;
    let row = new_draft(&tx, ctx, me, &job, note).await?;
    tx.commit().await?;
    Ok(row)
}

/// Inserts a draft of `job`, numbered by counting the practice's orders (under the lock on
/// the practice's row its caller took), with its first history step.
async fn new_draft(
    tx: &Tx,
    ctx: &TenantContext,
    me: Uuid,
    job: &Job,
    note: Option<String>,
) -> AppResult<order::Model> {
    let now = Utc::now();
    let n = tx
        .select::<order::Entity>()
        .filter(order::Column::CompanyId.eq(me))
        .count(tx.conn())
        .await?;
    let mut row = order::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: sea_orm::ActiveValue::NotSet,
        lab_company_id: Set(None),
        lab_name: Set(None),
        order_number: Set(format!("ORD-{:06}", n + 1)),
        status: Set(OrderStatus::Draft.as_str().into()),
        version: Set(1),
        lab_job_number: Set(None),
        due_date: Set(None),
        production_stage: Set(None),
        hold_question: Set(None),
        hold_answer: Set(None),
        carrier: Set(None),
        tracking_number: Set(None),
        reject_reason: Set(None),
        submitted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    for (column, value) in job.columns()? {
        sea_orm::ActiveModelTrait::set(&mut row, column, value);
    }
    let row = tx.insert(row).await?;
    history(tx, ctx, &row, None, OrderStatus::Draft, note).await?;
    Ok(row)
}

/// Replaces the whole job of the practice's own DRAFT, on the version the caller saw.
pub async fn update_draft(
    db: &Db,
    ctx: &TenantContext,
    order_id: Uuid,
    version: i32,
    input: DraftOrderInput,
) -> AppResult<order::Model> {
    let (tx, me) = practice_tx(db, ctx).await?;
    let row = tx.get::<order::Entity>(order_id).await?;
    if row.company_id != me {
        return Err(AppError::NotFound);
    }
    if row.status != OrderStatus::Draft.as_str() {
        return Err(AppError::Conflict(format!(
            "the order is {}, not DRAFT: its job can no longer change",
            row.status
        )));
    }
    let job = job_of(&tx, me, input).await?;
    if job.remake_of == Some(order_id) {
        return Err(AppError::bad_input(
            "input.remakeOf",
            "an order cannot remake itself",
        ));
    }
    let mut sets: Vec<(order::Column, SimpleExpr)> = job
        .columns()?
        .into_iter()
        .map(|(c, v)| (c, Expr::value(v)))
        .collect();
    sets.push((
        order::Column::Version,
        Expr::col(order::Column::Version).add(1),
    ));
    sets.push((order::Column::UpdatedAt, Expr::value(Utc::now())));
    let n = tx
        .update_many::<order::Entity>(
            sets,
            Condition::all()
                .add(order::Column::Id.eq(order_id))
                .add(order::Column::Version.eq(version))
                .add(order::Column::Status.eq(OrderStatus::Draft.as_str())),
        )
        .await?;
    if n == 0 {
        return Err(stale(&tx, order_id, version).await);
    }
    let row = tx.get::<order::Entity>(order_id).await?;
    tx.commit().await?;
    Ok(row)
}

/// The CONFLICT for a write that found the order changed since `version`.
async fn stale(tx: &Tx, order_id: Uuid, version: i32) -> AppError {
    match tx.get::<order::Entity>(order_id).await {
        Ok(now) => AppError::Conflict(format!(
            "the order changed: it is {} at version {} (you named version {version})",
            now.status, now.version
        )),
        Err(e) => e,
    }
}

/// Numbers far outside anything optical are refused before any arithmetic on them (the
/// optical grids are checked at submission; this keeps a draft from overflowing).
fn check_magnitudes(input: &DraftOrderInput) -> AppResult<()> {
    let limit = Decimal::from(1000);
    let mut values: Vec<(String, Decimal)> = Vec::new();
    if let Some(rx) = &input.rx {
        for (side, eye) in [("right", &rx.right), ("left", &rx.left)] {
            for (name, v) in [
                ("sphere", Some(eye.sphere)),
                ("cylinder", eye.cylinder),
                ("add", eye.add),
                ("prismHorizontal", eye.prism_horizontal),
                ("prismVertical", eye.prism_vertical),
                ("distancePd", eye.distance_pd),
                ("nearPd", eye.near_pd),
            ] {
                if let Some(v) = v {
                    values.push((format!("input.rx.{side}.{name}"), v));
                }
            }
            if eye.axis.is_some_and(|a| !(-1000..=1000).contains(&a)) {
                return Err(AppError::bad_input(
                    &format!("input.rx.{side}.axis"),
                    "out of range",
                ));
            }
        }
        values.extend(
            rx.binocular_pd
                .map(|v| ("input.rx.binocularPd".to_owned(), v)),
        );
        values.extend(
            rx.near_binocular_pd
                .map(|v| ("input.rx.nearBinocularPd".to_owned(), v)),
        );
    }
    if let Some(e) = measures_out_of_range(
        input.frame.as_ref(),
        input.right.as_ref(),
        input.left.as_ref(),
    ) {
        return Err(AppError::bad_input(
            &format!("input.{}", e.field),
            e.message,
        ));
    }
    if let Some(lens) = &input.lens {
        values.push(("input.lens.index".into(), lens.index));
    }
    for (field, v) in values {
        if v.abs() > limit {
            return Err(AppError::bad_input(&field, "out of range"));
        }
    }
    if let Some(lens) = &input.lens {
        let _ = text(lens.tint.clone(), "input.lens.tint", 100)?;
        let _ = text(lens.product_code.clone(), "input.lens.productCode", 64)?;
    }
    Ok(())
}

/// The first measurement far outside anything optical (refused before any arithmetic on
/// it), or a trace that is not one (the one list a client could make huge); paths are
/// relative (`frame.a`, `right.fittingHeight`, `frame.trace.radii`).
fn measures_out_of_range(
    frame: Option<&FrameMeasure>,
    right: Option<&EyeFit>,
    left: Option<&EyeFit>,
) -> Option<FieldError> {
    let limit = Decimal::from(1000);
    let mut values: Vec<(String, Decimal)> = Vec::new();
    if let Some(f) = frame {
        values.push(("frame.a".into(), f.a));
        values.push(("frame.b".into(), f.b));
        values.push(("frame.dbl".into(), f.dbl));
        values.extend(f.ed.map(|v| ("frame.ed".to_owned(), v)));
    }
    for (side, fit) in [("right", right), ("left", left)] {
        if let Some(h) = fit.and_then(|f| f.fitting_height) {
            values.push((format!("{side}.fittingHeight"), h));
        }
    }
    if let Some((field, _)) = values.into_iter().find(|(_, v)| v.abs() > limit) {
        return Some(FieldError {
            field,
            message: "out of range".into(),
        });
    }
    let trace = frame.and_then(|f| f.trace.as_ref())?;
    crate::rx::validate_trace(trace)
        .into_iter()
        .next()
        .map(|e| FieldError {
            field: format!("frame.{}", e.field),
            message: e.message,
        })
}

/// A value for a JSON text column.
async fn history(
    tx: &Tx,
    ctx: &TenantContext,
    row: &order::Model,
    from: Option<OrderStatus>,
    to: OrderStatus,
    note: Option<String>,
) -> AppResult<()> {
    tx.insert(change::ActiveModel {
        id: Set(Uuid::now_v7()),
        order_id: Set(row.id),
        company_id: Set(row.company_id),
        lab_company_id: Set(row.lab_company_id),
        from_status: Set(from.map(|f| f.as_str().into())),
        to_status: Set(to.as_str().into()),
        actor_company_id: Set(ctx.company_id()),
        actor_user_id: Set(ctx.responsible_user()),
        note: Set(note),
        created_at: Set(Utc::now()),
    })
    .await?;
    Ok(())
}

ils_kernel::domain_event!(OrderSubmitted, "order.submitted", admins_only: false, OrderChange);
ils_kernel::domain_event!(OrderStatusChanged, "order.status_changed", admins_only: false, OrderChange);
ils_kernel::domain_event!(OrderShipped, "order.shipped", admins_only: false, OrderChange);
ils_kernel::domain_event!(OrderMeasured, "order.measurements_updated", admins_only: false, OrderChange);

/// What every order event says.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct OrderChange {
    pub order_id: ID,
    pub order_number: String,
    pub status: String,
    pub version: i32,
    pub practice_id: ID,
    pub lab_id: Option<ID>,
    /// What the step said: the question, the answer, the stage, the tracking number, the
    /// reason, as in the order's history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl OrderChange {
    /// What an order event says, whichever of the order events it is; `None` for other
    /// events (and for one this release cannot read, which is logged).
    pub fn of(ev: &ils_kernel::Event) -> Option<OrderChange> {
        use ils_kernel::events::signature;
        ev.read_as(&[
            signature::<OrderSubmitted>(),
            signature::<OrderStatusChanged>(),
            signature::<OrderShipped>(),
            signature::<OrderMeasured>(),
        ])
    }
}

fn order_change(row: &order::Model, note: Option<&str>) -> OrderChange {
    OrderChange {
        order_id: id::encode(ORDER, row.id),
        order_number: row.order_number.clone(),
        status: row.status.clone(),
        version: row.version,
        practice_id: id::encode(COMPANY, row.company_id),
        lab_id: row.lab_company_id.map(|l| id::encode(COMPANY, l)),
        note: note.map(str::to_owned),
    }
}

/// Both parties of an order (for an event's audience).
fn parties(row: &order::Model) -> Vec<Uuid> {
    std::iter::once(row.company_id)
        .chain(row.lab_company_id)
        .collect()
}

/// Sends a draft to a lab the practice is actively connected to, after checking the whole
/// job; every problem is reported (`Err(errors)`), each with its input path.
pub async fn submit(
    db: &Db,
    ctx: &TenantContext,
    order_id: Uuid,
    lab: Uuid,
) -> AppResult<Result<order::Model, Vec<FieldError>>> {
    let (tx, me) = practice_tx(db, ctx).await?;
    let mine = tx.get::<company::Entity>(me).await?;
    if mine.status != CompanyStatus::Active.as_str() {
        return Err(AppError::forbidden("your company is not active"));
    }
    let row = tx.get::<order::Entity>(order_id).await?;
    if row.company_id != me {
        return Err(AppError::NotFound);
    }
    if row.status != OrderStatus::Draft.as_str() {
        return Err(AppError::Conflict(format!(
            "the order is {}, not DRAFT",
            row.status
        )));
    }
    // The lab: an ACTIVE connection with a company that was asked as a lab (its side of
    // the connection says what it is; the lab's own rows are not the practice's to read).
    let Some(lab_name) = active_partner(&tx, me, lab, CompanyType::Lab.as_str()).await? else {
        return Err(AppError::bad_input(
            "labId",
            "not a lab your practice has an ACTIVE connection with",
        ));
    };
    let errors = check_job(&row, Utc::now().date_naive())?;
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let now = Utc::now();
    let n = tx
        .update_many::<order::Entity>(
            vec![
                (order::Column::LabCompanyId, Expr::value(lab)),
                (order::Column::LabName, Expr::value(lab_name)),
                (
                    order::Column::Status,
                    Expr::value(OrderStatus::Submitted.as_str()),
                ),
                (
                    order::Column::Version,
                    Expr::col(order::Column::Version).add(1),
                ),
                (order::Column::SubmittedAt, Expr::value(now)),
                (order::Column::UpdatedAt, Expr::value(now)),
            ],
            Condition::all()
                .add(order::Column::Id.eq(order_id))
                .add(order::Column::Status.eq(OrderStatus::Draft.as_str())),
        )
        .await?;
    if n == 0 {
        return Err(AppError::Conflict(
            "the order was submitted meanwhile".into(),
        ));
    }
    let row = tx.get::<order::Entity>(order_id).await?;
    history(
        &tx,
        ctx,
        &row,
        Some(OrderStatus::Draft),
        OrderStatus::Submitted,
        None,
    )
    .await?;
    tx.emit(&OrderSubmitted(order_change(&row, None)), &parties(&row))
        .await?;
    tx.commit().await?;
    Ok(Ok(row))
}

/// One move of the workflow by the party allowed to make it, on the version the caller saw.
pub async fn move_order(
    db: &Db,
    ctx: &TenantContext,
    input: MoveOrderInput,
) -> AppResult<order::Model> {
    let me = require_member(ctx)?;
    let order_id = id::decode(ORDER, &input.id, "input.id")?;
    let tx = db.tenant(ctx).await?;
    let row = tx.get::<order::Entity>(order_id).await?;
    let party = if row.company_id == me {
        Party::Practice
    } else if row.lab_company_id == Some(me) {
        Party::Lab
    } else {
        return Err(AppError::NotFound);
    };
    if row.version != input.version {
        return Err(AppError::Conflict(format!(
            "the order changed: it is {} at version {} (you named version {})",
            row.status, row.version, input.version
        )));
    }
    let from = OrderStatus::parse(&row.status)
        .ok_or_else(|| AppError::internal(format!("order status {}", row.status)))?;
    let to = input.to;
    let may = allowed(from, party);
    if !may.contains(&to) {
        let list: Vec<&str> = may.iter().map(|s| s.as_str()).collect();
        return Err(AppError::bad_input(
            "input.to",
            if list.is_empty() {
                format!(
                    "you cannot move an order that is {} any further",
                    from.as_str()
                )
            } else {
                format!(
                    "from {} you may move the order to: {}",
                    from.as_str(),
                    list.join(", ")
                )
            },
        ));
    }
    let required = |v: Option<String>, field: &str, max: usize| -> AppResult<String> {
        validate::text(v.as_deref().unwrap_or(""), field, max)
    };
    let now = Utc::now();
    let mut sets: Vec<(order::Column, SimpleExpr)> = vec![
        (order::Column::Status, Expr::value(to.as_str())),
        (
            order::Column::Version,
            Expr::col(order::Column::Version).add(1),
        ),
        (order::Column::UpdatedAt, Expr::value(now)),
    ];
    let mut note = None;
    use OrderStatus as S;
    match (from, to) {
        (S::Submitted, S::Received) => {
            let lens: LensSpec = stored::<Option<LensSpec>>(&row.lens)?
                .ok_or_else(|| AppError::internal("a submitted order without a lens"))?;
            let job = match input.lab_job_number {
                Some(j) => validate::text(&j, "input.labJobNumber", 40)?,
                None => format!("J-{}", &row.id.simple().to_string()[24..]),
            };
            let today = now.date_naive();
            let due = match input.due_date {
                Some(d) if d < today => {
                    return Err(AppError::bad_input(
                        "input.dueDate",
                        format!("a due date cannot be in the past (today is {today})"),
                    ));
                }
                Some(d) => d,
                None => crate::turnaround::rules_of(&tx, me)
                    .await?
                    .due(today, &lens),
            };
            sets.push((order::Column::LabJobNumber, Expr::value(job)));
            sets.push((order::Column::DueDate, Expr::value(due)));
        }
        (_, S::OnHold) => {
            let q = required(input.question, "input.question", 1000)?;
            sets.push((order::Column::HoldQuestion, Expr::value(q.clone())));
            sets.push((
                order::Column::HoldAnswer,
                Expr::value(Option::<String>::None),
            ));
            note = Some(q);
        }
        (S::OnHold, S::Received) => {
            let a = required(input.answer, "input.answer", 1000)?;
            sets.push((order::Column::HoldAnswer, Expr::value(a.clone())));
            note = Some(a);
        }
        (_, S::InProduction) => {
            let stage = input
                .stage
                .ok_or_else(|| AppError::bad_input("input.stage", "say which production stage"))?;
            if from == S::InProduction && row.production_stage.as_deref() == Some(stage.as_str()) {
                return Err(AppError::bad_input(
                    "input.stage",
                    format!("the job is already at {}", stage.as_str()),
                ));
            }
            sets.push((order::Column::ProductionStage, Expr::value(stage.as_str())));
            note = Some(stage.as_str().into());
        }
        (_, S::Rejected) | (_, S::Cancelled) => {
            let why = validate::optional_text(input.reason.as_deref(), "input.reason", 1000)?;
            if to == S::Rejected && why.is_none() {
                return Err(AppError::bad_input(
                    "input.reason",
                    "say why the order is rejected",
                ));
            }
            let column = if to == S::Rejected {
                order::Column::RejectReason
            } else {
                order::Column::CancelReason
            };
            sets.push((column, Expr::value(why.clone())));
            note = why;
        }
        (_, S::Shipped) => {
            let carrier = required(input.carrier, "input.carrier", 100)?;
            let tracking = required(input.tracking_number, "input.trackingNumber", 100)?;
            sets.push((order::Column::Carrier, Expr::value(carrier)));
            sets.push((order::Column::TrackingNumber, Expr::value(tracking.clone())));
            note = Some(tracking);
        }
        _ => {}
    }
    let n = tx
        .update_many::<order::Entity>(
            sets,
            Condition::all()
                .add(order::Column::Id.eq(order_id))
                .add(order::Column::Version.eq(input.version))
                .add(order::Column::Status.eq(from.as_str())),
        )
        .await?;
    if n == 0 {
        let now = tx.get::<order::Entity>(order_id).await?;
        return Err(AppError::Conflict(format!(
            "the order changed: it is {} at version {} (you named version {})",
            now.status, now.version, input.version
        )));
    }
    let row = tx.get::<order::Entity>(order_id).await?;
    let change = order_change(&row, note.as_deref());
    history(&tx, ctx, &row, Some(from), to, note).await?;
    tx.emit(&OrderStatusChanged(change.clone()), &parties(&row))
        .await?;
    if to == S::Shipped {
        tx.emit(&OrderShipped(change), &parties(&row)).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// Where the lab may re-measure a job: while it holds it, before quality check.
const LAB_MEASURES: [OrderStatus; 3] = [
    OrderStatus::Received,
    OrderStatus::OnHold,
    OrderStatus::InProduction,
];

/// New measurements (the frame, and the fitting heights when given) for the practice's
/// own draft, or for a job the acting lab holds. For the lab they are checked against the
/// job at once (every problem, with its path) and the change is kept in the history and
/// announced to both parties; a draft is checked at submission.
pub async fn remeasure(
    db: &Db,
    ctx: &TenantContext,
    order_id: Uuid,
    version: i32,
    frame: FrameMeasure,
    fit: Option<Fit>,
    note: String,
) -> AppResult<Result<order::Model, Vec<FieldError>>> {
    let me = require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    let row = tx.get::<order::Entity>(order_id).await?;
    let party = if row.company_id == me {
        Party::Practice
    } else if row.lab_company_id == Some(me) {
        Party::Lab
    } else {
        return Err(AppError::NotFound);
    };
    let status = OrderStatus::parse(&row.status)
        .ok_or_else(|| AppError::internal(format!("order status {}", row.status)))?;
    let open = match party {
        Party::Practice => status == OrderStatus::Draft,
        Party::Lab => LAB_MEASURES.contains(&status),
    };
    if !open {
        return Err(AppError::bad_input(
            "orderId",
            match party {
                Party::Practice => format!(
                    "the order is {}: after submission only the lab re-measures it",
                    status.as_str()
                ),
                Party::Lab => format!(
                    "the order is {}: a lab re-measures a job while it holds it \
                     (RECEIVED, ON_HOLD, IN_PRODUCTION)",
                    status.as_str()
                ),
            },
        ));
    }
    if row.version != version {
        return Err(stale(&tx, order_id, version).await);
    }
    // An eye the new measurements leave out keeps its fitting height.
    let kept: Fit = stored(&row.fit)?;
    let fit = match fit {
        Some(f) => Fit {
            right: EyeFit {
                fitting_height: f.right.fitting_height.or(kept.right.fitting_height),
            },
            left: EyeFit {
                fitting_height: f.left.fitting_height.or(kept.left.fitting_height),
            },
        },
        None => kept,
    };
    if let Some(e) = measures_out_of_range(Some(&frame), Some(&fit.right), Some(&fit.left)) {
        return Ok(Err(vec![e]));
    }
    let changed = order::Model {
        frame: Some(enc(&frame)?),
        fit: enc(&fit)?,
        ..row.clone()
    };
    if party == Party::Lab {
        let errors: Vec<FieldError> = check_job(&changed, Utc::now().date_naive())?
            .into_iter()
            .filter(|e| {
                ["frame.", "right.", "left."]
                    .iter()
                    .any(|p| e.field.starts_with(p))
            })
            .collect();
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
    }
    let n = tx
        .update_many::<order::Entity>(
            vec![
                (order::Column::Frame, Expr::value(changed.frame.clone())),
                (order::Column::Fit, Expr::value(changed.fit.clone())),
                (
                    order::Column::Version,
                    Expr::col(order::Column::Version).add(1),
                ),
                (order::Column::UpdatedAt, Expr::value(Utc::now())),
            ],
            Condition::all()
                .add(order::Column::Id.eq(order_id))
                .add(order::Column::Version.eq(version))
                .add(order::Column::Status.eq(status.as_str())),
        )
        .await?;
    if n == 0 {
        return Err(stale(&tx, order_id, version).await);
    }
    let row = tx.get::<order::Entity>(order_id).await?;
    if party == Party::Lab {
        history(&tx, ctx, &row, Some(status), status, Some(note)).await?;
        tx.emit(&OrderMeasured(order_change(&row, None)), &parties(&row))
            .await?;
    }
    tx.commit().await?;
    Ok(Ok(row))
}

#[derive(InputObject, Default)]
pub struct OrderFilter {
    pub statuses: Option<Vec<OrderStatus>>,
    /// Due on or before this day.
    pub due_before: Option<NaiveDate>,
    /// Words in the order number, patient reference or lab job number.
    pub text: Option<String>,
}

async fn list(
    db: &Db,
    ctx: &TenantContext,
    client: &ClientInfo,
    side: Party,
    f: OrderFilter,
    page: PageArgs,
) -> AppResult<Connection<String, LensOrder>> {
    let me = require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    let mut select = tx.select::<order::Entity>();
    select = match side {
        Party::Practice => select.filter(order::Column::CompanyId.eq(me)),
        // A lab's inbox: what was sent to it (never another practice's drafts).
        Party::Lab => select.filter(order::Column::LabCompanyId.eq(me)),
    };
    if let Some(states) = f.statuses.filter(|s| !s.is_empty()) {
        select = select.filter(order::Column::Status.is_in(states.iter().map(|s| s.as_str())));
    }
    if let Some(d) = f.due_before {
        select = select.filter(order::Column::DueDate.lte(d));
    }
    if let Some(t) = f.text {
        let words = search::words(&t);
        for w in words {
            let like = format!("%{w}%");
            select = select.filter(
                Condition::any()
                    .add(
                        Expr::expr(Func::lower(Expr::col(order::Column::OrderNumber)))
                            .like(like.clone()),
                    )
                    .add(
                        Expr::expr(Func::lower(Expr::col(order::Column::PatientRef)))
                            .like(like.clone()),
                    )
                    .add(
                        Expr::expr(Func::lower(Expr::col(order::Column::LabJobNumber))).like(like),
                    ),
            );
        }
    }
    let conn = paginate(
        tx.conn(),
        select,
        order::Column::Id,
        page,
        |r| r.id,
        |row| LensOrder { row, viewer: me },
    )
    .await?;
    audit_identified(&tx, ctx, client, conn.edges.iter().map(|e| &e.node.row)).await?;
    tx.commit().await?;
    Ok(conn)
}

/// Orders that name a patient (linked to the practice's record, or with the name shared)
/// are patient data: reading them is audited like reading the record.
pub async fn audit_identified<'a>(
    tx: &Tx,
    ctx: &TenantContext,
    client: &ClientInfo,
    rows: impl Iterator<Item = &'a order::Model>,
) -> AppResult<()> {
    let ids: Vec<String> = rows
        .filter(|r| {
            r.patient_id.is_some() || r.patient_name.is_some() || r.patient_birth_date.is_some()
        })
        .map(|r| id::encode(ORDER, r.id).to_string())
        .collect();
    crate::patients::audit_read(tx, ctx, client, ids).await
}

#[derive(Default)]
pub struct LensOrdersQuery;

#[Object]
impl LensOrdersQuery {
    /// Your practice's orders, oldest first (`last: N` for the newest).
    async fn orders(
        &self,
        ctx: &Context<'_>,
        filter: Option<OrderFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, LensOrder>> {
        let (tenant, db) = request_parts(ctx)?;
        let page = PageArgs::new(first, after, last, before);
        Ok(list(
            db,
            tenant,
            &ils_kernel::client_info(ctx),
            Party::Practice,
            filter.unwrap_or_default(),
            page,
        )
        .await?)
    }

    /// Your lab's inbox: the orders practices sent you.
    async fn lab_orders(
        &self,
        ctx: &Context<'_>,
        filter: Option<OrderFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, LensOrder>> {
        let (tenant, db) = request_parts(ctx)?;
        let page = PageArgs::new(first, after, last, before);
        Ok(list(
            db,
            tenant,
            &ils_kernel::client_info(ctx),
            Party::Lab,
            filter.unwrap_or_default(),
            page,
        )
        .await?)
    }

    /// One order you are a party to; null otherwise.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> Result<Option<LensOrder>> {
        let (tenant, db) = request_parts(ctx)?;
        let me = require_member(tenant)?;
        let row_id = id::decode(ORDER, &id, "id")?;
        let tx = db.tenant(tenant).await?;
        let found = tx.find::<order::Entity>(row_id).await?;
        audit_identified(&tx, tenant, &ils_kernel::client_info(ctx), found.iter()).await?;
        tx.commit().await?;
        Ok(found.map(|row| LensOrder { row, viewer: me }))
    }
}

#[derive(Default)]
pub struct LensOrdersMutation;

#[Object]
impl LensOrdersMutation {
    /// Starts a lens order (practices). Nothing is checked against the optical rules yet:
    /// `submitOrder` does that.
    async fn create_order_draft(
        &self,
        ctx: &Context<'_>,
        input: DraftOrderInput,
    ) -> Result<LensOrder> {
        let (tenant, db) = request_parts(ctx)?;
        let row = draft(db, tenant, input, None).await?;
        Ok(LensOrder {
            viewer: row.company_id,
            row,
        })
    }

    /// Replaces the whole job of your practice's DRAFT (like createOrderDraft's input), on
    /// the version you saw: CONFLICT when it changed or was submitted meanwhile.
    async fn update_order_draft(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        input: DraftOrderInput,
    ) -> Result<LensOrder> {
        let (tenant, db) = request_parts(ctx)?;
        let order_id = id::decode(ORDER, &id, "id")?;
        let row = update_draft(db, tenant, order_id, version, input).await?;
        Ok(LensOrder {
            viewer: row.company_id,
            row,
        })
    }

    /// Sends a draft to a lab your practice has an ACTIVE connection with. The whole job is
    /// checked first; every problem is its own BAD_USER_INPUT error with its path
    /// (`rx.right.axis`, `right.fittingHeight`, `lens.index`), all reported at once.
    async fn submit_order(&self, ctx: &Context<'_>, id: ID, lab_id: ID) -> Result<LensOrder> {
        let (tenant, db) = request_parts(ctx)?;
        let order_id = id::decode(ORDER, &id, "id")?;
        let lab = id::decode(COMPANY, &lab_id, "labId")?;
        match submit(db, tenant, order_id, lab).await? {
            Ok(row) => Ok(LensOrder {
                viewer: row.company_id,
                row,
            }),
            Err(errors) => Err(AppError::invalid("order", errors).into()),
        }
    }

    /// Moves an order along its workflow; an illegal move is BAD_USER_INPUT listing the
    /// allowed ones, a move on a version that has changed is CONFLICT.
    async fn move_order(&self, ctx: &Context<'_>, input: MoveOrderInput) -> Result<LensOrder> {
        let (tenant, db) = request_parts(ctx)?;
        let me = require_member(tenant)?;
        let row = move_order(db, tenant, input).await?;
        Ok(LensOrder { row, viewer: me })
    }
}

impl OrderStatus {
    /// Whether nothing more happens to an order in this status.
    pub fn finished(self) -> bool {
        matches!(
            self,
            OrderStatus::Delivered | OrderStatus::Cancelled | OrderStatus::Rejected
        )
    }
}

#[derive(Default)]
pub struct LensOrdersSubscription;

#[async_graphql::Subscription]
impl LensOrdersSubscription {
    /// One of your orders, live: its state now, then one update per change by either
    /// party, in order (`status` and `version` say which change; `order` is the order as
    /// read when the update is sent). The stream ends after the order is delivered,
    /// cancelled or rejected. NOT_FOUND for an order you are not a party to. Live streams
    /// are not durable: the order's `history` has every step.
    async fn order_updated(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl futures_util::Stream<Item = OrderUpdate> + use<>> {
        use futures_util::StreamExt;
        let (tenant, db) = request_parts(ctx)?;
        let me = require_member(tenant)?;
        let order_id = id::decode(ORDER, &id, "id")?;
        let bus = ctx
            .data::<ils_kernel::Bus>()
            .map_err(|_| AppError::internal("schema has no event bus"))?;
        // Listening before reading, so no change falls between the two.
        let live = bus.visible_stream(me, false, vec!["order.*".into()]);
        let now = read(db, tenant, order_id).await?;
        let first = OrderUpdate::of(now);
        let (db, tenant) = (db.clone(), tenant.clone());
        let wanted = id.to_string();
        let changes = live.filter_map(move |ev| {
            // order.shipped repeats its status change's version: the version check drops it.
            let change = OrderChange::of(&ev)
                .filter(|c| c.order_id.as_str() == wanted)
                .and_then(|c| Some((OrderStatus::parse(&c.status)?, c.version)));
            let (db, tenant) = (db.clone(), tenant.clone());
            async move {
                let (status, version) = change?;
                let order = read(&db, &tenant, order_id).await.ok()?;
                Some(OrderUpdate {
                    status,
                    version,
                    order,
                })
            }
        });
        let stream = futures_util::stream::once(async move { first }).chain(changes);
        // One update per version, in order; stop after a final status.
        Ok(futures_util::stream::unfold(
            (Box::pin(stream), 0, false),
            |(mut s, mut seen, done)| async move {
                if done {
                    return None;
                }
                loop {
                    let u = s.next().await?;
                    if u.version <= seen {
                        continue;
                    }
                    seen = u.version;
                    let finished = u.status.finished();
                    return Some((u, (s, seen, finished)));
                }
            },
        ))
    }
}

/// One change of an order, as `orderUpdated` sends it.
#[derive(SimpleObject, Clone)]
pub struct OrderUpdate {
    /// The status this change moved the order to.
    pub status: OrderStatus,
    /// The version this change made.
    pub version: i32,
    /// The order as read when the update was sent (it may be further along).
    pub order: LensOrder,
}

impl OrderUpdate {
    fn of(order: LensOrder) -> OrderUpdate {
        OrderUpdate {
            status: OrderStatus::parse(&order.row.status).unwrap_or(OrderStatus::Draft),
            version: order.row.version,
            order,
        }
    }
}

async fn read(db: &Db, ctx: &TenantContext, order_id: Uuid) -> AppResult<LensOrder> {
    let me = require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    let row = tx.get::<order::Entity>(order_id).await?;
    tx.commit().await?;
    Ok(LensOrder { row, viewer: me })
}
