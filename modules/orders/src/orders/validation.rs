//! Checking a job: every problem at once, with its input path.
#[allow(unused_imports)]
use super::*;

pub(crate) const INDICES: [&str; 7] = ["1.50", "1.53", "1.56", "1.59", "1.60", "1.67", "1.74"];

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

pub(crate) fn text(value: Option<String>, field: &str, max: usize) -> AppResult<Option<String>> {
    validate::optional_text(value.as_deref(), field, max)
}

/// The job a draft input describes, checked for form (not yet for optics).
pub(crate) struct Job {
    pub(crate) patient_id: Option<Uuid>,
    pub(crate) patient_ref: String,
    pub(crate) patient_name: Option<String>,
    pub(crate) patient_birth_date: Option<NaiveDate>,
    pub(crate) rx: Option<Rx>,
    pub(crate) lens: Option<LensSpec>,
    pub(crate) frame: Option<FrameMeasure>,
    pub(crate) fit: Fit,
    pub(crate) job_type: JobType,
    pub(crate) remake_of: Option<Uuid>,
    pub(crate) remake_reason: Option<RemakeReason>,
    pub(crate) requested_date: Option<NaiveDate>,
    pub(crate) notes: Option<String>,
}

impl Job {
    /// The columns the job fills (the same for a new draft and a replaced one).
    pub(crate) fn columns(&self) -> AppResult<Vec<(order::Column, sea_orm::Value)>> {
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
pub(crate) async fn job_of(tx: &Tx, me: Uuid, input: DraftOrderInput) -> AppResult<Job> {
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
