//! Patients as the API shows them, and their thin resolvers: `patients`, `patient`,
//! `createPatient`, `updatePatient`.

use crate::model::PATIENT;
use crate::service::patients::{self, Details};
use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};
use ils_entity::patient;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::PageArgs;
use ils_kernel::{id, request_parts};

#[derive(Clone)]
pub struct Patient(pub patient::Model);

#[Object]
impl Patient {
    pub async fn id(&self) -> ID {
        id::encode(PATIENT, self.0.id)
    }
    async fn first_name(&self) -> &str {
        &self.0.first_name
    }
    async fn last_name(&self) -> &str {
        &self.0.last_name
    }
    async fn date_of_birth(&self) -> Option<NaiveDate> {
        self.0.date_of_birth
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// The practice's own reference for the patient: what a lab sees on an order.
    async fn external_ref(&self) -> Option<&str> {
        self.0.external_ref.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A patient as entered; an update replaces every field.
#[derive(InputObject)]
pub struct PatientInput {
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: Option<NaiveDate>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub external_ref: Option<String>,
}

impl From<PatientInput> for Details {
    fn from(i: PatientInput) -> Self {
        Details {
            first_name: i.first_name,
            last_name: i.last_name,
            date_of_birth: i.date_of_birth,
            external_ref: i.external_ref,
            email: i.email,
            phone: i.phone,
        }
    }
}

#[derive(InputObject, Default)]
pub struct PatientFilter {
    /// Words to find in the names or the reference (every word must match).
    pub text: Option<String>,
}

#[derive(Default)]
pub struct PatientsQuery;

#[Object]
impl PatientsQuery {
    /// Your practice's patients (every read is audited).
    async fn patients(
        &self,
        ctx: &Context<'_>,
        filter: Option<PatientFilter>,
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
    async fn patient(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Patient>> {
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
    async fn create_patient(&self, ctx: &Context<'_>, input: PatientInput) -> Result<Patient> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(Patient(patients::create(db, tenant, input.into()).await?))
    }

    /// Replaces a patient's details (practices only).
    async fn update_patient(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: PatientInput,
    ) -> Result<Patient> {
        let (tenant, db) = request_parts(ctx)?;
        let row_id = id::decode(PATIENT, &id, "id")?;
        Ok(Patient(
            patients::update(db, tenant, row_id, input.into()).await?,
        ))
    }
}
