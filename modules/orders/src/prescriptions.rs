//! Prescriptions: a patient's Rx as entered, checked on the optical grids, kept together
//! with its minus-cylinder form (how labs work). Health data like the patient: the
//! practice's only, every read audited.

use crate::json::{enc, stored};
use crate::patients::{PATIENT, Patient, audit_read, practice_tx};
use crate::rx::{Rx, minus_cyl, validate_rx};
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use ils_entity::{patient, prescription};
use ils_kernel::{AppError, id, request_parts};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

pub const PRESCRIPTION: &str = "Prescription";

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
        let (tx, _) = practice_tx(db, tenant).await?;
        let Some(p) = tx.find::<patient::Entity>(pid).await? else {
            tx.commit().await?;
            return Ok(None);
        };
        let rxs = tx
            .select::<prescription::Entity>()
            .filter(prescription::Column::PatientId.eq(pid))
            .order_by_desc(prescription::Column::Id)
            .all(tx.conn())
            .await
            .map_err(AppError::from)?;
        let mut ids = vec![id::encode(PATIENT, p.id).to_string()];
        ids.extend(
            rxs.iter()
                .map(|r| id::encode(PRESCRIPTION, r.id).to_string()),
        );
        audit_read(&tx, tenant, &ils_kernel::client_info(ctx), ids).await?;
        tx.commit().await?;
        Ok(Some(PatientRecord {
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
        let (tx, _) = practice_tx(db, tenant).await?;
        tx.get::<patient::Entity>(pid).await?;
        let errors = validate_rx(&input, None, Utc::now().date_naive());
        if !errors.is_empty() {
            return Err(AppError::invalid("input", errors).into());
        }
        let minus = Rx {
            right: minus_cyl(&input.right),
            left: minus_cyl(&input.left),
            ..input.clone()
        };
        let now = Utc::now();
        let row = tx
            .insert(prescription::ActiveModel {
                id: Set(Uuid::now_v7()),
                company_id: sea_orm::ActiveValue::NotSet,
                patient_id: Set(pid),
                rx: Set(enc(&input)?),
                rx_minus_cyl: Set(enc(&minus)?),
                issued_on: Set(input.issued_on),
                expires_on: Set(input.expires_on),
                prescriber: Set(input.prescriber.clone()),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .await?;
        tx.commit().await?;
        Ok(Prescription(row))
    }
}
