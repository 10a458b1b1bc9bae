//! The work that runs beside the HTTP server (or alone in `ils worker`): the outbox
//! dispatcher, the job workers and the cron scheduler, plus, with Redis, the listener that
//! carries events and wake-ups between replicas.

use crate::config::Config;
use ils_backbone::mail::Mailer;
use ils_backbone::webhooks::WebhookSettings;
use ils_kernel::jobs::{Registry, Resources, WorkerConfig, run_scheduler, run_workers};
use ils_kernel::module::ModuleList;
use ils_kernel::{Bus, Db};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Every module's job kinds, event handlers and schedules.
pub fn registry() -> Registry {
    crate::schema::Modules::registry()
}

pub fn webhook_settings(config: &Config) -> anyhow::Result<WebhookSettings> {
    WebhookSettings::new(
        Duration::from_millis(config.webhook_timeout_ms),
        config.webhook_max_attempts,
        Duration::from_millis(config.webhook_retry_base_ms),
        Duration::from_millis(
            config
                .webhook_retry_max_ms
                .max(config.webhook_retry_base_ms),
        ),
        config.webhooks_may_reach_private(),
    )
    .map_err(anyhow::Error::msg)
}

/// What job handlers share.
pub fn resources(
    config: &Config,
    webhooks: WebhookSettings,
    files: ils_kernel::files::Files,
) -> anyhow::Result<Resources> {
    let mailer = Mailer::new(
        config.smtp_url.as_deref(),
        &config.mail_from,
        config.data_dir.join("mail"),
        config.public_url().as_deref(),
    )
    .map_err(anyhow::Error::msg)?;
    Ok(Resources::builder()
        .with(mailer)
        .with(webhooks)
        .with(files)
        .with(ils_kernel::jobs::Retention {
            events: chrono::Duration::days(config.event_retention_days as i64),
            ..Default::default()
        })
        .build())
}

/// Starts the dispatcher, `config.workers` job slots and the scheduler on `tracker`.
pub fn spawn_workers(
    tracker: &TaskTracker,
    config: &Config,
    db: &Db,
    bus: &Bus,
    registry: Arc<Registry>,
    resources: Resources,
    shutdown: &CancellationToken,
) {
    if config.workers == 0 {
        if config.redis_url.is_none() {
            tracing::warn!(
                "ILS_WORKERS=0 without REDIS_URL: this process dispatches no events and runs no \
                 jobs, and `ils worker` processes cannot reach its subscribers"
            );
        }
        return;
    }
    let poll = Duration::from_millis(config.job_poll_ms);
    tracker.spawn(dispatch_loop(
        db.clone(),
        bus.clone(),
        registry.clone(),
        poll,
        Duration::from_millis(config.redis_timeout_ms),
        shutdown.clone(),
    ));
    let cfg = WorkerConfig {
        concurrency: config.workers,
        poll,
        lease: Duration::from_secs(config.job_lease_secs),
        ..WorkerConfig::default()
    };
    tracker.spawn(run_workers(
        db.clone(),
        registry.clone(),
        resources,
        cfg,
        shutdown.clone(),
    ));
    tracker.spawn(run_scheduler(db.clone(), registry, shutdown.clone()));
}

/// Dispatches the outbox: at once after a local commit that emitted events, otherwise
/// every `poll` (events committed by other replicas, or left by a process that died).
/// While the bus refuses events (Redis away), it tries again with a growing pause, up to
/// 2 s, so events go out soon after Redis returns.
async fn dispatch_loop(
    db: Db,
    bus: Bus,
    registry: Arc<Registry>,
    poll: Duration,
    publish_timeout: Duration,
    shutdown: CancellationToken,
) {
    let wake = db.wake();
    let mut failures = 0u64;
    while !shutdown.is_cancelled() {
        let round =
            ils_kernel::dispatch::dispatch_once(&db, &bus, &registry, 200, publish_timeout).await;
        let pause = match round {
            Ok(d) if d.publish_failed => {
                failures += 1;
                Duration::from_millis(100 * failures.min(20))
            }
            Ok(d) if d.taken > 0 || d.published > 0 => {
                failures = 0;
                continue;
            }
            Ok(_) => {
                failures = 0;
                tokio::select! {
                    _ = wake.events.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                    _ = shutdown.cancelled() => break,
                }
                continue;
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(error = ?e, "could not dispatch events; will retry");
                Duration::from_millis(200 * failures.min(25))
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.cancelled() => break,
        }
    }
}
