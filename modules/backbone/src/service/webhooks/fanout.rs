//! The fan-out job: each event becomes one delivery per matching endpoint.

use super::WebhookSettings;
use super::deliver::deliver_job;
use crate::model::WebhookDeliveryStatus;
use chrono::Utc;
use ils_entity::{webhook_delivery, webhook_endpoint};
use ils_kernel::AppError;
use ils_kernel::jobs::{JobKind, JobRun, handler};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

pub const FANOUT: &str = "webhook.fanout";

/// Turns each event into one delivery per matching enabled endpoint of each company that
/// may see it (idempotent: a second run for the same event adds nothing).
pub fn fanout_kind() -> JobKind {
    JobKind::new(
        FANOUT,
        handler(|run: JobRun| async move {
            let ev = run.event()?;
            let max = run.resources.need::<WebhookSettings>()?.max_attempts;
            let body = serde_json::json!({
                "id": ev.id,
                "type": ev.event_type,
                "occurredAt": ev.occurred_at,
                "data": ev.data,
            })
            .to_string();
            for company in &ev.audience {
                // Each company the event was addressed to, reading its own endpoints.
                let ctx = ev.act_for_audience(*company)?;
                let tx = run.db.tenant(&ctx).await?;
                let endpoints = tx
                    .select::<webhook_endpoint::Entity>()
                    .filter(webhook_endpoint::Column::Enabled.eq(true))
                    .all(tx.conn())
                    .await
                    .map_err(AppError::from)?;
                // The endpoints this event already reached (an earlier run of this job).
                let done: Vec<Uuid> = tx
                    .select::<webhook_delivery::Entity>()
                    .select_only()
                    .column(webhook_delivery::Column::EndpointId)
                    .filter(webhook_delivery::Column::EventId.eq(ev.id))
                    .into_tuple()
                    .all(tx.conn())
                    .await
                    .map_err(AppError::from)?;
                let now = Utc::now();
                for e in endpoints {
                    let types: Vec<String> =
                        serde_json::from_str(&e.event_types).unwrap_or_default();
                    if done.contains(&e.id) || !ev.matches(&types) {
                        continue;
                    }
                    let delivery = tx
                        .insert(webhook_delivery::ActiveModel {
                            id: Set(Uuid::now_v7()),
                            company_id: sea_orm::ActiveValue::NotSet,
                            endpoint_id: Set(e.id),
                            event_id: Set(ev.id),
                            event_type: Set(ev.event_type.clone()),
                            body: Set(body.clone()),
                            status: Set(WebhookDeliveryStatus::Pending),
                            attempts: Set(0),
                            last_status_code: Set(None),
                            last_error: Set(None),
                            last_latency_ms: Set(None),
                            created_at: Set(now),
                            updated_at: Set(now),
                            delivered_at: Set(None),
                        })
                        .await?;
                    tx.enqueue(deliver_job(delivery.id, "0", max)).await?;
                }
                tx.commit().await?;
            }
            Ok(())
        }),
    )
    .on_events(&["*"])
    .max_attempts(10)
}
