//! Rate budgets on Redis, shared by every replica: the kernel's GCRA in one Lua script,
//! so a draw on several budgets is one atomic round trip, timed by Redis's own clock
//! (replicas' clocks may disagree; Redis's is one). While Redis cannot be reached, each
//! process keeps budgets on its own (`MemoryRateStore`) rather than letting every request
//! through; the outage is logged once when it starts and once when it ends, and
//! `degraded` reports it (on `/readyz`).
//!
//! Every draw goes to Redis, but not every request waits for Redis's answer: a draw that
//! leaves each of its budgets at least a tenth of its limit, by what this process last
//! heard of them (within the last second) and what it has drawn since, is answered at
//! once ([`Mirror`]). Its round trip still charges the shared budget, and its answer
//! brings this process up to date. Close to a budget's end every draw waits for Redis,
//! so refusals are Redis's own; what another replica spent since this one last heard can
//! let through at most the draws already on their way when this one hears of it
//! (counted: `ils_rate_limit_overruns_total`).

use ils_kernel::ratelimit::{Draw, MemoryRateStore, RateStore, Verdict, gcra};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// KEYS: the budgets. ARGV: `now` in microseconds (empty: Redis's clock), then per budget
/// its limit, window (µs) and cost. Returns per budget {allowed, remaining, reset (µs),
/// retry after (µs)}, where reset is the budget's TAT less Redis's now (its new TAT when
/// it allows the draw, its TAT as it stands when it refuses); the TATs are written only
/// when every budget allows its draw. The arithmetic is `ils_kernel::ratelimit::gcra`'s,
/// line for line (a test compares them); `Mirror::heard` reads the rows.
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
    /// What this process last heard of its budgets, for draws answered at once.
    mirror: Arc<Mirror>,
    /// The budgets kept while Redis is unreachable.
    fallback: MemoryRateStore,
    degraded: AtomicBool,
}

/// One draw for the limiter's thread: the script's keys and arguments, what to tell the
/// mirror, and where its answer goes (none: the draw was answered at once).
struct Job {
    invocation: redis::ScriptInvocation<'static>,
    sent: Sent,
    answer: Option<tokio::sync::oneshot::Sender<redis::RedisResult<Vec<Row>>>>,
}

/// The script's answer for one budget: allowed (1 or 0), remaining, reset and retry after
/// (µs).
type Row = (i64, i64, i64, i64);

/// A draw answered at once must leave each budget at least this share of what it holds
/// (its limit, `Quota::capacity`; and at least one unit): nearer the end, Redis's own
/// answer decides.
const HEADROOM_DIVISOR: u64 = 10;
/// What the mirror heard of a budget is used for this long (µs); after that a draw waits
/// for Redis again. Another replica may have spent the budget meanwhile.
const FRESH_US: i64 = 1_000_000;
/// Budgets the mirror keeps at most; past it the stale ones go (and if half are still
/// fresh, all but those with draws on their way: the mirror only saves waiting).
const MIRROR_CAP: usize = 100_000;

/// What this process knows of the budgets it draws on: per key, the budget's TAT as Redis
/// last answered it (on this process's clock), when, and how far the draws sent since and
/// not yet answered move it. Redis keeps the budgets; this only says when a draw is so far
/// within them that its answer is known before Redis gives it.
///
/// The mirror's TAT is never behind Redis's as far as this process's own draws go: an
/// answer is read after Redis ran the script (so the TAT, taken relative to now, comes out
/// a round trip late, never early), a budget's TAT only moves forward (answers handled
/// out of order keep the latest), and a draw's step stays pending until its answer
/// arrives, whatever that answer is. So a draw this process answers at once is one Redis
/// allows, unless another replica drew on the same budget since this one last heard.
struct Mirror {
    started: Instant,
    budgets: Mutex<HashMap<String, Heard>>,
}

#[derive(Clone, Copy, Debug)]
struct Heard {
    /// The latest TAT Redis answered (µs on this process's clock; 0: not heard yet).
    tat_us: i64,
    /// When (µs on this process's clock; `i64::MIN`: never, or Redis failed since).
    at_us: i64,
    /// The steps of the draws sent and not answered yet.
    pending_us: i64,
}

impl Default for Heard {
    /// A budget drawn on but not heard of yet.
    fn default() -> Self {
        Heard {
            tat_us: 0,
            at_us: i64::MIN,
            pending_us: 0,
        }
    }
}

/// What the limiter's thread tells the mirror when a draw's answer comes back.
struct Sent {
    keys: Vec<String>,
    steps_us: Vec<i64>,
    /// Answered at once (not waiting for Redis).
    early: bool,
}

impl Mirror {
    fn new() -> Self {
        Mirror {
            started: Instant::now(),
            budgets: Mutex::new(HashMap::new()),
        }
    }

    fn now_us(&self) -> i64 {
        self.started.elapsed().as_micros() as i64
    }

    /// A draw on its way to Redis: its steps count as pending on each budget until its
    /// answer comes back. When `may_answer` and every budget was heard within `FRESH_US`
    /// and keeps its headroom after the draw (pending steps included), the verdicts, all
    /// allowed, are returned at once.
    fn send(&self, draws: &[Draw], may_answer: bool) -> (Sent, Option<Vec<Verdict>>) {
        self.send_at(self.now_us(), draws, may_answer)
    }

    fn send_at(&self, now: i64, draws: &[Draw], may_answer: bool) -> (Sent, Option<Vec<Verdict>>) {
        let steps_us: Vec<i64> = draws.iter().map(|d| d.quota.step_us(d.cost)).collect();
        let early = {
            let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
            let early = may_answer
                .then(|| {
                    draws
                        .iter()
                        .enumerate()
                        .map(|(i, d)| {
                            // A key twice in one draw (which `Limiter::draw` never makes)
                            // would be counted once here: Redis decides.
                            if draws[..i].iter().any(|e| e.key == d.key) {
                                return None;
                            }
                            let heard = budgets.get(&d.key)?;
                            if now.saturating_sub(heard.at_us) > FRESH_US {
                                return None;
                            }
                            let tat = heard.tat_us.max(now).saturating_add(heard.pending_us);
                            let (verdict, _) = gcra(Some(tat), now, d.quota, d.cost);
                            let headroom = (d.quota.capacity() / HEADROOM_DIVISOR).max(1);
                            (verdict.allowed && verdict.remaining >= headroom).then_some(verdict)
                        })
                        .collect::<Option<Vec<Verdict>>>()
                })
                .flatten();
            crate::ratelimit::bound(
                &mut budgets,
                MIRROR_CAP,
                |h| h.pending_us > 0 || now.saturating_sub(h.at_us) <= FRESH_US,
                |h| h.pending_us > 0,
            );
            for (d, step) in draws.iter().zip(&steps_us) {
                match budgets.get_mut(&d.key) {
                    Some(heard) => heard.pending_us = heard.pending_us.saturating_add(*step),
                    None => {
                        let heard = Heard {
                            pending_us: *step,
                            ..Heard::default()
                        };
                        budgets.insert(d.key.clone(), heard);
                    }
                }
            }
            early
        };
        if early.is_some() {
            metrics::counter!("ils_rate_limit_early_total").increment(1);
        }
        let sent = Sent {
            keys: draws.iter().map(|d| d.key.clone()).collect(),
            steps_us,
            early: early.is_some(),
        };
        (sent, early)
    }

    /// A draw's answer: its steps are no longer pending, and each budget's TAT moves to
    /// what Redis said if that is later. The whole draw is charged only when every budget
    /// allowed it; otherwise a budget that allowed it still has the TAT before it. No
    /// answer (Redis unreachable): the budgets count as not heard of, so the next draws
    /// wait for Redis and meet its failure.
    fn heard(&self, sent: &Sent, answer: &redis::RedisResult<Vec<Row>>) {
        self.heard_at(self.now_us(), sent, answer)
    }

    fn heard_at(&self, now: i64, sent: &Sent, answer: &redis::RedisResult<Vec<Row>>) {
        let rows = match answer {
            Ok(rows) if rows.len() == sent.keys.len() => Some(rows),
            _ => None,
        };
        let charged = rows.is_some_and(|rows| rows.iter().all(|r| r.0 == 1));
        {
            let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
            for (i, (key, step)) in sent.keys.iter().zip(&sent.steps_us).enumerate() {
                // The cap keeps a budget with draws on its way; were it gone, the next draw
                // would start it again.
                let Some(heard) = budgets.get_mut(key) else {
                    continue;
                };
                heard.pending_us = heard.pending_us.saturating_sub(*step).max(0);
                match rows {
                    Some(rows) => {
                        let (allowed, _, reset, _) = rows[i];
                        let uncharged = if !charged && allowed == 1 { *step } else { 0 };
                        heard.tat_us = heard
                            .tat_us
                            .max(now.saturating_add(reset.max(0) - uncharged));
                        heard.at_us = now;
                    }
                    None => heard.at_us = i64::MIN,
                }
            }
        }
        if sent.early && rows.is_some() && !charged {
            metrics::counter!("ils_rate_limit_overruns_total").increment(1);
            tracing::debug!(keys = ?sent.keys, "rate limits: a draw answered at once was over a shared budget");
        }
    }
}

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
        let mirror = Arc::new(Mirror::new());
        let for_thread = mirror.clone();
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
                        let mirror = for_thread.clone();
                        tokio::spawn(async move {
                            let rows = job.invocation.invoke_async(&mut c).await;
                            mirror.heard(&job.sent, &rows);
                            if let Some(answer) = job.answer {
                                let _ = answer.send(rows);
                            }
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
            mirror,
            fallback: MemoryRateStore::default(),
            degraded: AtomicBool::new(false),
        }
    }

    /// The draw on Redis, at `now_us` when given (tests) or by Redis's clock, and whether
    /// the verdicts are Redis's answer. When `may_answer`, a draw far within its budgets
    /// is answered at once (`Mirror::send`) and its round trip goes on without it.
    async fn draw(
        &self,
        draws: &[Draw],
        now_us: Option<i64>,
        may_answer: bool,
    ) -> redis::RedisResult<(Vec<Verdict>, bool)> {
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
        let gone =
            || redis::RedisError::from((redis::ErrorKind::Io, "the limiter's thread is gone"));
        let (sent, early) = self.mirror.send(draws, may_answer);
        if let Some(verdicts) = early {
            let job = Job {
                invocation,
                sent,
                answer: None,
            };
            self.jobs.send(job).map_err(|_| gone())?;
            return Ok((verdicts, false));
        }
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job = Job {
            invocation,
            sent,
            answer: Some(answer),
        };
        self.jobs.send(job).map_err(|_| gone())?;
        let rows = answered.await.map_err(|_| gone())??;
        let verdicts = rows
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
            .collect();
        Ok((verdicts, true))
    }

    /// Waits (up to `within`) until every draw sent so far has had its answer; whether
    /// they all did. For measurements and tests: a draw answered at once leaves its round
    /// trip going on.
    pub async fn settle(&self, within: std::time::Duration) -> bool {
        let until = Instant::now() + within;
        loop {
            let pending = {
                let budgets = self
                    .mirror
                    .budgets
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                budgets.values().any(|h| h.pending_us > 0)
            };
            if !pending {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_micros(200)).await;
        }
    }
}

impl RedisRateStore {
    /// [`RateStore::take`], waiting for Redis's answer even far within the budgets (what
    /// every draw did before the mirror; `ils bench-limiter` times both).
    pub async fn take_waiting(&self, draws: &[Draw]) -> Vec<Verdict> {
        self.take_with(draws, false).await
    }

    async fn take_with(&self, draws: &[Draw], may_answer: bool) -> Vec<Verdict> {
        match self.draw(draws, None, may_answer).await {
            Ok((v, from_redis)) => {
                // Only Redis's own answer ends an outage.
                if from_redis && self.degraded.swap(false, Ordering::Relaxed) {
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
}

#[async_trait::async_trait]
impl RateStore for RedisRateStore {
    async fn take(&self, draws: &[Draw]) -> Vec<Verdict> {
        // While degraded every draw waits for Redis: the first answer ends the fallback.
        self.take_with(draws, !self.degraded.load(Ordering::Relaxed))
            .await
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

    const S: i64 = 1_000_000;

    fn one(key: &str, limit: u64, cost: u64) -> Vec<Draw> {
        vec![Draw {
            key: key.into(),
            quota: Quota::per_minute(limit),
            cost,
        }]
    }

    /// Redis's answer for one budget of `limit` a minute whose TAT is `ahead_us` past now.
    fn answered(allowed: bool, limit: i64, ahead_us: i64) -> Row {
        let interval = 60 * S / limit;
        let left = (60 * S - ahead_us).max(0) / interval;
        (allowed as i64, left, ahead_us, 0)
    }

    #[test]
    fn a_draw_far_within_a_budget_heard_of_is_answered_at_once_and_near_its_end_waits() {
        let m = Mirror::new();
        let t = 100 * S;
        // Never heard of: waits, and its step is pending meanwhile.
        let (sent, early) = m.send_at(t, &one("k", 100, 1), true);
        assert!(early.is_none());
        m.heard_at(t, &sent, &Ok(vec![answered(true, 100, 600_000)]));
        // Not answering at once is what `may_answer: false` asks for.
        let (sent, early) = m.send_at(t, &one("k", 100, 1), false);
        assert!(early.is_none());
        m.heard_at(t, &sent, &Ok(vec![answered(true, 100, 1_200_000)]));
        // Heard of: 98 left, so the next draws are answered at once, each one fewer left,
        // none of them answered by Redis yet (their steps are pending).
        let mut left = Vec::new();
        while let Some(v) = m.send_at(t, &one("k", 100, 1), true).1 {
            assert!(v[0].allowed);
            left.push(v[0].remaining);
        }
        // 97 down to 10, the headroom (a tenth of the limit): then Redis decides.
        assert_eq!(left.first(), Some(&97));
        assert_eq!(left.last(), Some(&10));
        assert!(left.windows(2).all(|w| w[1] + 1 == w[0]), "{left:?}");
    }

    #[test]
    fn a_budget_too_large_to_spend_is_answered_at_once_too() {
        // A billion a minute holds 60 million (a unit a microsecond): its headroom is a
        // tenth of that, not of the billion it can never hold.
        let m = Mirror::new();
        let t = 100 * S;
        let (sent, _) = m.send_at(t, &one("k", 1_000_000_000, 7), true);
        m.heard_at(t, &sent, &Ok(vec![(1, 60_000_000 - 7, 7, 0)]));
        let (_, early) = m.send_at(t, &one("k", 1_000_000_000, 7), true);
        assert_eq!(
            early.expect("answered at once")[0].remaining,
            60_000_000 - 14
        );
    }

    #[test]
    fn what_was_heard_more_than_a_second_ago_is_not_relied_on() {
        let m = Mirror::new();
        let t = 100 * S;
        let (sent, _) = m.send_at(t, &one("k", 100, 1), true);
        m.heard_at(t, &sent, &Ok(vec![answered(true, 100, 600_000)]));
        let (sent, early) = m.send_at(t + FRESH_US, &one("k", 100, 1), true);
        assert!(early.is_some(), "within a second");
        m.heard_at(t + FRESH_US, &sent, &Ok(vec![answered(true, 100, 600_000)]));
        // Each answer counts from when it came.
        let (sent, early) = m.send_at(t + 2 * FRESH_US, &one("k", 100, 1), true);
        assert!(early.is_some(), "within a second of the last answer");
        m.heard_at(
            t + 2 * FRESH_US,
            &sent,
            &Ok(vec![answered(true, 100, 600_000)]),
        );
        let (_, early) = m.send_at(t + 3 * FRESH_US + 1, &one("k", 100, 1), true);
        assert!(
            early.is_none(),
            "past a second another replica may have spent it"
        );
    }

    #[test]
    fn every_budget_of_a_draw_must_keep_its_headroom() {
        let m = Mirror::new();
        let t = 100 * S;
        let both = [one("a", 100, 1), one("b", 10, 1)].concat();
        let (sent, _) = m.send_at(t, &both, true);
        // `b` has 8 left after this draw: one more leaves 7, within its headroom of 1...
        m.heard_at(
            t,
            &sent,
            &Ok(vec![
                answered(true, 100, 600_000),
                answered(true, 10, 12_000_000),
            ]),
        );
        let mut early = 0;
        while m.send_at(t, &both, true).1.is_some() {
            early += 1;
        }
        // ...until one unit is left in `b`: 8 - 1 = 7 draws, though `a` had 90 to spare.
        assert_eq!(early, 7);
    }

    #[test]
    fn an_answer_brings_the_mirror_up_to_date_even_after_an_overrun() {
        let m = Mirror::new();
        let t = 100 * S;
        let (sent, _) = m.send_at(t, &one("k", 100, 1), true);
        m.heard_at(t, &sent, &Ok(vec![answered(true, 100, 600_000)]));
        let (early_sent, early) = m.send_at(t, &one("k", 100, 1), true);
        assert!(early.is_some());
        // Another replica spent the budget meanwhile: Redis refused this draw. From then
        // on the mirror knows the budget is spent, and draws wait for Redis again.
        m.heard_at(t, &early_sent, &Ok(vec![answered(false, 100, 60 * S)]));
        let (_, early) = m.send_at(t, &one("k", 100, 1), true);
        assert!(early.is_none());
        let h = m.budgets.lock().unwrap()["k"];
        assert_eq!(h.tat_us, t + 60 * S, "the TAT Redis answered");
        assert_eq!(
            h.pending_us,
            Quota::per_minute(100).step_us(1),
            "the draw just sent"
        );
    }

    #[test]
    fn a_late_answer_does_not_move_a_budget_back_and_an_error_waits_for_redis() {
        let m = Mirror::new();
        let t = 100 * S;
        // Two draws whose answers are handled in the wrong order (the first reached Redis
        // second): the TAT stays the later one, with both draws in it.
        let (first, _) = m.send_at(t, &one("k", 100, 1), true);
        let (second, _) = m.send_at(t, &one("k", 100, 1), true);
        m.heard_at(t, &second, &Ok(vec![answered(true, 100, 600_000)]));
        m.heard_at(t, &first, &Ok(vec![answered(true, 100, 1_200_000)]));
        let h = m.budgets.lock().unwrap()["k"];
        assert_eq!((h.tat_us, h.pending_us), (t + 1_200_000, 0));
        // A refused draw charged nothing: a budget that allowed it keeps its TAT before it.
        let both = [one("k", 100, 1), one("spent", 1, 1)].concat();
        let (sent, _) = m.send_at(t, &both, true);
        m.heard_at(
            t,
            &sent,
            &Ok(vec![
                answered(true, 100, 1_800_000),
                answered(false, 1, 60 * S),
            ]),
        );
        assert_eq!(m.budgets.lock().unwrap()["k"].tat_us, t + 1_200_000);
        // Redis unreachable: the next draw waits for Redis (and meets its failure), and
        // the steps of other draws still on their way stay counted.
        let (other, _) = m.send_at(t, &one("k", 100, 1), true);
        let (failed, _) = m.send_at(t, &one("k", 100, 1), true);
        m.heard_at(
            t,
            &failed,
            &Err(redis::RedisError::from((redis::ErrorKind::Io, "gone"))),
        );
        assert!(m.send_at(t, &one("k", 100, 1), true).1.is_none());
        let step = Quota::per_minute(100).step_us(1);
        assert_eq!(m.budgets.lock().unwrap()["k"].pending_us, 2 * step);
        m.heard_at(t, &other, &Ok(vec![answered(true, 100, 1_800_000)]));
        assert_eq!(m.budgets.lock().unwrap()["k"].pending_us, step);
    }

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

    fn hourly(key: &str, limit: u64) -> Vec<Draw> {
        vec![Draw {
            key: key.into(),
            quota: Quota {
                limit,
                window: Duration::from_secs(3600),
            },
            cost: 1,
        }]
    }

    async fn settled(store: &RedisRateStore) {
        assert!(
            store.settle(Duration::from_secs(5)).await,
            "the limiter's thread never answered"
        );
    }

    /// Two replicas on one Redis: far within the budget a draw is answered at once (its
    /// future is ready when first polled), near the end Redis decides, and what one
    /// replica spent reaches the other as soon as it draws.
    #[tokio::test]
    async fn far_within_a_shared_budget_draws_are_answered_at_once_and_its_end_is_redis_s() {
        use futures_util::FutureExt;
        let Ok(url) = std::env::var("TEST_REDIS_URL") else {
            eprintln!(
                "TEST_REDIS_URL not set: the mirror is checked against Redis on the Redis pass"
            );
            return;
        };
        let prefix = format!("ils-test-{}", uuid::Uuid::new_v4().simple());
        let (a, b) = (store(&url, &prefix), store(&url, &prefix));
        // 100 an hour: nothing refills while the test runs.
        let d = hourly("u", 100);
        assert_eq!(
            a.take(&d).await[0].remaining,
            99,
            "never heard of: Redis answers"
        );
        for left in (10..=98).rev() {
            let v = a.take(&d).now_or_never().expect("answered at once");
            assert!(v[0].allowed);
            assert_eq!(v[0].remaining, left);
        }
        // The last tenth: each draw waits for Redis, which refuses the 101st.
        for left in (0..=9).rev() {
            let v = a.take(&d).await;
            assert!(v[0].allowed);
            assert_eq!(v[0].remaining, left);
        }
        assert!(!a.take(&d).await[0].allowed);
        // The other replica has drawn nothing yet: its first draw waits, and is refused.
        assert!(!b.take(&d).await[0].allowed);
        assert!(!b.degraded() && !a.degraded());

        // Replica `a` hears of a budget with plenty left; `b` then spends all of it.
        let e = hourly("v", 100);
        a.take(&e).await;
        settled(&a).await;
        let mut passed = 0;
        for _ in 0..100 {
            passed += b.take(&e).await[0].allowed as u32;
        }
        assert_eq!(passed, 99, "one budget: `a` took one of the hundred");
        // `a` has not heard of that: while what it heard is under a second old, its next
        // draw is answered at once (the one draw let through beyond the budget), and
        // Redis's answer to it brings `a` up to date; from then on `a` is refused.
        // (If the machine stalled past that second, it waits and is refused instead.)
        a.take(&e).await;
        settled(&a).await;
        for _ in 0..5 {
            assert!(
                !a.take(&e).await[0].allowed,
                "after Redis's answer, refused"
            );
        }
        // Redis charged nothing for the overrun: `b` is refused still, `a`'s draw did not
        // move the budget's TAT (a refused draw writes nothing).
        assert!(!b.take(&e).await[0].allowed);
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
            let (got, from_redis) = redis.draw(&unique, Some(now), false).await.unwrap();
            assert!(from_redis);
            assert_eq!(got, expected, "step {step}: {unique:?}");
        }
    }
}
