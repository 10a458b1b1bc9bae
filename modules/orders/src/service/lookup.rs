//! Rows by ID for the node lookup and for references between objects: through the guard,
//! with the same audit as their own queries.

use crate::model::{PATIENT, PRESCRIPTION};
use crate::service::orders::audit_identified;
use crate::service::patients::audit_read;
use ils_entity::{lens_order, patient, prescription};
use ils_kernel::{AppResult, ClientInfo, Db, TenantContext, Tx, id};
use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

/// The rows the node lookup found, by type.
#[derive(Default)]
pub struct Found {
    pub patients: Vec<patient::Model>,
    pub orders: Vec<lens_order::Model>,
    pub prescriptions: Vec<prescription::Model>,
}

/// The visible patients, orders and prescriptions among the IDs asked, in one
/// transaction; patient and prescription reads are audited like `patientRecord`, orders
/// that name a patient like `order(id)`.
pub async fn nodes(
    db: &Db,
    ctx: &TenantContext,
    client: &ClientInfo,
    patients: Vec<Uuid>,
    orders: Vec<Uuid>,
    prescriptions: Vec<Uuid>,
) -> AppResult<Found> {
    let tx = db.tenant(ctx).await?;
    let mut found = Found {
        patients: patients_in(&tx, ctx, client, patients).await?,
        ..Found::default()
    };
    if !orders.is_empty() {
        found.orders = tx
            .select::<lens_order::Entity>()
            .filter(lens_order::Column::Id.is_in(orders))
            .all(tx.conn())
            .await?;
        audit_identified(&tx, ctx, client, found.orders.iter()).await?;
    }
    if !prescriptions.is_empty() {
        found.prescriptions = tx
            .select::<prescription::Entity>()
            .filter(prescription::Column::Id.is_in(prescriptions))
            .all(tx.conn())
            .await?;
        let read = found
            .prescriptions
            .iter()
            .map(|p| id::encode(PRESCRIPTION, p.id).to_string())
            .collect();
        audit_read(&tx, ctx, client, read).await?;
    }
    tx.commit().await?;
    Ok(found)
}

/// The visible patients among `ids` (the caller's practice's only), in one query and one
/// audited read: how the orders read together load their patients.
pub async fn patients(
    db: &Db,
    ctx: &TenantContext,
    client: &ClientInfo,
    ids: Vec<Uuid>,
) -> AppResult<Vec<patient::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let tx = db.tenant(ctx).await?;
    let found = patients_in(&tx, ctx, client, ids).await?;
    tx.commit().await?;
    Ok(found)
}

/// The visible patients among `ids`, their read audited like `patient(id)`.
async fn patients_in(
    tx: &Tx,
    ctx: &TenantContext,
    client: &ClientInfo,
    ids: Vec<Uuid>,
) -> AppResult<Vec<patient::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found = tx.find_many::<patient::Entity>(ids).await?;
    let read: Vec<String> = found
        .iter()
        .map(|p| id::encode(PATIENT, p.id).to_string())
        .collect();
    audit_read(tx, ctx, client, read).await?;
    Ok(found)
}
