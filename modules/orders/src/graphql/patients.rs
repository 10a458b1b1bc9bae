//! Patients as the API shows them, and their thin resolvers: `patients`, `patient`,
//! `createPatient`, `updatePatient`.

use crate::model::PATIENT;
use crate::service::patients::{self, Details};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use ils_entity::patient;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::scalars::Date;
use ils_kernel::{id, request_parts};

/// A patient record, as its practice reads it.
#[derive(Clone)]
pub struct Patient(pub patient::Model);

/// A patient of your practice: health data, readable only by your practice, every read
/// recorded in the audit log (`patient.read`). A lab never sees this record, only what
/// an order shares.
#[Object]
impl Patient {
    /// The patient's global ID.
    pub async fn id(&self) -> ID {
        id::encode(PATIENT, self.0.id)
    }
    /// The patient's first (given) name.
    async fn first_name(&self) -> &str {
        &self.0.first_name
    }
    /// The patient's last (family) name.
    async fn last_name(&self) -> &str {
        &self.0.last_name
    }
    /// The patient's birth date, when the practice recorded it.
    async fn date_of_birth(&self) -> Option<Date> {
        self.0.date_of_birth.map(Date)
    }
    /// The patient's email address (lower case), when recorded.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// The patient's phone number, when recorded.
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// The practice's own reference for the patient: what a lab sees on an order.
    async fn external_ref(&self) -> Option<&str> {
        self.0.external_ref.as_deref()
    }
    /// When the record was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the record last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A patient's details, as entered (`createPatient`; `updatePatient` replaces every one
/// with the same fields). Every refused field is reported at once.
#[derive(InputObject)]
pub struct CreatePatientInput {
    /// The first (given) name, 1 to 100 characters.
    pub first_name: String,
    /// The last (family) name, 1 to 100 characters.
    pub last_name: String,
    /// The birth date: not in the future, not before 1900.
    pub date_of_birth: Option<Date>,
    /// An email address (a blank one is none).
    pub email: Option<String>,
    /// A phone number: at least 5 digits, with spaces and `+-().`, at most 40 characters.
    pub phone: Option<String>,
    /// Your own reference for the patient (your practice system's, say), at most 64
    /// characters: what a lab sees on an order.
    pub external_ref: Option<String>,
}

impl From<CreatePatientInput> for Details {
    fn from(i: CreatePatientInput) -> Self {
        Details {
            first_name: i.first_name,
            last_name: i.last_name,
            date_of_birth: i.date_of_birth.map(|d| d.0),
            external_ref: i.external_ref,
            email: i.email,
            phone: i.phone,
        }
    }
}

/// A patient's details replaced: the patient, and every field of `createPatient`'s input
/// (what is left out is cleared).
#[derive(InputObject)]
pub struct UpdatePatientInput {
    /// The patient to change (one of your practice's).
    pub id: ID,
    #[graphql(flatten)]
    pub details: CreatePatientInput,
}

/// Which patients to list.
#[derive(InputObject, Default)]
pub struct PatientFilter {
    /// Words to find in the names or the reference (every word must match, any case).
    pub text: Option<String>,
}

/// What `createPatient` gives back.
#[derive(SimpleObject)]
pub struct CreatePatientPayload {
    /// The new patient record.
    pub patient: Patient,
}

/// What `updatePatient` gives back.
#[derive(SimpleObject)]
pub struct UpdatePatientPayload {
    /// The patient record with its new details.
    pub patient: Patient,
}

#[derive(Default)]
pub struct PatientsQuery;

#[Object]
impl PatientsQuery {
    /// Your practice's patients, oldest first (every read is audited; practices only).
    async fn patients(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which patients: words in their names or reference.")] filter: Option<
            PatientFilter,
        >,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<Patient>> {
        let (tenant, db) = request_parts(ctx)?;
        let text = filter.and_then(|f| f.text);
        let page = PageArgs::new(ctx, first, after, last, before);
        let client = ils_kernel::client_info(ctx);
        Ok(patients::list(db, tenant, &client, text, page, Patient).await?)
    }

    /// One of your practice's patients; null when it is not yours (the read is audited).
    async fn patient(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The patient's global ID.")] id: ID,
    ) -> Result<Option<Patient>> {
        let (tenant, db) = request_parts(ctx)?;
        let row_id = id::decode(PATIENT, &id, "id")?;
        let client = ils_kernel::client_info(ctx);
        Ok(patients::find(db, tenant, &client, row_id)
            .await?
            .map(Patient))
    }
}

#[derive(Default)]
pub struct PatientsMutation;

#[Object]
impl PatientsMutation {
    /// Adds a patient to your practice (practices only).
    async fn create_patient(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The patient's details.")] input: CreatePatientInput,
    ) -> Result<CreatePatientPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let row = patients::create(db, tenant, input.into()).await?;
        Ok(CreatePatientPayload {
            patient: Patient(row),
        })
    }

    /// Replaces a patient's details (practices only); NOT_FOUND for a patient that is not
    /// yours.
    async fn update_patient(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The patient and all their new details.")] input: UpdatePatientInput,
    ) -> Result<UpdatePatientPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let row_id = id::decode(PATIENT, &input.id, "input.id")?;
        let row = patients::update(db, tenant, row_id, input.details.into()).await?;
        Ok(UpdatePatientPayload {
            patient: Patient(row),
        })
    }
}
