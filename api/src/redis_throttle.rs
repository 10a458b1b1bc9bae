//! The log-in throttle on Redis, shared by every replica.

use ils_kernel::throttle::Throttle;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use std::time::Duration;

pub struct RedisThrottle {
    conn: ConnectionManager,
    prefix: String,
}

impl RedisThrottle {
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        RedisThrottle {
            conn,
            prefix: format!("{prefix}:throttle:"),
        }
    }
}

#[async_trait::async_trait]
impl Throttle for RedisThrottle {
    async fn hit(&self, key: &str, window: Duration) -> u64 {
        let key = format!("{}{key}", self.prefix);
        let mut c = self.conn.clone();
        // INCR, then start the window on the first failure only (EXPIRE NX).
        let result: redis::RedisResult<(u64, i64)> = redis::pipe()
            .atomic()
            .incr(&key, 1u64)
            .cmd("EXPIRE")
            .arg(&key)
            .arg(window.as_secs().max(1))
            .arg("NX")
            .query_async(&mut c)
            .await;
        match result {
            Ok((n, _)) => n,
            Err(e) => {
                // Failing open keeps log-in working when Redis is down; it is logged.
                tracing::warn!(error = %e, "throttle: redis unavailable");
                0
            }
        }
    }

    async fn count(&self, key: &str) -> (u64, u64) {
        let key = format!("{}{key}", self.prefix);
        let mut c = self.conn.clone();
        let result: redis::RedisResult<(Option<u64>, i64)> =
            redis::pipe().get(&key).ttl(&key).query_async(&mut c).await;
        match result {
            Ok((n, ttl)) => (n.unwrap_or(0), ttl.max(1) as u64),
            Err(e) => {
                tracing::warn!(error = %e, "throttle: redis unavailable");
                (0, 0)
            }
        }
    }

    async fn clear(&self, key: &str) {
        let key = format!("{}{key}", self.prefix);
        let mut c = self.conn.clone();
        let _: redis::RedisResult<u64> = c.del(&key).await;
    }

    async fn forgive(&self, key: &str) {
        let key = format!("{}{key}", self.prefix);
        let mut c = self.conn.clone();
        // Only an existing counter is decremented; DECR alone would create one at -1.
        const SCRIPT: &str = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end return 0";
        let _: redis::RedisResult<i64> = redis::cmd("EVAL")
            .arg(SCRIPT)
            .arg(1)
            .arg(&key)
            .query_async(&mut c)
            .await;
    }
}
