//! The delivery log, as company admins read it, and redelivery.

use super::admin_tx;
use super::deliver::deliver_job;
use crate::model::WebhookDeliveryStatus;
use chrono::Utc;
use ils_entity::{webhook_delivery, webhook_endpoint};
use ils_kernel::pagination::Page;
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Db, Role, TenantContext, Tx};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter};
use std::collections::HashMap;
use uuid::Uuid;

/// A delivery with the endpoint it goes to (loaded with it, in the same transaction).
pub struct Delivery {
    pub row: webhook_delivery::Model,
    /// Always there once loaded: an endpoint's deliveries are deleted with it.
    pub endpoint: Option<webhook_endpoint::Model>,
}

/// Attaches their endpoints to `deliveries`, in one statement.
async fn attach<'a>(
    tx: &Tx,
    deliveries: impl IntoIterator<Item = &'a mut Delivery>,
) -> AppResult<()> {
    let mut deliveries: Vec<&mut Delivery> = deliveries.into_iter().collect();
    if deliveries.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<Uuid> = deliveries.iter().map(|d| d.row.endpoint_id).collect();
    ids.sort();
    ids.dedup();
    let endpoints: HashMap<Uuid, webhook_endpoint::Model> = tx
        .find_many::<webhook_endpoint::Entity>(ids)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    for d in deliveries.iter_mut() {
        d.endpoint = endpoints.get(&d.row.endpoint_id).cloned();
    }
    Ok(())
}

/// Which deliveries to list; every field narrows.
#[derive(Default)]
pub struct Filter {
    pub endpoint_id: Option<Uuid>,
    pub status: Option<WebhookDeliveryStatus>,
    pub event_type: Option<String>,
}

/// Deliveries to the company's endpoints, oldest first, each with its endpoint.
pub async fn list<T: async_graphql::OutputType + AsMut<Delivery>>(
    db: &Db,
    tenant: &TenantContext,
    filter: Filter,
    page: PageArgs,
    map: impl Fn(Delivery) -> T,
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
    let mut conn = paginate(
        tx.conn(),
        select,
        webhook_delivery::Column::Id,
        page,
        |d| d.id,
        |row| {
            map(Delivery {
                row,
                endpoint: None,
            })
        },
    )
    .await?;
    attach(&tx, conn.edges.iter_mut().map(|e| e.node.as_mut())).await?;
    tx.commit().await?;
    Ok(conn)
}

/// The deliveries among `ids` that the caller may see (a company admin: their company's),
/// each with its endpoint; none for anybody else.
pub async fn by_ids(tx: &Tx, tenant: &TenantContext, ids: Vec<Uuid>) -> AppResult<Vec<Delivery>> {
    if ids.is_empty()
        || ils_kernel::authz::require_role(tx, tenant, Role::CompanyAdmin)
            .await
            .is_err()
    {
        return Ok(vec![]);
    }
    let mut found: Vec<Delivery> = tx
        .find_many::<webhook_delivery::Entity>(ids)
        .await?
        .into_iter()
        .map(|row| Delivery {
            row,
            endpoint: None,
        })
        .collect();
    attach(tx, found.iter_mut()).await?;
    Ok(found)
}

/// Sends a DEAD or DELIVERED delivery again, with a fresh series of at most `max_attempts`
/// attempts; one that is PENDING or FAILED is still being tried and is refused.
pub async fn redeliver(
    db: &Db,
    tenant: &TenantContext,
    delivery_id: Uuid,
    max_attempts: i32,
) -> AppResult<Delivery> {
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
            "input.deliveryId",
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
    let mut delivery = Delivery {
        row: delivery,
        endpoint: None,
    };
    attach(&tx, [&mut delivery]).await?;
    tx.commit().await?;
    Ok(delivery)
}
