//! Usage: requests, cost points, refusals and errors per company, day, caller (API key or
//! user) and operation, counted in process as requests end and flushed to the company's
//! `usage_daily` rows every `FLUSH_EVERY` (and when the server stops). Each replica adds
//! its own counts to the same rows, so nothing is shared but the database; a crash loses
//! at most the last interval's counts of that replica.

use chrono::{NaiveDate, Utc};
use ils_entity::usage_daily as usage;
use ils_kernel::{Actor, AppResult, Db, TenantContext, Tx};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::ExprTrait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use uuid::Uuid;

pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// The longest operation name kept.
const NAME_MAX: usize = 100;
/// The most rows counted between two flushes.
const PENDING_MAX: usize = 100_000;

/// Whether `s` is a GraphQL name of at most NAME_MAX characters.
fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= NAME_MAX
        && chars
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Row {
    company: Uuid,
    day: NaiveDate,
    caller: String,
    operation: String,
}

/// What one request adds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub requests: i64,
    pub cost: i64,
    pub refusals: i64,
    pub errors: i64,
}

impl Counts {
    /// A request that ran, spending `cost` points, with errors or not.
    pub fn ran(cost: u64, failed: bool) -> Counts {
        Counts {
            requests: 1,
            cost: cost as i64,
            errors: i64::from(failed),
            refusals: 0,
        }
    }

    /// A request refused before it ran because its document was not valid.
    pub fn invalid() -> Counts {
        Counts {
            requests: 1,
            errors: 1,
            ..Counts::default()
        }
    }

    /// A request a rate budget refused.
    pub fn refused() -> Counts {
        Counts {
            requests: 1,
            refusals: 1,
            ..Counts::default()
        }
    }
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, c: Counts) {
        self.requests += c.requests;
        self.cost += c.cost;
        self.refusals += c.refusals;
        self.errors += c.errors;
    }
}

#[derive(Default)]
pub struct Usage {
    pending: Mutex<HashMap<Row, Counts>>,
}

impl Usage {
    /// Counts one request of a company's caller (anonymous callers and platform admins
    /// belong to no company: not counted here).
    pub fn add(&self, tenant: &TenantContext, operation: Option<&str>, counts: Counts) {
        let Some(company) = tenant.company_id() else {
            return;
        };
        let caller = match tenant.actor() {
            Actor::ApiKey { id, .. } => format!("key:{id}"),
            Actor::User(id) => format!("user:{id}"),
            _ => return,
        };
        // The name is the client's: kept only when it is a GraphQL name (`[_A-Za-z]
        // [_0-9A-Za-z]*`, at most NAME_MAX characters), so nothing else reaches a row.
        let operation = match operation {
            None | Some("") => "(anonymous operation)",
            Some(o) if is_name(o) => o,
            Some(_) => "(invalid operation name)",
        };
        let mut row = Row {
            company,
            day: Utc::now().date_naive(),
            caller,
            operation: operation.to_owned(),
        };
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded between flushes: past PENDING_MAX rows, new names count as "(other)".
        if pending.len() >= PENDING_MAX && !pending.contains_key(&row) {
            row.operation = "(other)".to_owned();
        }
        *pending.entry(row).or_default() += counts;
    }

    /// Writes the counts so far to the usage rows (adding to what is there) and forgets
    /// them; on failure they are kept for the next flush.
    pub async fn flush(&self, db: &Db) -> AppResult<usize> {
        let taken: Vec<(Row, Counts)> = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.drain().collect()
        };
        if taken.is_empty() {
            return Ok(0);
        }
        let n = taken.len();
        match write(db, &taken).await {
            Ok(()) => Ok(n),
            Err(e) => {
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                for (row, c) in taken {
                    *pending.entry(row).or_default() += c;
                }
                Err(e)
            }
        }
    }
}

async fn write(db: &Db, rows: &[(Row, Counts)]) -> AppResult<()> {
    let mut rows: Vec<&(Row, Counts)> = rows.iter().collect();
    // One order for every writer (replicas flush at once): they wait, never deadlock.
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    // The counts of many companies at once, each row to the company it was counted for.
    #[allow(clippy::disallowed_methods)]
    let tx = db.system().await?;
    let sum =
        |c: usage::Column| Tx::existing::<usage::Entity>(c).add(Tx::proposed::<usage::Entity>(c));
    for chunk in rows.chunks(200) {
        tx.upsert_many::<usage::Entity, _>(
            chunk
                .iter()
                .map(|(r, c)| usage::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    company_id: Set(r.company),
                    day: Set(r.day),
                    caller: Set(r.caller.clone()),
                    operation: Set(r.operation.clone()),
                    requests: Set(c.requests),
                    cost: Set(c.cost),
                    refusals: Set(c.refusals),
                    errors: Set(c.errors),
                })
                .collect(),
            &[
                usage::Column::Day,
                usage::Column::Caller,
                usage::Column::Operation,
            ],
            vec![
                (usage::Column::Requests, sum(usage::Column::Requests)),
                (usage::Column::Cost, sum(usage::Column::Cost)),
                (usage::Column::Refusals, sum(usage::Column::Refusals)),
                (usage::Column::Errors, sum(usage::Column::Errors)),
            ],
        )
        .await?;
    }
    tx.commit().await
}

/// Flushes every `FLUSH_EVERY` until `stop`, then once more.
pub async fn run(usage: std::sync::Arc<Usage>, db: Db, stop: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        if let Err(e) = usage.flush(&db).await {
            tracing::warn!(error = ?e, "usage: counts kept for the next flush");
        }
    }
    if let Err(e) = usage.flush(&db).await {
        tracing::warn!(error = ?e, "usage: the last counts could not be written");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_graphql_names_are_kept() {
        assert!(is_name("Mine"));
        assert!(is_name("_x9"));
        for bad in ["", "9a", "a-b", "a\u{0}", "é", &"a".repeat(NAME_MAX + 1)] {
            assert!(!is_name(bad), "{bad:?}");
        }
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // a caller made up for the counter, not a credential
    fn a_name_that_is_not_a_graphql_name_is_counted_under_a_fixed_one() {
        let usage = Usage::default();
        let t = TenantContext::for_user(Some(Uuid::now_v7()), Uuid::now_v7(), vec![], false);
        usage.add(&t, Some("a\u{0}b"), Counts::ran(1, false));
        let names: Vec<String> = usage
            .pending
            .lock()
            .unwrap()
            .keys()
            .map(|r| r.operation.clone())
            .collect();
        assert_eq!(names, ["(invalid operation name)"]);
    }
}
