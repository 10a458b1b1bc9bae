//! Prescriptions: a patient's Rx as entered, checked on the optical grids, kept together
//! with its minus-cylinder form (how labs work). Health data like the patient: the
//! practice's only, every read audited.

use crate::json::enc;
use crate::model::job::prefixed;
use crate::model::{PATIENT, PRESCRIPTION};
use crate::rx::{FieldError, Rx, rx_minus_cyl, validate_rx};
use crate::service::patients::{audit_read, practice_tx};
use chrono::Utc;
use ils_entity::{patient, prescription};
use ils_kernel::{AppError, AppResult, ClientInfo, Db, TenantContext, id};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

/// A patient of the practice and all their prescriptions, newest first; `None` when the
/// patient is not the practice's. The read is audited with every ID it returns.
pub async fn record(
    db: &Db,
    ctx: &TenantContext,
    client: &ClientInfo,
    patient_id: Uuid,
) -> AppResult<Option<(patient::Model, Vec<prescription::Model>)>> {
    let (tx, _) = practice_tx(db, ctx).await?;
    let Some(p) = tx.find::<patient::Entity>(patient_id).await? else {
        tx.commit().await?;
        return Ok(None);
    };
    let rxs = tx
        .select::<prescription::Entity>()
        .filter(prescription::Column::PatientId.eq(patient_id))
        .order_by_desc(prescription::Column::Id)
        .all(tx.conn())
        .await
        .map_err(AppError::from)?;
    let mut ids = vec![id::encode(PATIENT, p.id).to_string()];
    ids.extend(
        rxs.iter()
            .map(|r| id::encode(PRESCRIPTION, r.id).to_string()),
    );
    audit_read(&tx, ctx, client, ids).await?;
    tx.commit().await?;
    Ok(Some((p, rxs)))
}

/// Records a prescription for one of the practice's patients. Every problem of the input
/// is reported at once, at its path in the input (`input.patientId` when the ID is
/// malformed, `input.rx.right.axis`); a patient that is not the practice's is NOT_FOUND.
pub async fn create(
    db: &Db,
    ctx: &TenantContext,
    patient_id: AppResult<Uuid>,
    rx: Rx,
) -> AppResult<prescription::Model> {
    let (tx, _) = practice_tx(db, ctx).await?;
    let mut errors = Vec::new();
    let patient_id = match patient_id {
        Ok(p) => Some(p),
        Err(AppError::BadUserInput { message, .. }) => {
            errors.push(FieldError {
                field: "patientId".into(),
                message,
            });
            None
        }
        Err(e) => return Err(e),
    };
    errors.extend(prefixed(
        "rx.",
        validate_rx(&rx, None, Utc::now().date_naive()),
    ));
    let (Some(patient_id), true) = (patient_id, errors.is_empty()) else {
        return Err(AppError::invalid("input", errors));
    };
    tx.get::<patient::Entity>(patient_id).await?;
    let minus = rx_minus_cyl(&rx);
    let now = Utc::now();
    let row = tx
        .insert(prescription::ActiveModel {
            id: Set(Uuid::now_v7()),
            company_id: sea_orm::ActiveValue::NotSet,
            patient_id: Set(patient_id),
            rx: Set(enc(&rx)?),
            rx_minus_cyl: Set(enc(&minus)?),
            issued_on: Set(rx.issued_on.map(|d| d.0)),
            expires_on: Set(rx.expires_on.map(|d| d.0)),
            prescriber: Set(rx.prescriber.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .await?;
    tx.commit().await?;
    Ok(row)
}
