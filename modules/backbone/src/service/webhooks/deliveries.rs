//! The delivery log, as company admins read it, and redelivery.

use super::admin_tx;
use super::deliver::deliver_job;
use crate::model::WebhookDeliveryStatus;
use chrono::Utc;
use ils_entity::webhook_delivery;
use ils_kernel::pagination::Page;
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Db, TenantContext};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

/// Which deliveries to list; every field narrows.
#[derive(Default)]
pub struct Filter {
    pub endpoint_id: Option<Uuid>,
    pub status: Option<WebhookDeliveryStatus>,
    pub event_type: Option<String>,
}

/// Deliveries to the company's endpoints, oldest first.
pub async fn list<T: async_graphql::OutputType>(
    db: &Db,
    tenant: &TenantContext,
    filter: Filter,
    page: PageArgs,
    map: impl Fn(ils_entity::webhook_delivery::Model) -> T,
) -> AppResult<Page<T>> {
    let tx = admin_tx(db, tenant).await?;
    let mut select = tx.select::<webhook_delivery::Entity>();
    if let Some(e) = filter.endpoint_id {
        select = select.filter(webhook_delivery::Column::EndpointId.eq(e));
    }
    if let Some(s) = filter.status {
        select = select.filter(webhook_delivery::Column::Status.eq(s));
    }
    if let Some(t) = filter.event_type {
        select = select.filter(webhook_delivery::Column::EventType.eq(t));
    }
    let conn = paginate(
        tx.conn(),
        select,
        webhook_delivery::Column::Id,
        page,
        |d| d.id,
        map,
    )
    .await?;
    tx.commit().await?;
    Ok(conn)
}

/// Sends a DEAD or DELIVERED delivery again, with a fresh series of at most `max_attempts`
/// attempts; one that is PENDING or FAILED is still being tried and is refused.
pub async fn redeliver(
    db: &Db,
    tenant: &TenantContext,
    delivery_id: Uuid,
    max_attempts: i32,
) -> AppResult<webhook_delivery::Model> {
    let tx = admin_tx(db, tenant).await?;
    // Checked and changed in one statement, so two redeliveries (or a redelivery and a
    // running series) cannot both start a series.
    let changed = tx
        .update_many::<webhook_delivery::Entity>(
            vec![
                (
                    webhook_delivery::Column::Status,
                    Expr::value(WebhookDeliveryStatus::Pending),
                ),
                (webhook_delivery::Column::UpdatedAt, Expr::value(Utc::now())),
            ],
            sea_orm::Condition::all()
                .add(webhook_delivery::Column::Id.eq(delivery_id))
                .add(webhook_delivery::Column::Status.is_in([
                    WebhookDeliveryStatus::Dead,
                    WebhookDeliveryStatus::Delivered,
                ])),
        )
        .await?;
    let delivery = tx.get::<webhook_delivery::Entity>(delivery_id).await?;
    if changed == 0 {
        return Err(AppError::bad_input(
            "deliveryId",
            format!(
                "the delivery is {} and still being tried; only DEAD or DELIVERED deliveries can be redelivered",
                delivery.status.as_str()
            ),
        ));
    }
    tx.enqueue(deliver_job(
        delivery_id,
        &Uuid::now_v7().to_string(),
        max_attempts,
    ))
    .await?;
    tx.commit().await?;
    Ok(delivery)
}
