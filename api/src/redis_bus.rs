//! Redis pub/sub between replicas: every dispatched event is published on
//! `<prefix>:events` and each replica's listener hands it to its own subscribers; a commit
//! that enqueued jobs or emitted events publishes on `<prefix>:jobs` so idle workers and
//! dispatchers everywhere wake at once (web replicas may run none: `ILS_WORKERS=0`).

use futures_util::StreamExt;
use ils_kernel::events::{Event, Relay};
use ils_kernel::jobs::Wake;
use ils_kernel::{AppError, AppResult, Bus, Db};
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

/// A connection manager whose every command, and every connection attempt, gives up
/// after `timeout`: nothing waits long on Redis while it is away.
pub async fn connect(
    client: redis::Client,
    timeout: Duration,
) -> redis::RedisResult<redis::aio::ConnectionManager> {
    redis::aio::ConnectionManager::new_with_config(client, manager_config(timeout)).await
}

/// How every connection to Redis answers for itself: `timeout` to connect and to answer,
/// one retry, at most a second between attempts to reconnect.
pub fn manager_config(timeout: Duration) -> redis::aio::ConnectionManagerConfig {
    redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_secs(1))
}

/// Where this replica's listener is in the stream of events: the cursor of the last event
/// it handed to its subscribers.
#[derive(Default)]
struct Listened {
    last: Option<i64>,
    /// Whether the listener has been subscribed before (a later subscription follows an
    /// outage: what was published meanwhile is read from the outbox).
    subscribed_once: bool,
}

impl Listened {
    /// Hands `ev` to this replica's subscribers unless it was handed already (events are
    /// published in cursor order, so anything at or before `last` is a repeat).
    fn deliver(&mut self, bus: &Bus, ev: Event) {
        if ev.moves_on(&mut self.last) {
            bus.deliver_local(ev);
        }
    }

    /// After (re)subscribing: the first time, notes where the stream is; after an outage,
    /// hands out what was dispatched since the last event this replica saw, from the
    /// outbox, so its subscribers miss nothing that was published while it was away.
    async fn catch_up(&mut self, db: &Db, bus: &Bus) {
        if !self.subscribed_once || self.last.is_none() {
            match ils_kernel::events::head(db).await {
                Ok(head) if !self.subscribed_once => {
                    self.last = Some(head);
                    self.subscribed_once = true;
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = ?e, "the Redis listener cannot read the outbox");
                    self.subscribed_once = true;
                    return;
                }
            }
        }
        let Some(mut from) = self.last else { return };
        loop {
            match ils_kernel::events::after(db, None, from, 500).await {
                Ok(rows) => {
                    let n = rows.len();
                    for ev in rows {
                        from = ev.seq.unwrap_or(from).max(from);
                        self.deliver(bus, ev);
                    }
                    metrics::counter!("ils_events_caught_up_total").increment(n as u64);
                    if n < 500 {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = ?e, "the Redis listener could not catch up from the outbox");
                    return;
                }
            }
        }
    }
}

/// A replica's listener on Redis: what it hands events and wake-ups to.
pub struct Listener {
    pub client: redis::Client,
    pub prefix: String,
    /// This replica's subscribers.
    pub bus: Bus,
    /// The outbox, read to catch up after an outage.
    pub db: Db,
    /// This replica's idle workers.
    pub wake: Arc<Wake>,
    /// The longest wait for connecting and subscribing.
    pub timeout: Duration,
}

/// Listens until `shutdown`, reconnecting after errors. `ready` fires once subscribed.
/// Each event is handed to this replica's subscribers once, in cursor order; after Redis
/// was away, what was published meanwhile is read from the outbox.
pub async fn listen(
    listener: Listener,
    shutdown: CancellationToken,
    ready: Option<tokio::sync::oneshot::Sender<()>>,
) {
    let Listener {
        client,
        prefix,
        bus,
        db,
        wake,
        timeout,
    } = listener;
    let (events, jobs) = (events_channel(&prefix), jobs_channel(&prefix));
    let mut ready = ready;
    let mut listened = Listened::default();
    let mut outage = false;
    while !shutdown.is_cancelled() {
        let pause = || async {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.cancelled() => {}
            }
        };
        let mut pubsub = match tokio::time::timeout(timeout, client.get_async_pubsub()).await {
            Ok(Ok(p)) => p,
            failed => {
                if !outage {
                    let why = match failed {
                        Ok(Err(e)) => e.to_string(),
                        _ => "connecting timed out".into(),
                    };
                    tracing::warn!(error = %why, "Redis pub/sub unavailable; retrying every second");
                    outage = true;
                }
                pause().await;
                continue;
            }
        };
        match tokio::time::timeout(timeout, pubsub.subscribe(&[events.as_str(), jobs.as_str()]))
            .await
        {
            Ok(Ok(())) => {}
            _ => {
                tracing::warn!("Redis SUBSCRIBE failed; retrying");
                outage = true;
                pause().await;
                continue;
            }
        }
        if std::mem::take(&mut outage) {
            tracing::info!("Redis pub/sub is back; catching up from the outbox");
        }
        listened.catch_up(&db, &bus).await;
        // Workers may have missed wake-ups too.
        wake.remote_wake();
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
                            Ok(ev) => listened.deliver(&bus, ev),
                            Err(e) => tracing::warn!(error = %e, "ignoring a malformed event from Redis"),
                        }
                    }
                    None => {
                        tracing::warn!("Redis pub/sub connection closed; reconnecting");
                        outage = true;
                        break;
                    }
                },
                _ = shutdown.cancelled() => return,
            }
        }
    }
}
