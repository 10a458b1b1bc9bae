//! The log-in throttle on Redis, shared by every replica. While Redis cannot be reached,
//! each process counts on its own (`MemoryThrottle`) rather than letting every attempt
//! through: an attacker who can slow Redis down must not win unlimited guesses by it. The
//! outage is logged once when it starts and once when it ends, and `degraded` reports it.

use ils_kernel::throttle::{MemoryThrottle, Throttle};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub struct RedisThrottle {
    conn: ConnectionManager,
    prefix: String,
    /// The counters used while Redis is unreachable.
    fallback: MemoryThrottle,
    degraded: AtomicBool,
}

impl RedisThrottle {
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        RedisThrottle {
            conn,
            prefix: format!("{prefix}:throttle:"),
            fallback: MemoryThrottle::default(),
            degraded: AtomicBool::new(false),
        }
    }

    /// Notes that Redis answered: ends an outage (logged once).
    fn reached(&self) {
        if self.degraded.swap(false, Ordering::Relaxed) {
            tracing::info!("throttle: redis reachable again; counting in redis");
        }
    }

    /// Notes that Redis failed: starts an outage (logged once, not per request).
    fn unreachable(&self, e: &redis::RedisError) {
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %e, "throttle: redis unavailable; counting per process until it is back");
        }
    }

    /// `result`, or (noting the outage) what the fallback says.
    async fn or_fallback<T, F>(&self, result: redis::RedisResult<T>, fallback: F) -> T
    where
        F: std::future::Future<Output = T>,
    {
        match result {
            Ok(v) => {
                self.reached();
                v
            }
            Err(e) => {
                self.unreachable(&e);
                fallback.await
            }
        }
    }
}

#[async_trait::async_trait]
impl Throttle for RedisThrottle {
    async fn hit(&self, key: &str, window: Duration) -> u64 {
        let full = format!("{}{key}", self.prefix);
        let mut c = self.conn.clone();
        // INCR, then start the window on the first failure only (EXPIRE NX).
        let result: redis::RedisResult<(u64, i64)> = redis::pipe()
            .atomic()
            .incr(&full, 1u64)
            .cmd("EXPIRE")
            .arg(&full)
            .arg(window.as_secs().max(1))
            .arg("NX")
            .query_async(&mut c)
            .await;
        self.or_fallback(result.map(|(n, _)| n), self.fallback.hit(key, window))
            .await
    }

    async fn count(&self, key: &str) -> (u64, u64) {
        let full = format!("{}{key}", self.prefix);
        let mut c = self.conn.clone();
        let result: redis::RedisResult<(Option<u64>, i64)> = redis::pipe()
            .get(&full)
            .ttl(&full)
            .query_async(&mut c)
            .await;
        self.or_fallback(
            result.map(|(n, ttl)| (n.unwrap_or(0), ttl.max(1) as u64)),
            self.fallback.count(key),
        )
        .await
    }

    async fn clear(&self, key: &str) {
        let full = format!("{}{key}", self.prefix);
        let mut c = self.conn.clone();
        let result: redis::RedisResult<u64> = c.del(&full).await;
        // The fallback may hold counts from an outage; they go too.
        self.fallback.clear(key).await;
        self.or_fallback(result.map(|_| ()), async {}).await;
    }

    async fn forgive(&self, key: &str) {
        let full = format!("{}{key}", self.prefix);
        let mut c = self.conn.clone();
        // Only an existing counter is decremented; DECR alone would create one at -1.
        const SCRIPT: &str = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end return 0";
        let result: redis::RedisResult<i64> = redis::cmd("EVAL")
            .arg(SCRIPT)
            .arg(1)
            .arg(&full)
            .query_async(&mut c)
            .await;
        self.or_fallback(result.map(|_| ()), self.fallback.forgive(key))
            .await;
    }

    fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::aio::ConnectionManagerConfig;

    /// A throttle whose Redis is a port where nothing listens.
    fn unreachable() -> RedisThrottle {
        let client = redis::Client::open("redis://127.0.0.1:1/").unwrap();
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(Duration::from_millis(200)))
            .set_response_timeout(Some(Duration::from_millis(200)));
        let conn = ConnectionManager::new_lazy_with_config(client, config).unwrap();
        RedisThrottle::new(conn, "t")
    }

    #[tokio::test]
    async fn counts_per_process_while_redis_is_unreachable() {
        let t = unreachable();
        assert!(!t.degraded(), "not degraded before Redis was asked");
        let window = Duration::from_secs(60);
        // Failing open answered 0 to every hit: every attempt was let through.
        assert_eq!(t.hit("login:a", window).await, 1);
        assert!(t.degraded());
        assert_eq!(t.hit("login:a", window).await, 2);
        assert_eq!(t.hit("login:a", window).await, 3);
        assert_eq!(t.hit("login:b", window).await, 1);
        let (count, left) = t.count("login:a").await;
        assert_eq!(count, 3);
        assert!(left > 0 && left <= 60, "{left}");
        t.forgive("login:a").await;
        assert_eq!(t.count("login:a").await.0, 2);
        t.clear("login:a").await;
        assert_eq!(t.count("login:a").await.0, 0);
        assert!(t.degraded());
    }
}
