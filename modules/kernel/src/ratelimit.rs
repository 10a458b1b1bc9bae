//! Rate limits and cost budgets: the generic cell rate algorithm (GCRA), once, as pure
//! arithmetic, and the in-process store that keeps each budget's one number. `api`
//! supplies the Redis store (the same arithmetic in one Lua script, so every replica
//! shares one budget) and decides which budgets a request draws on.
//!
//! A budget of `limit` units per `window` refills one unit every `window / limit` and
//! holds at most `limit`: a caller idle for a window may spend the whole limit at once,
//! and after that as fast as it refills. The only state is the budget's "theoretical
//! arrival time" (TAT): when it would be whole again. A request of `cost` units moves it
//! `cost` intervals on; it passes while the TAT stays within one window of now.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One budget's size: `limit` units per `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quota {
    pub limit: u64,
    pub window: Duration,
}

impl Quota {
    pub const fn per_minute(limit: u64) -> Quota {
        Quota {
            limit,
            window: Duration::from_secs(60),
        }
    }

    fn window_us(self) -> i64 {
        self.window.as_micros().min(i64::MAX as u128) as i64
    }

    /// Microseconds per unit (at least 1).
    fn interval_us(self) -> i64 {
        (self.window_us() / self.limit.max(1) as i64).max(1)
    }

    /// The units the budget holds when whole: its limit, or fewer when the limit is so
    /// large that its interval is rounded up to 1 µs (more than 60 million a minute).
    pub fn capacity(self) -> u64 {
        self.limit
            .min((self.window_us() / self.interval_us()) as u64)
    }

    /// How far a draw of `cost` moves the budget's TAT when it passes (a cost above the
    /// limit counts as the whole limit: see [`gcra`]).
    pub fn step_us(self, cost: u64) -> i64 {
        (cost.min(self.limit.max(1)) as i64).saturating_mul(self.interval_us())
    }
}

/// One draw on one budget: `cost` units of `quota` under `key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draw {
    pub key: String,
    pub quota: Quota,
    pub cost: u64,
}

/// What a budget said of a draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// Units left once this draw is taken (when refused: left now).
    pub remaining: u64,
    /// Seconds until the budget is whole again (rounded up).
    pub reset_secs: u64,
    /// Seconds to wait before this draw would pass (0 when it passes; rounded up, so a
    /// caller that waits that long is never early).
    pub retry_after_secs: u64,
}

fn ceil_secs(us: i64) -> u64 {
    (us.max(0) as u64).div_ceil(1_000_000)
}

/// The GCRA step for one budget at `now_us` (microseconds on any clock that only moves
/// forward): the verdict, and the TAT to keep when the draw passes. A budget never seen
/// (`tat_us` none) or idle past its TAT is whole. A cost above the limit is taken as the
/// whole limit: such a request waits for a whole budget rather than for ever.
pub fn gcra(tat_us: Option<i64>, now_us: i64, quota: Quota, cost: u64) -> (Verdict, Option<i64>) {
    let window = quota.window_us();
    let interval = quota.interval_us();
    let step = quota.step_us(cost);
    let tat = tat_us.unwrap_or(now_us).max(now_us);
    let new_tat = tat.saturating_add(step);
    let allow_at = new_tat - window;
    if allow_at > now_us {
        let left = (window - (tat - now_us)).max(0) / interval;
        (
            Verdict {
                allowed: false,
                remaining: left as u64,
                reset_secs: ceil_secs(tat - now_us),
                retry_after_secs: ceil_secs(allow_at - now_us).max(1),
            },
            None,
        )
    } else {
        let left = (now_us + window - new_tat).max(0) / interval;
        (
            Verdict {
                allowed: true,
                remaining: left as u64,
                reset_secs: ceil_secs(new_tat - now_us),
                retry_after_secs: 0,
            },
            Some(new_tat),
        )
    }
}

/// Draws on several budgets at once, all or nothing: when any refuses, none is charged
/// (a request refused by its company's budget costs its key nothing). `tats` are the
/// budgets' TATs in the order of `draws`; the verdicts come in that order, with the TATs
/// to keep (none when the whole draw was refused).
pub fn gcra_all(
    tats: &[Option<i64>],
    now_us: i64,
    draws: &[Draw],
) -> (Vec<Verdict>, Option<Vec<i64>>) {
    let steps: Vec<(Verdict, Option<i64>)> = draws
        .iter()
        .zip(tats)
        .map(|(d, tat)| gcra(*tat, now_us, d.quota, d.cost))
        .collect();
    let kept: Option<Vec<i64>> = steps.iter().map(|(_, t)| *t).collect();
    (steps.into_iter().map(|(v, _)| v).collect(), kept)
}

/// Where budgets are kept.
#[async_trait::async_trait]
pub trait RateStore: Send + Sync {
    /// Draws on every budget of `draws` at once (all or nothing); a verdict for each.
    async fn take(&self, draws: &[Draw]) -> Vec<Verdict>;
    /// Whether the store runs on a fallback (its shared store is unreachable and each
    /// process keeps budgets alone), for readiness checks.
    fn degraded(&self) -> bool {
        false
    }
}

/// Budgets in this process: the default, and the fallback while Redis is away.
pub struct MemoryRateStore {
    started: Instant,
    tats: Mutex<HashMap<String, i64>>,
}

impl Default for MemoryRateStore {
    fn default() -> Self {
        MemoryRateStore {
            started: Instant::now(),
            tats: Mutex::new(HashMap::new()),
        }
    }
}

impl MemoryRateStore {
    fn now_us(&self) -> i64 {
        self.started.elapsed().as_micros() as i64
    }

    /// The draw, at a given time (for tests of the arithmetic through the store).
    pub fn take_at(&self, draws: &[Draw], now_us: i64) -> Vec<Verdict> {
        let mut map = self.tats.lock().unwrap_or_else(|p| p.into_inner());
        // A budget past its TAT is whole, the same as one never seen: those go, so the
        // map holds only the callers of the last window or so.
        if map.len() > 100_000 {
            map.retain(|_, tat| *tat > now_us);
        }
        let tats: Vec<Option<i64>> = draws.iter().map(|d| map.get(&d.key).copied()).collect();
        let (verdicts, kept) = gcra_all(&tats, now_us, draws);
        if let Some(kept) = kept {
            for (d, tat) in draws.iter().zip(kept) {
                map.insert(d.key.clone(), tat);
            }
        }
        verdicts
    }
}

#[async_trait::async_trait]
impl RateStore for MemoryRateStore {
    async fn take(&self, draws: &[Draw]) -> Vec<Verdict> {
        self.take_at(draws, self.now_us())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;

    fn draw(key: &str, limit: u64, cost: u64) -> Draw {
        Draw {
            key: key.into(),
            quota: Quota::per_minute(limit),
            cost,
        }
    }

    #[test]
    fn a_fresh_budget_gives_its_whole_limit_then_one_unit_per_interval() {
        let store = MemoryRateStore::default();
        let t0 = 1_000 * S;
        for i in 0..60 {
            let v = store.take_at(&[draw("k", 60, 1)], t0);
            assert!(v[0].allowed, "request {i}");
            assert_eq!(v[0].remaining, 59 - i);
        }
        let v = store.take_at(&[draw("k", 60, 1)], t0);
        assert!(!v[0].allowed);
        assert_eq!(v[0].remaining, 0);
        assert_eq!(v[0].retry_after_secs, 1, "one unit a second refills");
        assert_eq!(v[0].reset_secs, 60);
        // A second later one unit is back, and only one.
        assert!(store.take_at(&[draw("k", 60, 1)], t0 + S)[0].allowed);
        assert!(!store.take_at(&[draw("k", 60, 1)], t0 + S)[0].allowed);
        // A whole window later the whole limit is back.
        let v = store.take_at(&[draw("k", 60, 1)], t0 + 61 * S);
        assert!(v[0].allowed);
        assert_eq!(v[0].remaining, 59);
    }

    #[test]
    fn a_cost_draws_that_many_units_and_waits_for_them() {
        let store = MemoryRateStore::default();
        let t0 = 5 * S;
        assert!(store.take_at(&[draw("c", 600, 500)], t0)[0].allowed);
        let v = store.take_at(&[draw("c", 600, 200)], t0);
        assert!(!v[0].allowed);
        assert_eq!(v[0].remaining, 100);
        // 100 more units refill in 10 s (10 a second).
        assert_eq!(v[0].retry_after_secs, 10);
        assert!(store.take_at(&[draw("c", 600, 200)], t0 + 10 * S)[0].allowed);
    }

    #[test]
    fn a_budget_holds_its_limit_unless_its_interval_is_rounded_up() {
        assert_eq!(Quota::per_minute(300).capacity(), 300);
        let seven_a_second = Quota {
            limit: 7,
            window: Duration::from_secs(1),
        };
        assert_eq!(seven_a_second.capacity(), 7);
        // A microsecond a unit at most: a minute holds 60 million.
        assert_eq!(Quota::per_minute(1_000_000_000).capacity(), 60_000_000);
        let (v, _) = gcra(None, 0, Quota::per_minute(1_000_000_000), 1);
        assert_eq!(v.remaining, 60_000_000 - 1);
    }

    #[test]
    fn a_cost_above_the_limit_waits_for_a_whole_budget_not_for_ever() {
        let (v, kept) = gcra(None, 0, Quota::per_minute(100), 1_000);
        assert!(v.allowed, "a whole budget pays for it");
        assert_eq!(v.remaining, 0);
        let (v, _) = gcra(kept, 0, Quota::per_minute(100), 1_000);
        assert!(!v.allowed);
        assert_eq!(v.retry_after_secs, 60);
    }

    #[test]
    fn draws_on_several_budgets_are_all_or_nothing() {
        let store = MemoryRateStore::default();
        let t0 = 9 * S;
        // The company's budget holds 3, the key's 10.
        for _ in 0..3 {
            let v = store.take_at(&[draw("key", 10, 1), draw("company", 3, 1)], t0);
            assert!(v.iter().all(|v| v.allowed));
        }
        let v = store.take_at(&[draw("key", 10, 1), draw("company", 3, 1)], t0);
        assert!(v[0].allowed && !v[1].allowed);
        // The refused request cost the key nothing: 7 left, not 6.
        let v = store.take_at(&[draw("key", 10, 1)], t0);
        assert_eq!(v[0].remaining, 6, "{v:?}");
    }

    #[test]
    fn budgets_of_different_keys_are_apart() {
        let store = MemoryRateStore::default();
        assert!(store.take_at(&[draw("a", 1, 1)], 0)[0].allowed);
        assert!(!store.take_at(&[draw("a", 1, 1)], 0)[0].allowed);
        assert!(store.take_at(&[draw("b", 1, 1)], 0)[0].allowed);
    }

    #[test]
    fn a_clock_that_went_back_is_not_a_refill() {
        // A TAT in the future stays: an earlier `now` (another replica's clock, say) adds
        // nothing to the budget.
        let (_, kept) = gcra(None, 100 * S, Quota::per_minute(2), 2);
        let (v, _) = gcra(kept, 90 * S, Quota::per_minute(2), 1);
        assert!(!v.allowed);
    }
}
