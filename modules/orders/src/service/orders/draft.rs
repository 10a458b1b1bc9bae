//! Drafts: the job a practice describes, read against its own records (patient, stored
//! prescription, the order remade) and checked for form; optics wait for submission.

use super::{own_draft, record_step, stale};
use crate::json::{enc, stored};
use crate::lens::LensSpec;
use crate::model::{Fit, JobType, OrderStatus, REMADE_FROM, RemakeReason, measures_out_of_range};
use crate::rx::{FrameMeasure, Rx, rx_minus_cyl};
use crate::service::patients::practice_tx;
use chrono::{NaiveDate, Utc};
use ils_common::validate;
use ils_entity::lens_order::Eyes;
use ils_entity::{company, lens_order as order, patient, prescription};
use ils_kernel::{AppError, AppResult, Db, TenantContext, Tx};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, PaginatorTrait, QueryFilter};
use uuid::Uuid;

/// A draft's job as the practice gives it, before it is read against the practice's
/// records. The IDs it names are as the caller's input decoded them (a malformed one is
/// its error, raised where the job is read, so the checks keep their order).
#[derive(Default)]
pub struct DraftJob {
    /// One of the practice's patients; or only `patient_ref`.
    pub patient_id: Option<AppResult<Uuid>>,
    /// What the lab sees of the patient (defaults to the patient's external reference).
    pub patient_ref: Option<String>,
    pub share_patient_name: bool,
    pub share_patient_birth_date: bool,
    /// A stored prescription to copy, or `rx`.
    pub prescription_id: Option<AppResult<Uuid>>,
    pub rx: Option<Rx>,
    pub lens: Option<LensSpec>,
    pub frame: Option<FrameMeasure>,
    pub fit: Fit,
    /// NEW when not given.
    pub job_type: Option<JobType>,
    /// For a REMAKE: the earlier order.
    pub remake_of: Option<AppResult<Uuid>>,
    pub remake_reason: Option<RemakeReason>,
    pub requested_date: Option<NaiveDate>,
    pub notes: Option<String>,
    /// The practice's own reference for the job (a DCS file's `JOB=`).
    pub external_ref: Option<String>,
    /// BOTH when not given.
    pub eyes: Option<Eyes>,
    /// The DCS file a new draft is made from (its text), kept for the order's DCS file;
    /// ignored when a draft is replaced (the file stays the one the draft came from).
    pub dcs_source: Option<String>,
}

/// A new draft for the acting practice; `note` goes on its first history step (where it
/// came from, say).
pub async fn draft(
    db: &Db,
    ctx: &TenantContext,
    input: DraftJob,
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
        status: Set(OrderStatus::Draft),
        version: Set(1),
        lab_job_number: Set(None),
        dcs_source: Set(job.dcs_source.clone()),
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
    record_step(tx, ctx, &row, None, OrderStatus::Draft, note).await?;
    Ok(row)
}

/// Replaces the whole job of the practice's own DRAFT, on the version the caller saw.
pub async fn update_draft(
    db: &Db,
    ctx: &TenantContext,
    order_id: Uuid,
    version: i32,
    input: DraftJob,
) -> AppResult<order::Model> {
    let (tx, me) = practice_tx(db, ctx).await?;
    own_draft(&tx, me, order_id, ": its job can no longer change").await?;
    let job = job_of(&tx, me, input).await?;
    if job.remake_of == Some(order_id) {
        return Err(AppError::bad_input(
            "input.remakeOfId",
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
                .add(order::Column::Status.eq(OrderStatus::Draft)),
        )
        .await?;
    if n == 0 {
        return Err(stale(&tx, order_id, version).await);
    }
    let row = tx.get::<order::Entity>(order_id).await?;
    tx.commit().await?;
    Ok(row)
}

/// Numbers far outside anything optical are refused before any arithmetic on them (the
/// optical grids are checked at submission; this keeps a draft from overflowing).
fn check_magnitudes(input: &DraftJob) -> AppResult<()> {
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
        Some(&input.fit.right),
        Some(&input.fit.left),
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
    external_ref: Option<String>,
    eyes: Eyes,
    dcs_source: Option<String>,
}

impl Job {
    /// The columns the job fills (the same for a new draft and a replaced one).
    fn columns(&self) -> AppResult<Vec<(order::Column, sea_orm::Value)>> {
        let minus = self.rx.as_ref().map(rx_minus_cyl);
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
            (C::JobType, self.job_type.into()),
            (C::RemakeOf, self.remake_of.into()),
            (C::RemakeReason, self.remake_reason.into()),
            (C::RequestedDate, self.requested_date.into()),
            (C::Notes, self.notes.clone().into()),
            (C::ExternalRef, self.external_ref.clone().into()),
            (C::Eyes, self.eyes.into()),
        ])
    }
}

/// Reads a draft input against the practice's own records (`me`).
async fn job_of(tx: &Tx, me: Uuid, input: DraftJob) -> AppResult<Job> {
    check_magnitudes(&input)?;
    let patient = match input.patient_id {
        Some(pid) => Some(tx.get::<patient::Entity>(pid?).await.map_err(|e| match e {
            AppError::NotFound => AppError::bad_input("input.patientId", "no such patient"),
            e => e,
        })?),
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
    let patient_name = match (input.share_patient_name, &patient) {
        (true, Some(p)) => Some(format!("{} {}", p.first_name, p.last_name)),
        (true, None) => {
            return Err(AppError::bad_input(
                "input.sharePatientName",
                "there is no patient record to share",
            ));
        }
        (false, _) => None,
    };
    let patient_birth_date = match (input.share_patient_birth_date, &patient) {
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
    let rx = match (input.prescription_id, input.rx) {
        (Some(rid), None) => {
            let kept = tx
                .get::<prescription::Entity>(rid?)
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
    let remake_of = match (job_type, input.remake_of, input.remake_reason) {
        (JobType::New, None, None) => None,
        (JobType::Remake, Some(of), Some(_)) => {
            let earlier = of?;
            let found = tx
                .select::<order::Entity>()
                .filter(order::Column::Id.eq(earlier))
                .filter(order::Column::CompanyId.eq(me))
                .one(tx.conn())
                .await?;
            let Some(found) = found else {
                return Err(AppError::bad_input(
                    "input.remakeOfId",
                    "no such order of yours",
                ));
            };
            if !REMADE_FROM.contains(&found.status) {
                return Err(AppError::bad_input(
                    "input.remakeOfId",
                    format!(
                        "{} is {}: only a shipped, arrived or delivered order is remade",
                        found.order_number,
                        found.status.as_str()
                    ),
                ));
            }
            Some(earlier)
        }
        (JobType::Remake, _, _) => {
            return Err(AppError::bad_input(
                "input.remakeOfId",
                "a remake names the earlier order and a reason",
            ));
        }
        (JobType::New, _, _) => {
            return Err(AppError::bad_input(
                "input.jobType",
                "remakeOfId and remakeReason are for REMAKE jobs",
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
        fit: input.fit,
        job_type,
        remake_of,
        remake_reason: input.remake_reason,
        requested_date: input.requested_date,
        notes: text(input.notes, "input.notes", 2000)?,
        external_ref: text(input.external_ref, "input.externalRef", 64)?,
        eyes: input.eyes.unwrap_or(Eyes::Both),
        dcs_source: input.dcs_source,
    })
}
