//! Counting failures per key in a time window (log-in attempts per email and per client
//! address). In-process by default; `api` supplies a Redis-backed one when `REDIS_URL` is
//! set, so that replicas share the count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[async_trait::async_trait]
pub trait Throttle: Send + Sync {
    /// Records one failure under `key`; returns the failures within the window, this one
    /// included.
    async fn hit(&self, key: &str, window: Duration) -> u64;
    /// The failures within the window, and the seconds until the window ends.
    async fn count(&self, key: &str) -> (u64, u64);
    async fn clear(&self, key: &str);
    /// Takes one attempt back (a log-in that succeeded), without starting a window.
    async fn forgive(&self, key: &str);
    /// Whether the throttle runs on a fallback (a shared store is unreachable and each
    /// process counts alone), for readiness checks.
    fn degraded(&self) -> bool {
        false
    }
}

#[derive(Default)]
pub struct MemoryThrottle {
    windows: Mutex<HashMap<String, (u64, Instant, Duration)>>,
}

impl MemoryThrottle {
    fn live(entry: &(u64, Instant, Duration)) -> bool {
        entry.1.elapsed() < entry.2
    }
}

#[async_trait::async_trait]
impl Throttle for MemoryThrottle {
    async fn hit(&self, key: &str, window: Duration) -> u64 {
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, e| Self::live(e));
        }
        let entry = map
            .entry(key.to_owned())
            .or_insert((0, Instant::now(), window));
        if !Self::live(entry) {
            *entry = (0, Instant::now(), window);
        }
        entry.0 += 1;
        entry.0
    }

    async fn count(&self, key: &str) -> (u64, u64) {
        let map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            // Rounded up: a caller told to retry after this many seconds must not be early.
            Some(e) if Self::live(e) => (
                e.0,
                (e.2.saturating_sub(e.1.elapsed()).as_secs_f64().ceil() as u64).max(1),
            ),
            _ => (0, 0),
        }
    }

    async fn clear(&self, key: &str) {
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    async fn forgive(&self, key: &str) {
        if let Some(e) = self
            .windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(key)
        {
            e.0 = e.0.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_within_the_window_and_clears() {
        let t = MemoryThrottle::default();
        assert_eq!(t.hit("a", Duration::from_secs(60)).await, 1);
        assert_eq!(t.hit("a", Duration::from_secs(60)).await, 2);
        assert_eq!(t.count("a").await.0, 2);
        assert_eq!(t.count("b").await.0, 0);
        t.forgive("a").await;
        assert_eq!(t.count("a").await.0, 1);
        t.clear("a").await;
        assert_eq!(t.count("a").await.0, 0);
        t.forgive("a").await;
        assert_eq!(t.count("a").await.0, 0, "forgiving nothing starts nothing");
    }

    #[tokio::test]
    async fn an_expired_window_starts_again() {
        let t = MemoryThrottle::default();
        t.hit("a", Duration::from_millis(1)).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(t.count("a").await.0, 0);
        assert_eq!(t.hit("a", Duration::from_secs(60)).await, 1);
    }
}
