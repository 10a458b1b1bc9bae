//! Prescriptions as the API shows them, and their thin resolvers: `patientRecord` and
//! `createPrescription`.

use super::patients::Patient;
use crate::json::stored;
use crate::model::{PATIENT, PRESCRIPTION};
use crate::rx::Rx;
use crate::service::{patients, prescriptions};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_entity::{patient, prescription};
use ils_kernel::scalars::Date;
use ils_kernel::{id, request_parts};

/// A prescription, as its practice reads it.
#[derive(Clone)]
pub struct Prescription {
    row: prescription::Model,
    /// The patient, when the read that found the prescription read (and audited) it too.
    patient: Option<patient::Model>,
}

impl Prescription {
    /// A prescription whose patient is read when asked for.
    pub fn new(row: prescription::Model) -> Prescription {
        Prescription { row, patient: None }
    }
}

/// A patient's spectacle prescription, kept as entered and in minus-cylinder form. Health
/// data like the patient: your practice's only, every read audited.
#[Object]
impl Prescription {
    /// The prescription's global ID.
    pub async fn id(&self) -> ID {
        id::encode(PRESCRIPTION, self.row.id)
    }
    /// The patient it was written for. Reading it is audited like `patient(id)`, unless
    /// it came with the patient (`patientRecord`).
    async fn patient(&self, ctx: &Context<'_>) -> Result<Patient> {
        if let Some(p) = &self.patient {
            return Ok(Patient(p.clone()));
        }
        let (tenant, db) = request_parts(ctx)?;
        let client = ils_kernel::client_info(ctx);
        // Boxed, so that every field of a list of prescriptions does not carry this read's
        // future (as `LensOrder::remake_of`).
        let found = Box::pin(patients::find(db, tenant, &client, self.row.patient_id)).await?;
        Ok(Patient(found.ok_or(ils_kernel::AppError::NotFound)?))
    }
    /// The prescription as entered.
    async fn rx(&self) -> Result<Rx> {
        Ok(stored(&self.row.rx)?)
    }
    /// The same prescription in minus-cylinder form, as labs work.
    async fn minus_cyl(&self) -> Result<Rx> {
        Ok(stored(&self.row.rx_minus_cyl)?)
    }
    /// When the prescription was written (`rx.issuedOn`), if given.
    async fn issued_on(&self) -> Option<Date> {
        self.row.issued_on.map(Date)
    }
    /// When the prescription expires (`rx.expiresOn`), if given. An expired prescription
    /// is kept, but an order with it is refused at submission.
    async fn expires_on(&self) -> Option<Date> {
        self.row.expires_on.map(Date)
    }
    /// Who wrote the prescription (`rx.prescriber`), if given.
    async fn prescriber(&self) -> Option<&str> {
        self.row.prescriber.as_deref()
    }
    /// When the prescription was recorded.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
}

/// A patient with their prescriptions (newest first), read and audited together.
#[derive(SimpleObject)]
pub struct PatientRecord {
    /// The patient.
    pub patient: Patient,
    /// Every prescription of the patient's, newest first.
    pub prescriptions: Vec<Prescription>,
}

/// A prescription to record for one of your patients.
#[derive(InputObject)]
pub struct CreatePrescriptionInput {
    /// The patient (one of your practice's).
    pub patient_id: ID,
    /// The prescription, as the prescriber wrote it.
    pub rx: Rx,
}

/// What `createPrescription` gives back.
#[derive(SimpleObject)]
pub struct CreatePrescriptionPayload {
    /// The prescription recorded, with its minus-cylinder form.
    pub prescription: Prescription,
}

#[derive(Default)]
pub struct PrescriptionsQuery;

#[Object]
impl PrescriptionsQuery {
    /// A patient and all their prescriptions, newest first; null when the patient is not
    /// yours. The read is audited with every ID it returned.
    async fn patient_record(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The patient's global ID.")] patient_id: ID,
    ) -> Result<Option<PatientRecord>> {
        let (tenant, db) = request_parts(ctx)?;
        let pid = id::decode(PATIENT, &patient_id, "patientId")?;
        let client = ils_kernel::client_info(ctx);
        let record = prescriptions::record(db, tenant, &client, pid).await?;
        Ok(record.map(|(p, rxs)| PatientRecord {
            prescriptions: rxs
                .into_iter()
                .map(|row| Prescription {
                    row,
                    patient: Some(p.clone()),
                })
                .collect(),
            patient: Patient(p),
        }))
    }
}

#[derive(Default)]
pub struct PrescriptionsMutation;

#[Object]
impl PrescriptionsMutation {
    /// Records a prescription for one of your patients (practices only). Every value is
    /// checked: sphere and cylinder on 0.25 D steps, an axis exactly when there is a
    /// cylinder, add, prism with its base, PDs, dates. Every problem is its own
    /// BAD_USER_INPUT error with its path (`input.rx.right.axis`), all reported at once;
    /// NOT_FOUND for a patient that is not yours.
    async fn create_prescription(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The patient and the prescription.")] input: CreatePrescriptionInput,
    ) -> Result<CreatePrescriptionPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let pid = id::decode(PATIENT, &input.patient_id, "input.patientId");
        let row = prescriptions::create(db, tenant, pid, input.rx).await?;
        Ok(CreatePrescriptionPayload {
            prescription: Prescription::new(row),
        })
    }
}
