//! Redis pub/sub between replicas: every dispatched event is published on
//! `<prefix>:events` and each replica's listener hands it to its own subscribers; a commit
//! that enqueued jobs or emitted events publishes on `<prefix>:jobs` so idle workers and
//! dispatchers everywhere wake at once (web replicas may run none: `ILS_WORKERS=0`).

use futures_util::StreamExt;
use ils_kernel::events::{Event, Relay};
use ils_kernel::jobs::Wake;
use ils_kernel::{AppError, AppResult, Bus};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct RedisRelay {
    conn: redis::aio::ConnectionManager,
    channel: String,
}

impl RedisRelay {
    pub fn new(conn: redis::aio::ConnectionManager, prefix: &str) -> RedisRelay {
        RedisRelay {
            conn,
            channel: events_channel(prefix),
        }
    }
}

fn events_channel(prefix: &str) -> String {
    format!("{prefix}:events")
}

fn jobs_channel(prefix: &str) -> String {
    format!("{prefix}:jobs")
}

#[async_trait::async_trait]
impl Relay for RedisRelay {
    async fn publish(&self, event: &Event) -> AppResult<()> {
        let payload = serde_json::to_string(event)
            .map_err(|e| AppError::internal(format!("event not serialisable: {e}")))?;
        let mut conn = self.conn.clone();
        redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg(payload)
            .query_async::<i64>(&mut conn)
            .await
            .map_err(|e| AppError::internal(format!("Redis PUBLISH failed: {e}")))?;
        Ok(())
    }
}

/// The hook a local commit calls to wake other replicas' workers.
pub fn wake_hook(conn: redis::aio::ConnectionManager, prefix: &str) -> Arc<dyn Fn() + Send + Sync> {
    let channel = jobs_channel(prefix);
    Arc::new(move || {
        let mut conn = conn.clone();
        let channel = channel.clone();
        tokio::spawn(async move {
            let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(&channel)
                .arg("1")
                .query_async(&mut conn)
                .await;
            if let Err(e) = sent {
                tracing::debug!(error = %e, "could not publish a job wake-up (workers still poll)");
            }
        });
    })
}

/// Listens until `shutdown`, reconnecting after errors. `ready` fires once subscribed.
pub async fn listen(
    client: redis::Client,
    prefix: String,
    bus: Bus,
    wake: Arc<Wake>,
    shutdown: CancellationToken,
    ready: Option<tokio::sync::oneshot::Sender<()>>,
) {
    let (events, jobs) = (events_channel(&prefix), jobs_channel(&prefix));
    let mut ready = ready;
    while !shutdown.is_cancelled() {
        let mut pubsub = match client.get_async_pubsub().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "Redis pub/sub unavailable; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = shutdown.cancelled() => return,
                }
            }
        };
        if let Err(e) = pubsub.subscribe(&[events.as_str(), jobs.as_str()]).await {
            tracing::warn!(error = %e, "Redis SUBSCRIBE failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        if let Some(tx) = ready.take() {
            let _ = tx.send(());
        }
        let mut stream = pubsub.on_message();
        loop {
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(msg) => {
                        if msg.get_channel_name() == jobs {
                            wake.remote_wake();
                            continue;
                        }
                        let payload: String = match msg.get_payload() {
                            Ok(p) => p,
                            Err(_) => continue,
                        };
                        match serde_json::from_str::<Event>(&payload) {
                            Ok(ev) => bus.deliver_local(ev),
                            Err(e) => tracing::warn!(error = %e, "ignoring a malformed event from Redis"),
                        }
                    }
                    None => {
                        tracing::warn!("Redis pub/sub connection closed; reconnecting");
                        break;
                    }
                },
                _ = shutdown.cancelled() => return,
            }
        }
    }
}
