//! Prescriptions as the API shows them, and their thin resolvers: `patientRecord` and
//! `createPrescription`.

use super::patients::Patient;
use crate::json::stored;
use crate::model::{PATIENT, PRESCRIPTION};
use crate::rx::Rx;
use crate::service::prescriptions;
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use ils_entity::prescription;
use ils_kernel::{id, request_parts};

#[derive(Clone)]
pub struct Prescription(pub prescription::Model);

#[Object]
impl Prescription {
    pub async fn id(&self) -> ID {
        id::encode(PRESCRIPTION, self.0.id)
    }
    async fn patient_id(&self) -> ID {
        id::encode(PATIENT, self.0.patient_id)
    }
    /// As entered.
    async fn rx(&self) -> Result<Rx> {
        Ok(stored(&self.0.rx)?)
    }
    /// The same prescription in minus-cylinder form.
    async fn minus_cyl(&self) -> Result<Rx> {
        Ok(stored(&self.0.rx_minus_cyl)?)
    }
    async fn issued_on(&self) -> Option<NaiveDate> {
        self.0.issued_on
    }
    async fn expires_on(&self) -> Option<NaiveDate> {
        self.0.expires_on
    }
    async fn prescriber(&self) -> Option<&str> {
        self.0.prescriber.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A patient with their prescriptions (newest first), read and audited together.
#[derive(SimpleObject)]
pub struct PatientRecord {
    pub patient: Patient,
    pub prescriptions: Vec<Prescription>,
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
        patient_id: ID,
    ) -> Result<Option<PatientRecord>> {
        let (tenant, db) = request_parts(ctx)?;
        let pid = id::decode(PATIENT, &patient_id, "patientId")?;
        let client = ils_kernel::client_info(ctx);
        let record = prescriptions::record(db, tenant, &client, pid).await?;
        Ok(record.map(|(p, rxs)| PatientRecord {
            patient: Patient(p),
            prescriptions: rxs.into_iter().map(Prescription).collect(),
        }))
    }
}

#[derive(Default)]
pub struct PrescriptionsMutation;

#[Object]
impl PrescriptionsMutation {
    /// Records a prescription for one of your patients (practices only). Every value is
    /// checked: sphere and cylinder on 0.25 D steps, an axis exactly when there is a
    /// cylinder, add, prism with its base, PDs, dates.
    async fn create_prescription(
        &self,
        ctx: &Context<'_>,
        patient_id: ID,
        input: Rx,
    ) -> Result<Prescription> {
        let (tenant, db) = request_parts(ctx)?;
        let pid = id::decode(PATIENT, &patient_id, "patientId")?;
        Ok(Prescription(
            prescriptions::create(db, tenant, pid, input).await?,
        ))
    }
}
