//! The delivery job: one signed HTTP attempt of one delivery, and the outcome in the log.

use super::signing::signature;
use super::ssrf::host_refused;
use super::{DELIVERY, WebhookSettings};
use crate::model::WebhookDeliveryStatus;
use chrono::Utc;
use ils_entity::{webhook_delivery, webhook_endpoint};
use ils_kernel::jobs::{JobError, JobKind, JobPayload, JobRun, NewJob, backoff_delay, handler};
use ils_kernel::{AppError, id};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, IntoActiveModel};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub const DELIVER: &str = "webhook.deliver";

/// One delivery's attempts.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub struct Deliver {
    pub delivery_id: Uuid,
}

impl JobPayload for Deliver {
    const KIND: &'static str = DELIVER;
}

/// The job of one series of attempts of a delivery (`series` tells series apart: "0" for
/// the first, a fresh UUID for each redelivery).
pub(crate) fn deliver_job(delivery: Uuid, series: &str, max_attempts: i32) -> NewJob {
    NewJob::of(&Deliver {
        delivery_id: delivery,
    })
    .key(format!("{DELIVER}:{delivery}:{series}"))
    .max_attempts(max_attempts)
}

/// One HTTP attempt of one delivery.
pub fn deliver_kind() -> JobKind {
    JobKind::new(
        DELIVER,
        handler(|run: JobRun| async move {
            let settings = run.resources.need::<WebhookSettings>()?.clone();
            let did = run.payload::<Deliver>()?.delivery_id;
            let tenant = run.tenant();
            // Read, then let go of the database while the receiver answers.
            let tx = run.db.tenant(&tenant).await?;
            let delivery = match tx.get::<webhook_delivery::Entity>(did).await {
                Ok(d) => d,
                // The endpoint was deleted, and its deliveries with it.
                Err(AppError::NotFound) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            let endpoint = match tx
                .get::<webhook_endpoint::Entity>(delivery.endpoint_id)
                .await
            {
                Ok(e) => e,
                Err(AppError::NotFound) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            tx.commit().await?;
            if !endpoint.enabled {
                record(
                    &run,
                    delivery,
                    None,
                    Some("the endpoint is disabled".into()),
                    None,
                    true,
                )
                .await?;
                return Err(JobError::permanent("the endpoint is disabled"));
            }
            // An IP literal never reaches the resolver that drops non-public addresses, so
            // it is checked here (again: the rules may have tightened since registration).
            if !settings.allow_private
                && let Ok(url) = reqwest::Url::parse(&endpoint.url)
                && url.host().is_some_and(|h| host_refused(&h))
            {
                let message = "the endpoint address is not public";
                record(&run, delivery, None, Some(message.into()), None, true).await?;
                return Err(JobError::permanent(message));
            }
            // The attempt is counted before the request leaves, so the log counts every
            // request a receiver may have seen, even one whose worker died mid-flight. One
            // SQL increment, so concurrent attempts (a redelivery overlapping a worker whose
            // lease ran out) are all counted.
            let tx = run.db.tenant(&tenant).await?;
            let counted = tx
                .update_many::<webhook_delivery::Entity>(
                    vec![
                        (
                            webhook_delivery::Column::Attempts,
                            sea_orm::sea_query::ExprTrait::add(
                                Expr::col(webhook_delivery::Column::Attempts),
                                1,
                            ),
                        ),
                        (webhook_delivery::Column::UpdatedAt, Expr::value(Utc::now())),
                    ],
                    webhook_delivery::Column::Id.eq(did),
                )
                .await?;
            if counted == 0 {
                // Deleted with its endpoint since it was read.
                return Ok(());
            }
            let delivery = tx.get::<webhook_delivery::Entity>(did).await?;
            tx.commit().await?;
            let t = Utc::now().timestamp();
            let started = Instant::now();
            let sent = settings
                .client
                .post(&endpoint.url)
                .header("content-type", "application/json")
                .header("x-ils-event-id", delivery.event_id.to_string())
                .header("x-ils-event-type", &delivery.event_type)
                .header("x-ils-delivery-id", id::encode(DELIVERY, delivery.id).0)
                .header("x-ils-timestamp", t.to_string())
                .header(
                    "x-ils-signature",
                    signature(&endpoint.secret, t, &delivery.body),
                )
                .body(delivery.body.clone())
                .send()
                .await;
            let latency = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
            let (code, error) = match sent {
                Ok(resp) if resp.status().is_success() => {
                    (Some(resp.status().as_u16() as i32), None)
                }
                Ok(resp) => (
                    Some(resp.status().as_u16() as i32),
                    Some(format!(
                        "the receiver answered HTTP {}",
                        resp.status().as_u16()
                    )),
                ),
                Err(e) if e.is_timeout() => {
                    (None, Some("the receiver did not answer in time".into()))
                }
                Err(e) => (
                    None,
                    Some(format!("could not reach the receiver: {}", error_chain(&e))),
                ),
            };
            let last = run.is_last_attempt();
            record(&run, delivery, code, error.clone(), Some(latency), last).await?;
            match error {
                None => Ok(()),
                Some(message) => Err(JobError {
                    message,
                    retry_after: Some(backoff_delay(
                        settings.retry_base,
                        settings.retry_max,
                        run.attempt,
                    )),
                    permanent: false,
                }),
            }
        }),
    )
    // No `max_attempts` here: every delivery job is enqueued by `deliver_job`, which sets
    // it from `WebhookSettings::max_attempts`.
    .timeout(Duration::from_secs(120))
    // A last attempt that died without recording (its worker stopped, it timed out) still
    // leaves the delivery DEAD in the log, like its job.
    .on_dead(handler(|run: JobRun| async move {
        // A payload this release cannot read names no delivery: nothing to mark.
        let Ok(Deliver { delivery_id: did }) = run.payload::<Deliver>() else {
            return Ok(());
        };
        let error = run.dead_error().unwrap_or("failed").to_owned();
        let tx = run.db.tenant(&run.tenant()).await?;
        tx.update_many::<webhook_delivery::Entity>(
            vec![
                (
                    webhook_delivery::Column::Status,
                    Expr::value(WebhookDeliveryStatus::Dead),
                ),
                (webhook_delivery::Column::LastError, Expr::value(error)),
                (webhook_delivery::Column::UpdatedAt, Expr::value(Utc::now())),
            ],
            sea_orm::Condition::all()
                .add(webhook_delivery::Column::Id.eq(did))
                .add(webhook_delivery::Column::Status.ne(WebhookDeliveryStatus::Delivered)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Writes an attempt's outcome to the delivery log (the attempt itself was counted when it
/// started).
async fn record(
    run: &JobRun,
    delivery: webhook_delivery::Model,
    code: Option<i32>,
    error: Option<String>,
    latency: Option<i32>,
    last_attempt: bool,
) -> Result<(), JobError> {
    let tx = run.db.tenant(&run.tenant()).await?;
    let now = Utc::now();
    let mut am = delivery.into_active_model();
    am.last_status_code = Set(code);
    am.last_latency_ms = Set(latency);
    am.updated_at = Set(now);
    match &error {
        None => {
            am.status = Set(WebhookDeliveryStatus::Delivered);
            am.delivered_at = Set(Some(now));
            am.last_error = Set(None);
        }
        Some(e) => {
            let status = if last_attempt {
                WebhookDeliveryStatus::Dead
            } else {
                WebhookDeliveryStatus::Failed
            };
            am.status = Set(status);
            am.last_error = Set(Some(e.clone()));
        }
    }
    tx.update(am).await?;
    tx.commit().await?;
    Ok(())
}
