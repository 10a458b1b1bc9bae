//! Rate budgets on Redis, shared by every replica: the kernel's GCRA in one Lua script,
//! so a draw on several budgets is one atomic round trip, timed by Redis's own clock
//! (replicas' clocks may disagree; Redis's is one). While Redis cannot be reached, each
//! process keeps budgets on its own (`MemoryRateStore`) rather than letting every request
//! through; the outage is logged once when it starts and once when it ends, and
//! `degraded` reports it (on `/readyz`).

use ils_kernel::ratelimit::{Draw, MemoryRateStore, RateStore, Verdict};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::atomic::{AtomicBool, Ordering};

/// KEYS: the budgets. ARGV: `now` in microseconds (empty: Redis's clock), then per budget
/// its limit, window (µs) and cost. Returns per budget {allowed, remaining, reset (µs),
/// retry after (µs)}; the TATs are written only when every budget allows its draw. The
/// arithmetic is `ils_kernel::ratelimit::gcra`'s, line for line (a test compares them).
const SCRIPT: &str = r"
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local out, keep, all = {}, {}, true
for i = 1, #KEYS do
  local limit = math.max(tonumber(ARGV[3 * i - 1]), 1)
  local window = tonumber(ARGV[3 * i])
  local cost = math.min(tonumber(ARGV[3 * i + 1]), limit)
  local interval = math.max(math.floor(window / limit), 1)
  local tat = tonumber(redis.call('GET', KEYS[i])) or now
  if tat < now then tat = now end
  local new_tat = tat + cost * interval
  local allow_at = new_tat - window
  if allow_at > now then
    all = false
    out[i] = {0, math.floor(math.max(window - (tat - now), 0) / interval), tat - now, allow_at - now}
  else
    out[i] = {1, math.floor(math.max(now + window - new_tat, 0) / interval), new_tat - now, 0}
    keep[i] = new_tat
  end
end
if all then
  for i = 1, #KEYS do
    redis.call('SET', KEYS[i], string.format('%d', keep[i]), 'PX', math.floor((keep[i] - now) / 1000) + 1000)
  end
end
return out
";

pub struct RedisRateStore {
    /// The draws on their way to the limiter's own thread (`RedisRateStore::new`).
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    prefix: String,
    /// The budgets kept while Redis is unreachable.
    fallback: MemoryRateStore,
    degraded: AtomicBool,
}

/// One draw for the limiter's thread: the script's keys and arguments, and where its
/// answer goes.
struct Job {
    invocation: redis::ScriptInvocation<'static>,
    answer: tokio::sync::oneshot::Sender<redis::RedisResult<Vec<Row>>>,
}

/// The script's answer for one budget: allowed (1 or 0), remaining, reset and retry after
/// (µs).
type Row = (i64, i64, i64, i64);

impl RedisRateStore {
    /// A store whose round trips to Redis run on a thread of their own, with a connection
    /// of their own (`config`'s timeouts and retries). Every request waits for its draw,
    /// so the draw should not queue behind the requests: on the server's runtime, the
    /// connection's driver task would be woken twice a draw (to write, then to read) and
    /// wait its turn behind busy request tasks each time, which under load came to more
    /// than the query the draw runs beside. On its own thread only the answer's hand-back
    /// waits for the server's runtime. The thread ends when the store is dropped.
    pub fn new(client: redis::Client, config: ConnectionManagerConfig, prefix: &str) -> Self {
        let (jobs, mut queue) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("ils-limiter".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(error = %e, "rate limits: no runtime for redis; budgets per process");
                        return;
                    }
                };
                runtime.block_on(async move {
                    let conn = match ConnectionManager::new_lazy_with_config(client, config) {
                        Ok(c) => c,
                        Err(e) => {
                            tracing::error!(error = %e, "rate limits: no redis connection; budgets per process");
                            return;
                        }
                    };
                    while let Some(job) = queue.recv().await {
                        let mut c = conn.clone();
                        tokio::spawn(async move {
                            let rows = job.invocation.invoke_async(&mut c).await;
                            let _ = job.answer.send(rows);
                        });
                    }
                });
            });
        if let Err(e) = thread {
            tracing::error!(error = %e, "rate limits: no thread for redis; budgets per process");
        }
        RedisRateStore {
            jobs,
            prefix: format!("{prefix}:rate:"),
            fallback: MemoryRateStore::default(),
            degraded: AtomicBool::new(false),
        }
    }

    /// The draw on Redis, at `now_us` when given (tests) or by Redis's clock.
    async fn draw(&self, draws: &[Draw], now_us: Option<i64>) -> redis::RedisResult<Vec<Verdict>> {
        static DRAW: std::sync::LazyLock<redis::Script> =
            std::sync::LazyLock::new(|| redis::Script::new(SCRIPT));
        let mut invocation = DRAW.prepare_invoke();
        invocation.arg(now_us.map(|n| n.to_string()).unwrap_or_default());
        for d in draws {
            invocation
                .key(format!("{}{}", self.prefix, d.key))
                .arg(d.quota.limit)
                .arg(d.quota.window.as_micros() as u64)
                .arg(d.cost);
        }
        let (answer, answered) = tokio::sync::oneshot::channel();
        let gone =
            || redis::RedisError::from((redis::ErrorKind::Io, "the limiter's thread is gone"));
        self.jobs
            .send(Job { invocation, answer })
            .map_err(|_| gone())?;
        let rows = answered.await.map_err(|_| gone())??;
        Ok(rows
            .into_iter()
            .map(|(allowed, remaining, reset, retry)| Verdict {
                allowed: allowed == 1,
                remaining: remaining.max(0) as u64,
                reset_secs: (reset.max(0) as u64).div_ceil(1_000_000),
                retry_after_secs: if allowed == 1 {
                    0
                } else {
                    (retry.max(0) as u64).div_ceil(1_000_000).max(1)
                },
            })
            .collect())
    }
}

#[async_trait::async_trait]
impl RateStore for RedisRateStore {
    async fn take(&self, draws: &[Draw]) -> Vec<Verdict> {
        match self.draw(draws, None).await {
            Ok(v) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("rate limits: redis reachable again; budgets shared again");
                }
                v
            }
            Err(e) => {
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "rate limits: redis unavailable; budgets per process until it is back");
                }
                self.fallback.take(draws).await
            }
        }
    }

    fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ils_kernel::ratelimit::Quota;
    use std::time::Duration;

    fn store(url: &str, prefix: &str) -> RedisRateStore {
        let client = redis::Client::open(url).unwrap();
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(Duration::from_millis(300)))
            .set_response_timeout(Some(Duration::from_millis(300)));
        RedisRateStore::new(client, config, prefix)
    }

    #[tokio::test]
    async fn keeps_budgets_per_process_while_redis_is_unreachable() {
        let store = store("redis://127.0.0.1:1/", "t");
        assert!(!store.degraded());
        let d = [Draw {
            key: "user:a".into(),
            quota: Quota::per_minute(2),
            cost: 1,
        }];
        // Failing open would let every request through: the fallback still counts.
        assert!(store.take(&d).await[0].allowed);
        assert!(store.degraded());
        assert!(store.take(&d).await[0].allowed);
        assert!(!store.take(&d).await[0].allowed);
    }

    /// The script and the kernel's arithmetic agree, draw for draw, on the same clock.
    #[tokio::test]
    async fn the_script_is_the_kernels_arithmetic() {
        let Ok(url) = std::env::var("TEST_REDIS_URL") else {
            eprintln!("TEST_REDIS_URL not set: the script is compared on the Redis pass");
            return;
        };
        let prefix = format!("ils-test-{}", uuid::Uuid::new_v4().simple());
        let redis = store(&url, &prefix);
        let memory = MemoryRateStore::default();
        // A fixed pseudo-random walk of draws on three budgets of different sizes.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let quotas = [
            Quota::per_minute(5),
            Quota::per_minute(600),
            Quota {
                limit: 7,
                window: Duration::from_secs(1),
            },
        ];
        let mut now = 1_700_000_000_000_000i64;
        for step in 0..2_000 {
            now += (next() % 400_000) as i64;
            let n = 1 + (next() % 3) as usize;
            let draws: Vec<Draw> = (0..n)
                .map(|i| {
                    let q = quotas[(i + step) % quotas.len()];
                    Draw {
                        key: format!("b{}", (i + step) % quotas.len()),
                        quota: q,
                        cost: next() % (q.limit + 2),
                    }
                })
                .collect();
            let mut unique = draws.clone();
            unique.sort_by(|a, b| a.key.cmp(&b.key));
            unique.dedup_by(|a, b| a.key == b.key);
            let expected = memory.take_at(&unique, now);
            let got = redis.draw(&unique, Some(now)).await.unwrap();
            assert_eq!(got, expected, "step {step}: {unique:?}");
        }
    }
}
