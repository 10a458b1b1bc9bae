//! Patients: the practice's health data. Only the practice reads or writes them (a lab
//! sees an order's patient reference, never these rows), and every read is recorded in
//! the audit log in the same transaction as the read itself.

use crate::model::PATIENT;
use crate::service::audited_page;
use chrono::{NaiveDate, Utc};
use ils_common::company::CompanyType;
use ils_common::search;
use ils_common::validate;
use ils_entity::{company, patient};
use ils_kernel::audit::{AuditEntry, record_in};
use ils_kernel::authz::require_member;
use ils_kernel::pagination::{Page, PageArgs};
use ils_kernel::{AppError, AppResult, ClientInfo, Db, FieldErrors, TenantContext, Tx, id};
use sea_orm::{ActiveValue::Set, QueryFilter};
use uuid::Uuid;

/// The audit log's name for a read of patient data.
pub const READ: &str = "patient.read";

/// A patient's details as entered; an update replaces every one.
pub struct Details {
    /// Who the patient is: names of 1 to 100 characters, a past birth date after 1900.
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: Option<NaiveDate>,
    /// The practice's own reference for the patient (at most 64 characters): what a lab
    /// sees on an order.
    pub external_ref: Option<String>,
    /// How to reach the patient (a blank email is none).
    pub email: Option<String>,
    pub phone: Option<String>,
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

/// Audits reads made in a read-only transaction (`Db::read`), in a transaction of its
/// own, opened only when something identified was read. The data reaches the caller
/// only once its audit entry is committed.
pub async fn audit_reads(
    db: &Db,
    ctx: &TenantContext,
    client: &ClientInfo,
    ids: Vec<String>,
) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let tx = db.tenant(ctx).await?;
    audit_read(&tx, ctx, client, ids).await?;
    tx.commit().await
}

/// The details, checked: every refused field at once, at `input.<field>`.
fn checked(input: Details, today: NaiveDate) -> AppResult<patient::ActiveModel> {
    let mut errors = FieldErrors::default();
    let mut take = |field: &str, checked: AppResult<_>| match checked {
        Ok(v) => Ok(v),
        Err(AppError::BadUserInput { message, .. }) => {
            errors.add(field, message);
            Ok(None)
        }
        Err(e) => Err(e),
    };
    let first = take(
        "firstName",
        validate::text(&input.first_name, "firstName", 100).map(Some),
    )?;
    let last = take(
        "lastName",
        validate::text(&input.last_name, "lastName", 100).map(Some),
    )?;
    let email = match input
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        Some(e) => take("email", validate::email(e, "email").map(Some))?,
        None => None,
    };
    let phone = take("phone", validate::phone(input.phone.as_deref(), "phone"))?;
    let external_ref = take(
        "externalRef",
        validate::optional_text(input.external_ref.as_deref(), "externalRef", 64),
    )?;
    if let Some(dob) = input.date_of_birth
        && (dob > today || dob < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(dob))
    {
        errors.add("dateOfBirth", "must be a past date after 1900");
    }
    let (Some(first), Some(last), true) = (first, last, errors.is_empty()) else {
        return Err(AppError::invalid("input", errors.into_vec()));
    };
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

/// One page of the practice's patients, `text` narrowing by words in the names or the
/// reference; every patient read is audited.
pub async fn list<T: async_graphql::OutputType>(
    db: &Db,
    ctx: &TenantContext,
    client: &ClientInfo,
    text: Option<String>,
    page: PageArgs,
    map: impl Fn(patient::Model) -> T,
) -> AppResult<Page<T>> {
    let (tx, _) = practice_tx(db, ctx).await?;
    let mut select = tx.select::<patient::Entity>();
    if let Some(text) = text
        && let Some(cond) = search::condition(db.backend(), &text)
    {
        select = select.filter(cond);
    }
    let (page, read) = audited_page(
        &tx,
        select,
        patient::Column::Id,
        page,
        |p| p.id,
        std::convert::identity,
        |p| Some(id::encode(PATIENT, p.id).to_string()),
        map,
    )
    .await?;
    audit_read(&tx, ctx, client, read).await?;
    tx.commit().await?;
    Ok(page)
}

/// One of the practice's patients; `None` when it is not the practice's (the read is
/// audited).
pub async fn find(
    db: &Db,
    ctx: &TenantContext,
    client: &ClientInfo,
    patient_id: Uuid,
) -> AppResult<Option<patient::Model>> {
    let (tx, _) = practice_tx(db, ctx).await?;
    let found = tx.find::<patient::Entity>(patient_id).await?;
    if let Some(p) = &found {
        // The ID of the row read, in its one canonical form (not as the caller spelt it).
        let read = vec![id::encode(PATIENT, p.id).to_string()];
        audit_read(&tx, ctx, client, read).await?;
    }
    tx.commit().await?;
    Ok(found)
}

/// Adds a patient to the practice (practices only).
pub async fn create(db: &Db, ctx: &TenantContext, details: Details) -> AppResult<patient::Model> {
    let (tx, _) = practice_tx(db, ctx).await?;
    let mut model = checked(details, Utc::now().date_naive())?;
    model.id = Set(Uuid::now_v7());
    model.created_at = Set(Utc::now());
    let row = tx.insert(model).await?;
    tx.commit().await?;
    Ok(row)
}

/// Replaces a patient's details (practices only).
pub async fn update(
    db: &Db,
    ctx: &TenantContext,
    patient_id: Uuid,
    details: Details,
) -> AppResult<patient::Model> {
    let (tx, _) = practice_tx(db, ctx).await?;
    tx.get::<patient::Entity>(patient_id).await?;
    let mut model = checked(details, Utc::now().date_naive())?;
    model.id = sea_orm::ActiveValue::Unchanged(patient_id);
    let row = tx.update(model).await?;
    tx.commit().await?;
    Ok(row)
}
