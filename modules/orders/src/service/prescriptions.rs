//! Prescriptions: a patient's Rx as entered, checked on the optical grids, kept together
//! with its minus-cylinder form (how labs work). Health data like the patient: the
//! practice's only, every read audited.

use crate::json::enc;
use crate::model::{PATIENT, PRESCRIPTION};
use crate::rx::{Rx, rx_minus_cyl, validate_rx};
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

/// Records a prescription for one of the practice's patients; every refused value at
/// once.
pub async fn create(
    db: &Db,
    ctx: &TenantContext,
    patient_id: Uuid,
    input: Rx,
) -> AppResult<prescription::Model> {
    let (tx, _) = practice_tx(db, ctx).await?;
    tx.get::<patient::Entity>(patient_id).await?;
    let errors = validate_rx(&input, None, Utc::now().date_naive());
    if !errors.is_empty() {
        return Err(AppError::invalid("input", errors));
    }
    let minus = rx_minus_cyl(&input);
    let now = Utc::now();
    let row = tx
        .insert(prescription::ActiveModel {
            id: Set(Uuid::now_v7()),
            company_id: sea_orm::ActiveValue::NotSet,
            patient_id: Set(patient_id),
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
    Ok(row)
}
