//! One computation for every concurrent asker of the same key: when one event fans out to
//! a thousand subscriptions that each need the same row, the first one reads it and the
//! others wait for that read instead of each opening a transaction. Only the last
//! `capacity` keys are kept (an entry is wanted while its event is being delivered, a few
//! milliseconds); a failed computation is not kept, so the next asker tries again.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

pub struct Coalesce<K, V> {
    capacity: usize,
    inner: Mutex<Inner<K, V>>,
}

struct Inner<K, V> {
    cells: HashMap<K, Arc<OnceCell<V>>>,
    /// Keys in the order they were first asked for.
    order: VecDeque<K>,
}

impl<K: Hash + Eq + Clone, V: Clone> Coalesce<K, V> {
    pub fn new(capacity: usize) -> Self {
        Coalesce {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                cells: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    /// The value for `key`: computed by `compute` for the first asker, shared with every
    /// asker that comes while it is kept. Whoever shares a key must be entitled to the
    /// same value (the key carries what the value depends on, such as the company).
    pub async fn get_or_try<E, F, Fut>(&self, key: K, compute: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let cell = {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            match inner.cells.get(&key) {
                Some(cell) => cell.clone(),
                None => {
                    while inner.order.len() >= self.capacity {
                        if let Some(old) = inner.order.pop_front() {
                            inner.cells.remove(&old);
                        }
                    }
                    let cell = Arc::new(OnceCell::new());
                    inner.cells.insert(key.clone(), cell.clone());
                    inner.order.push_back(key);
                    cell
                }
            }
        };
        cell.get_or_try_init(compute).await.cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_askers_share_one_computation() {
        let c: Arc<Coalesce<u32, u32>> = Arc::new(Coalesce::new(8));
        let runs = Arc::new(AtomicUsize::new(0));
        let askers = (0..50).map(|_| {
            let (c, runs) = (c.clone(), runs.clone());
            tokio::spawn(async move {
                c.get_or_try(7, || async {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    Ok::<_, ()>(49)
                })
                .await
            })
        });
        for a in askers {
            assert_eq!(a.await.unwrap(), Ok(49));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn failures_are_not_kept_and_old_keys_go() {
        let c: Coalesce<u32, u32> = Coalesce::new(2);
        assert_eq!(
            c.get_or_try(1, || async { Err::<u32, _>("down") }).await,
            Err("down")
        );
        assert_eq!(c.get_or_try(1, || async { Ok::<_, &str>(1) }).await, Ok(1));
        assert_eq!(c.get_or_try(2, || async { Ok::<_, &str>(2) }).await, Ok(2));
        assert_eq!(c.get_or_try(3, || async { Ok::<_, &str>(3) }).await, Ok(3));
        // Key 1 was the oldest of three with room for two: it is computed again.
        assert_eq!(
            c.get_or_try(1, || async { Ok::<_, &str>(10) }).await,
            Ok(10)
        );
        assert_eq!(c.get_or_try(3, || async { Ok::<_, &str>(30) }).await, Ok(3));
    }
}
