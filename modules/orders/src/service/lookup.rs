//! Rows by ID for the node lookup: through the guard, with the same audit as their own
//! queries.

use crate::model::PATIENT;
use crate::service::orders::audit_identified;
use crate::service::patients::audit_read;
use ils_entity::{lens_order, patient};
use ils_kernel::{AppResult, ClientInfo, Db, TenantContext, id};
use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

/// The visible patients and orders among the IDs asked, in one transaction; patient reads
/// are audited like `patient(id)`, orders that name a patient like `order(id)`.
pub async fn patients_and_orders(
    db: &Db,
    ctx: &TenantContext,
    client: &ClientInfo,
    patients: Vec<Uuid>,
    orders: Vec<Uuid>,
) -> AppResult<(Vec<patient::Model>, Vec<lens_order::Model>)> {
    let tx = db.tenant(ctx).await?;
    let mut found_patients = Vec::new();
    if !patients.is_empty() {
        found_patients = tx
            .select::<patient::Entity>()
            .filter(patient::Column::Id.is_in(patients))
            .all(tx.conn())
            .await?;
        let read: Vec<String> = found_patients
            .iter()
            .map(|p| id::encode(PATIENT, p.id).to_string())
            .collect();
        audit_read(&tx, ctx, client, read).await?;
    }
    let mut found_orders = Vec::new();
    if !orders.is_empty() {
        found_orders = tx
            .select::<lens_order::Entity>()
            .filter(lens_order::Column::Id.is_in(orders))
            .all(tx.conn())
            .await?;
        audit_identified(&tx, ctx, client, found_orders.iter()).await?;
    }
    tx.commit().await?;
    Ok((found_patients, found_orders))
}
