//! Fair use: which rate budgets a request draws on, the refusal when one is spent, and the
//! IETF `RateLimit-Policy` / `RateLimit` headers every answer carries.
//!
//! Every caller has two budgets a minute, requests and cost points (a request's query
//! complexity, as the limits measure it):
//! - an API key: its own, and its company's;
//! - a signed-in user: their own, and their company's;
//! - a platform admin: their own (the platform's budget);
//! - an anonymous caller: its IP address's.
//!
//! A request draws one request and its cost together, in one draw, once its document is
//! validated: one round trip to Redis per request. A mutation or a subscription waits for
//! the verdict before it runs; a query runs while the draw is on its way, and its answer
//! waits for the verdict (a refusal replaces it; a query writes nothing but the audit entry
//! of a patient-data read, which stays), so the draw delays a query only by what it
//! outlasts it. A caller refused within its retry-after is `held`: its queries wait for
//! the verdict too, so a caller that keeps asking past its budget costs a Redis call a
//! request and no query work. A request
//! that never reaches validation (a document that does not parse, an unknown persisted
//! ID, a mutation sent by GET) draws its one request when its answer is ready, and is
//! answered 429 instead when that draw is refused. Each draw is on all of the caller's
//! budgets at once, all or nothing (the kernel's GCRA, in Redis when it is configured, so
//! every replica shares one budget). The sizes
//! come from the company's plan (`ils_common::plan`), with the overrides a platform admin
//! set, read once every `PLAN_TTL` per company.

use crate::usage::Usage;
use ils_common::plan::{self, Budget, Budgets, Caller, Overrides, Plan};
use ils_entity::company;
use ils_kernel::ratelimit::{Draw, Quota, RateStore, Verdict};
use ils_kernel::{Actor, Db, TenantContext};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long a company's budgets are kept before its plan is read again: a plan change or
/// an override reaches every replica within this.
pub const PLAN_TTL: Duration = Duration::from_secs(30);

/// At most this many callers are held at once (`Limiter::held`).
const HOLDS: usize = 100_000;

/// Which caller's budget refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    ApiKey,
    User,
    Company,
    Anonymous,
    Platform,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::ApiKey => "API_KEY",
            Limit::User => "USER",
            Limit::Company => "COMPANY",
            Limit::Anonymous => "ANONYMOUS",
            Limit::Platform => "PLATFORM",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Limit::ApiKey => "this API key",
            Limit::User => "this user",
            Limit::Company => "this company",
            Limit::Anonymous => "this address",
            Limit::Platform => "this platform admin",
        }
    }
}

/// Which of a caller's two budgets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    Requests,
    Cost,
}

impl Measure {
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Requests => "requests",
            Measure::Cost => "cost",
        }
    }
}

/// A refusal: whose budget, which one, its size and when to come back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub limit: Limit,
    pub measure: Measure,
    pub quota: Quota,
    pub retry_after_secs: u64,
}

impl Refusal {
    pub fn message(&self) -> String {
        let unit = match self.measure {
            Measure::Requests => "requests",
            Measure::Cost => "cost points",
        };
        format!(
            "rate limit reached: {} {unit} a minute for {}; try again in {} s",
            self.quota.limit,
            self.limit.describe(),
            self.retry_after_secs
        )
    }

    /// The GraphQL error: `RATE_LIMITED`, with `retryAfter` (seconds), `limit` and
    /// `budget`.
    pub fn error(&self) -> async_graphql::ServerError {
        let mut e = async_graphql::ServerError::new(self.message(), None);
        let mut ext = async_graphql::ErrorExtensionValues::default();
        ext.set("code", "RATE_LIMITED");
        ext.set("retryAfter", self.retry_after_secs);
        ext.set("limit", self.limit.as_str());
        ext.set("budget", self.measure.as_str());
        e.extensions = Some(ext);
        e
    }
}

/// What one draw said: the tightest of the caller's budgets (for the headers), and the
/// refusal if any budget refused.
#[derive(Clone, Copy, Debug)]
pub struct Charged {
    pub measure: Measure,
    pub quota: Quota,
    pub verdict: Verdict,
    pub refused: Option<Refusal>,
}

/// What a request's draws said, kept for its answer's headers and its usage record.
#[derive(Default, Debug)]
pub struct Ledger {
    pub requests: Option<Charged>,
    pub cost: Option<Charged>,
    /// The cost points the request's documents measured.
    pub cost_points: u64,
    /// Requests of the body not drawn yet: the first document validated draws them with
    /// its cost; the transport draws what is left when the answer is ready.
    pub pending_requests: u64,
    /// The refusal of an earlier draw of this body.
    pub refused: Option<Refusal>,
    /// Requests of the body the usage has counted already (by the request pipeline).
    pub counted: u64,
}

impl Ledger {
    /// Notes what a draw said.
    pub fn note(&mut self, drawn: &Drawn) {
        self.requests = drawn.requests.or(self.requests);
        self.cost = drawn.cost.or(self.cost);
        if self.refused.is_none() {
            self.refused = drawn.refused();
        }
    }
}

/// One per HTTP request (in its data and in every request of a batch): the transport
/// notes the requests to draw in it, the request pipeline draws them with the cost, and the
/// transport reads it for the headers.
#[derive(Clone, Default)]
pub struct RateSlot(pub Arc<Mutex<Ledger>>);

impl RateSlot {
    pub fn with<T>(&self, f: impl FnOnce(&mut Ledger) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The requests still to draw, now taken.
    pub fn take_pending(&self) -> u64 {
        self.with(|l| std::mem::take(&mut l.pending_requests))
    }
}

/// What one draw on both budgets said, per measure (`None`: not drawn, or limits off).
#[derive(Clone, Copy, Debug, Default)]
pub struct Drawn {
    pub requests: Option<Charged>,
    pub cost: Option<Charged>,
}

impl Drawn {
    /// The refusal that keeps the caller waiting longest, if any budget refused.
    pub fn refused(&self) -> Option<Refusal> {
        [self.requests, self.cost]
            .into_iter()
            .flatten()
            .filter_map(|c| c.refused)
            .max_by_key(|r| r.retry_after_secs)
    }
}

/// The limiter: the store, the sizes and the plans read.
pub struct Limiter {
    store: Arc<dyn RateStore>,
    db: Db,
    enabled: bool,
    anonymous: Budget,
    platform: Budget,
    plans: Mutex<HashMap<Uuid, (Instant, Budgets)>>,
    /// Callers (`key:…`, `user:…`, `co:…`, `ip:…`) refused recently, until their
    /// retry-after: their queries wait for the verdict before they run (`held`).
    holds: Mutex<HashMap<String, Instant>>,
    pub usage: Arc<Usage>,
}

/// The time a request's answer waited for its draw (`ils_rate_limit_wait_seconds`): the
/// whole draw when the draw came `First`, only what the draw outlasted a query run
/// `Beside` it. A request the limits do not apply to (limits off, the system) waited for
/// nothing and is not recorded.
pub fn record_wait(drawn: &Drawn, waited: Duration, how: Drew) {
    if drawn.requests.is_some() || drawn.cost.is_some() {
        let drew = match how {
            Drew::First => "first",
            Drew::Beside => "beside",
        };
        metrics::histogram!("ils_rate_limit_wait_seconds", "drew" => drew)
            .record(waited.as_secs_f64());
    }
}

/// Whether a request's draw came before it ran or beside it (a query's).
#[derive(Clone, Copy, Debug)]
pub enum Drew {
    First,
    Beside,
}

impl Limiter {
    pub fn new(
        store: Arc<dyn RateStore>,
        db: Db,
        config: &crate::config::Config,
        usage: Arc<Usage>,
    ) -> Limiter {
        Limiter {
            store,
            db,
            enabled: config.rate_limits,
            anonymous: Budget::new(
                config.anonymous_requests_per_minute,
                config.anonymous_cost_per_minute,
            ),
            platform: plan::includes(Plan::Full).budgets.user,
            plans: Mutex::new(HashMap::new()),
            holds: Mutex::new(HashMap::new()),
            usage,
        }
    }

    pub fn degraded(&self) -> bool {
        self.store.degraded()
    }

    /// A company's budgets: its plan's, with its overrides (kept `PLAN_TTL`).
    async fn budgets(&self, company: Uuid, tenant: &TenantContext) -> Budgets {
        if let Some((at, b)) = self
            .plans
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&company)
            && at.elapsed() < PLAN_TTL
        {
            return *b;
        }
        let read = async {
            let tx = self.db.read(tenant).await?;
            let row = tx.find::<company::Entity>(company).await?;
            tx.commit().await?;
            Ok::<_, ils_kernel::AppError>(row)
        };
        let budgets = match read.await {
            Ok(Some(row)) => {
                let plan = Plan::parse(&row.plan).unwrap_or(Plan::FreeEcp);
                plan::includes(plan)
                    .budgets
                    .with(&Overrides::parse(row.rate_overrides.as_deref()))
            }
            // A company that cannot be read (the database is away, say) is held to the
            // smallest plan's budgets until it can be, rather than to none.
            Ok(None) => plan::includes(Plan::FreeEcp).budgets,
            Err(e) => {
                tracing::warn!(error = ?e, "rate limits: a company's plan could not be read");
                return plan::includes(Plan::FreeEcp).budgets;
            }
        };
        let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        if plans.len() > 100_000 {
            plans.retain(|_, (at, _)| at.elapsed() < PLAN_TTL);
        }
        plans.insert(company, (Instant::now(), budgets));
        budgets
    }

    /// Forgets a company's budgets, so its next request reads its plan again (after a
    /// plan change or an override, in this process; other replicas within `PLAN_TTL`).
    pub fn forget(&self, company: Uuid) {
        self.plans
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&company);
    }

    /// Forgets every company's budgets (missed news of some change).
    pub fn forget_all(&self) {
        self.plans.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Who `tenant`'s budgets are for: the caller (an API key, a user, a platform admin,
    /// or an anonymous caller's address) and, when it has one, its company.
    fn parties(tenant: &TenantContext, address: Option<&str>) -> Vec<(Limit, String)> {
        let company = tenant.company_id();
        let mut out = Vec::with_capacity(2);
        match (tenant.actor(), company) {
            (Actor::ApiKey { id, .. }, Some(_)) => out.push((Limit::ApiKey, format!("key:{id}"))),
            (Actor::User(id), Some(_)) => out.push((Limit::User, format!("user:{id}"))),
            (Actor::User(id), None) => out.push((Limit::Platform, format!("user:{id}"))),
            _ => {
                let ip = crate::forwarded::budget_key(address.unwrap_or("unknown"));
                out.push((Limit::Anonymous, format!("ip:{ip}")));
            }
        }
        if let Some(c) = company {
            out.push((Limit::Company, format!("co:{c}")));
        }
        out
    }

    /// The budgets `tenant` draws on, with who each is for.
    async fn budgets_of(
        &self,
        tenant: &TenantContext,
        address: Option<&str>,
    ) -> Vec<(Limit, String, Budget)> {
        let plan = match tenant.company_id() {
            Some(c) => self.budgets(c, tenant).await,
            None => plan::includes(Plan::FreeEcp).budgets,
        };
        Self::parties(tenant, address)
            .into_iter()
            .map(|(limit, key)| {
                let budget = match limit {
                    Limit::ApiKey => plan.of(Caller::ApiKey),
                    Limit::User => plan.of(Caller::User),
                    Limit::Company => plan.of(Caller::Company),
                    Limit::Platform => self.platform,
                    Limit::Anonymous => self.anonymous,
                };
                (limit, key, budget)
            })
            .collect()
    }

    /// Whether one of `tenant`'s budgets refused a draw within that refusal's
    /// retry-after. (It may admit a smaller draw sooner: this only says to wait for the
    /// verdict before running anything.)
    pub fn held(&self, tenant: &TenantContext, address: Option<&str>) -> bool {
        let holds = self.holds.lock().unwrap_or_else(|p| p.into_inner());
        if holds.is_empty() {
            return false;
        }
        let now = Instant::now();
        Self::parties(tenant, address)
            .iter()
            .any(|(_, key)| holds.get(key).is_some_and(|until| *until > now))
    }

    /// Draws as [`Limiter::draw`] does, and records the time waited for it.
    pub async fn charge(
        &self,
        tenant: &TenantContext,
        address: Option<&str>,
        amounts: &[(Measure, u64)],
    ) -> Drawn {
        let started = Instant::now();
        let drawn = self.draw(tenant, address, amounts).await;
        record_wait(&drawn, started.elapsed(), Drew::First);
        drawn
    }

    /// Draws every `(measure, amount)` on every budget of the caller at once, in one draw
    /// (one round trip to Redis), all or nothing. (A zero amount draws nothing but reads
    /// the budget, for the headers.)
    pub async fn draw(
        &self,
        tenant: &TenantContext,
        address: Option<&str>,
        amounts: &[(Measure, u64)],
    ) -> Drawn {
        if !self.enabled || matches!(tenant.actor(), Actor::System) || amounts.is_empty() {
            return Drawn::default();
        }
        let budgets = self.budgets_of(tenant, address).await;
        let mut lines: Vec<(Measure, Limit)> = Vec::with_capacity(amounts.len() * budgets.len());
        let mut draws: Vec<Draw> = Vec::with_capacity(lines.capacity());
        let mut owners: Vec<&str> = Vec::with_capacity(lines.capacity());
        for (measure, amount) in amounts {
            for (limit, key, b) in &budgets {
                let (tag, per_minute) = match measure {
                    Measure::Requests => ("r", b.requests_per_minute),
                    Measure::Cost => ("c", b.cost_per_minute),
                };
                lines.push((*measure, *limit));
                owners.push(key);
                draws.push(Draw {
                    key: format!("{key}:{tag}"),
                    quota: Quota::per_minute(per_minute),
                    cost: *amount,
                });
            }
        }
        let verdicts = self.store.take(&draws).await;
        let refused: Vec<(&str, u64)> = owners
            .iter()
            .zip(&verdicts)
            .filter(|(_, v)| !v.allowed)
            .map(|(party, v)| (*party, v.retry_after_secs))
            .collect();
        if !refused.is_empty() {
            let now = Instant::now();
            let mut holds = self.holds.lock().unwrap_or_else(|p| p.into_inner());
            // A hold only saves work: in a flood from many addresses they all may go.
            bound(&mut holds, HOLDS, |until| *until > now, |_| false);
            for (party, secs) in refused {
                let until = now + Duration::from_secs(secs.max(1));
                let held = holds.entry(party.to_owned()).or_insert(until);
                *held = (*held).max(until);
            }
        }
        let mut drawn = Drawn::default();
        for (measure, _) in amounts {
            let charged = charged(*measure, &lines, &draws, &verdicts);
            match measure {
                Measure::Requests => drawn.requests = charged,
                Measure::Cost => drawn.cost = charged,
            }
        }
        if let Some(r) = drawn.refused() {
            metrics::counter!(
                "ils_rate_limited_total",
                "limit" => r.limit.as_str(),
                "budget" => r.measure.as_str()
            )
            .increment(1);
        }
        drawn
    }
}

/// Keeps a map of callers that only saves work (holds, the Redis store's mirror) within
/// `cap` entries: at `cap` the entries no longer `live` go, and if half are still live (a
/// flood from many addresses), all but those that must be `kept`. The map then takes about
/// `cap / 2` new entries to fill again, so each sweep costs O(1) an entry.
pub(crate) fn bound<V>(
    map: &mut HashMap<String, V>,
    cap: usize,
    live: impl Fn(&V) -> bool,
    kept: impl Fn(&V) -> bool,
) {
    if map.len() >= cap {
        map.retain(|_, v| live(v));
        if map.len() >= cap / 2 {
            map.retain(|_, v| kept(v));
        }
    }
}

/// What the draws of one measure said: the refusing budget that keeps the caller waiting
/// longest (a client that waits that long is not refused again by another), and for the
/// headers that one, or the budget with least left.
fn charged(
    measure: Measure,
    lines: &[(Measure, Limit)],
    draws: &[Draw],
    verdicts: &[Verdict],
) -> Option<Charged> {
    let of_measure = || {
        lines
            .iter()
            .zip(draws)
            .zip(verdicts)
            .filter(move |((line, _), _)| line.0 == measure)
    };
    let refused = of_measure()
        .filter(|(_, v)| !v.allowed)
        .max_by_key(|(_, v)| v.retry_after_secs)
        .map(|(((_, limit), d), v)| Refusal {
            limit: *limit,
            measure,
            quota: d.quota,
            retry_after_secs: v.retry_after_secs,
        });
    let (quota, verdict) = of_measure()
        .min_by_key(|(_, v)| {
            (
                v.allowed,
                std::cmp::Reverse(v.retry_after_secs),
                v.remaining,
            )
        })
        .map(|((_, d), v)| (d.quota, *v))?;
    Some(Charged {
        measure,
        quota,
        verdict,
        refused,
    })
}

/// The IETF rate-limit headers (draft-ietf-httpapi-ratelimit-headers): the policies and
/// what is left of them, one item per budget the request drew on.
pub fn headers(ledger: &Ledger) -> Vec<(&'static str, String)> {
    let charged: Vec<&Charged> = [&ledger.requests, &ledger.cost]
        .into_iter()
        .flatten()
        .collect();
    if charged.is_empty() {
        return Vec::new();
    }
    let policy = charged
        .iter()
        .map(|c| {
            let unit = match c.measure {
                Measure::Requests => ";qu=\"requests\"",
                Measure::Cost => "",
            };
            format!(
                "\"{}\";q={};w={}{unit}",
                c.measure.as_str(),
                c.quota.limit,
                c.quota.window.as_secs()
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let state = charged
        .iter()
        .map(|c| {
            format!(
                "\"{}\";r={};t={}",
                c.measure.as_str(),
                c.verdict.remaining,
                c.verdict.reset_secs
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    vec![("ratelimit-policy", policy), ("ratelimit", state)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounded_map_sheds_what_is_not_live_and_in_a_flood_all_but_what_must_stay() {
        let fill = |live: usize, kept: usize, other: usize| {
            let mut m = HashMap::new();
            for i in 0..live {
                m.insert(format!("live{i}"), 1);
            }
            for i in 0..kept {
                m.insert(format!("kept{i}"), 2);
            }
            for i in 0..other {
                m.insert(format!("other{i}"), 0);
            }
            m
        };
        let (live, kept) = (|v: &i32| *v >= 1, |v: &i32| *v == 2);
        // Under the cap nothing goes.
        let mut m = fill(3, 1, 5);
        bound(&mut m, 10, live, kept);
        assert_eq!(m.len(), 9);
        // At the cap what is not live goes; the live stay while under half the cap.
        let mut m = fill(3, 1, 6);
        bound(&mut m, 10, live, kept);
        assert_eq!(m.len(), 4);
        // At the cap with half or more still live: only what must be kept stays.
        let mut m = fill(5, 1, 4);
        bound(&mut m, 10, live, kept);
        assert_eq!(m.keys().collect::<Vec<_>>(), ["kept0"]);
    }

    #[test]
    fn headers_name_each_budget_its_size_and_what_is_left() {
        let c = |measure, limit, remaining, reset| Charged {
            measure,
            quota: Quota::per_minute(limit),
            verdict: Verdict {
                allowed: true,
                remaining,
                reset_secs: reset,
                retry_after_secs: 0,
            },
            refused: None,
        };
        let ledger = Ledger {
            requests: Some(c(Measure::Requests, 300, 299, 1)),
            cost: Some(c(Measure::Cost, 30_000, 29_990, 1)),
            cost_points: 10,
            ..Ledger::default()
        };
        let h = headers(&ledger);
        assert_eq!(
            h,
            vec![
                (
                    "ratelimit-policy",
                    "\"requests\";q=300;w=60;qu=\"requests\", \"cost\";q=30000;w=60".to_owned()
                ),
                (
                    "ratelimit",
                    "\"requests\";r=299;t=1, \"cost\";r=29990;t=1".to_owned()
                ),
            ]
        );
        assert!(headers(&Ledger::default()).is_empty());
    }

    #[test]
    fn a_refusal_says_whose_budget_and_when_to_come_back() {
        let r = Refusal {
            limit: Limit::ApiKey,
            measure: Measure::Cost,
            quota: Quota::per_minute(12_000),
            retry_after_secs: 7,
        };
        assert_eq!(
            r.message(),
            "rate limit reached: 12000 cost points a minute for this API key; try again in 7 s"
        );
        let e = r.error();
        let ext = e.extensions.unwrap();
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::from("RATE_LIMITED"))
        );
        assert_eq!(
            ext.get("retryAfter"),
            Some(&async_graphql::Value::from(7u64))
        );
        assert_eq!(
            ext.get("limit"),
            Some(&async_graphql::Value::from("API_KEY"))
        );
    }
}
