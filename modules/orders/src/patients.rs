//! Patients: the practice's health data. Only the practice reads or writes them (a lab
//! sees an order's patient reference, never these rows), and every read is recorded in
//! the audit log in the same transaction as the read itself.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};
use ils_common::company::CompanyType;
use ils_common::search;
use ils_common::validate;
use ils_entity::{company, patient};
use ils_kernel::audit::{AuditEntry, record_in};
use ils_kernel::authz::require_member;
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, ClientInfo, Db, TenantContext, Tx, id, request_parts};
use sea_orm::{ActiveValue::Set, QueryFilter};
use uuid::Uuid;

pub const PATIENT: &str = "Patient";
/// The audit log's name for a read of patient data.
pub const READ: &str = "patient.read";

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

#[derive(InputObject, Default)]
pub struct PatientFilter {
    /// Words to find in the names or the reference (every word must match).
    pub text: Option<String>,
}

/// A transaction for the practice's health data: members of an ECP only.
pub async fn practice_tx(db: &Db, ctx: &TenantContext) -> AppResult<(Tx, Uuid)> {
    let me = require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    let c = tx.get::<company::Entity>(me).await?;
    if c.company_type != CompanyType::Ecp.as_str() {
        return Err(AppError::forbidden("only practices keep patient records"));
    }
    Ok((tx, me))
}

/// Records that `ids` were read, in the transaction that read them.
pub async fn audit_read(
    tx: &Tx,
    ctx: &TenantContext,
    client: &ClientInfo,
    ids: Vec<String>,
) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let entry = AuditEntry {
        operation: READ.into(),
        target_ids: ids,
        error_code: None,
    };
    record_in(tx, ctx, client, &entry).await
}

fn checked(input: PatientInput, today: NaiveDate) -> AppResult<patient::ActiveModel> {
    let first = validate::text(&input.first_name, "input.firstName", 100)?;
    let last = validate::text(&input.last_name, "input.lastName", 100)?;
    if let Some(dob) = input.date_of_birth
        && (dob > today || dob < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(dob))
    {
        return Err(AppError::bad_input(
            "input.dateOfBirth",
            "must be a past date after 1900",
        ));
    }
    let email = match input
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        Some(e) => Some(validate::email(e, "input.email")?),
        None => None,
    };
    let phone = validate::phone(input.phone.as_deref(), "input.phone")?;
    let external_ref =
        validate::optional_text(input.external_ref.as_deref(), "input.externalRef", 64)?;
    let search_text = search::text_of([
        first.as_str(),
        last.as_str(),
        external_ref.as_deref().unwrap_or(""),
    ]);
    Ok(patient::ActiveModel {
        first_name: Set(first),
        last_name: Set(last),
        date_of_birth: Set(input.date_of_birth),
        email: Set(email),
        phone: Set(phone),
        external_ref: Set(external_ref),
        search_text: Set(search_text),
        updated_at: Set(Utc::now()),
        ..Default::default()
    })
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
    ) -> Result<Connection<String, Patient>> {
        let (tenant, db) = request_parts(ctx)?;
        let (tx, _) = practice_tx(db, tenant).await?;
        let mut select = tx.select::<patient::Entity>();
        if let Some(text) = filter.and_then(|f| f.text)
            && let Some(cond) = search::condition(db.backend(), &text)
        {
            select = select.filter(cond);
        }
        let page = paginate(
            tx.conn(),
            select,
            patient::Column::Id,
            PageArgs::new(first, after, last, before),
            |p| p.id,
            Patient,
        )
        .await?;
        let ids = page
            .edges
            .iter()
            .map(|e| id::encode(PATIENT, e.node.0.id).to_string())
            .collect();
        audit_read(&tx, tenant, &ils_kernel::client_info(ctx), ids).await?;
        tx.commit().await?;
        Ok(page)
    }

    /// One of your practice's patients; null when it is not yours (the read is audited).
    async fn patient(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Patient>> {
        let (tenant, db) = request_parts(ctx)?;
        let row_id = id::decode(PATIENT, &id, "id")?;
        let (tx, _) = practice_tx(db, tenant).await?;
        let found = tx.find::<patient::Entity>(row_id).await?;
        if let Some(p) = &found {
            // The ID of the row read, in its one canonical form (not as the caller spelt it).
            let read = vec![ils_kernel::id::encode(PATIENT, p.id).to_string()];
            audit_read(&tx, tenant, &ils_kernel::client_info(ctx), read).await?;
        }
        tx.commit().await?;
        Ok(found.map(Patient))
    }
}

#[derive(Default)]
pub struct PatientsMutation;

#[Object]
impl PatientsMutation {
    /// Adds a patient to your practice (practices only).
    async fn create_patient(&self, ctx: &Context<'_>, input: PatientInput) -> Result<Patient> {
        let (tenant, db) = request_parts(ctx)?;
        let (tx, _) = practice_tx(db, tenant).await?;
        let mut model = checked(input, Utc::now().date_naive())?;
        model.id = Set(Uuid::now_v7());
        model.created_at = Set(Utc::now());
        let row = tx.insert(model).await?;
        tx.commit().await?;
        Ok(Patient(row))
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
        let (tx, _) = practice_tx(db, tenant).await?;
        tx.get::<patient::Entity>(row_id).await?;
        let mut model = checked(input, Utc::now().date_naive())?;
        model.id = sea_orm::ActiveValue::Unchanged(row_id);
        let row = tx.update(model).await?;
        tx.commit().await?;
        Ok(Patient(row))
    }
}
