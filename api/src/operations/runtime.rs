//! What the request path keeps about persisted operations: each document parsed once (by
//! its hash, which names its text), which documents each caller may run (asked of the
//! database at most once a second per caller and document, so a retired version or a
//! changed grant stops working within a second on every server), the automatic persisted
//! queries of signed-in users, and the usage counts waiting to be written.

use super::store;
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use ils_kernel::{Actor, AppError, AppResult, Db, TenantContext};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long an answer about what a caller may run is trusted.
pub const PERMIT_TTL: Duration = Duration::from_secs(1);
/// Entries kept per cache before it starts afresh.
const CACHE_LIMIT: usize = 50_000;
/// Automatic persisted queries kept in process (without Redis).
const APQ_LIMIT: usize = 10_000;
/// How long Redis keeps an automatic persisted query.
const APQ_TTL_SECS: u64 = 24 * 60 * 60;

pub use crate::config::OperationsMode as Mode;

/// A trusted document ready to run: parsed once.
pub struct Prepared {
    pub hash: String,
    pub body: String,
    pub doc: ExecutableDocument,
}

impl Prepared {
    pub fn parse(hash: String, body: String) -> AppResult<Prepared> {
        let doc = async_graphql::parser::parse_query(&body)
            .map_err(|e| AppError::internal(format!("a stored document does not parse: {e}")))?;
        Ok(Prepared { hash, body, doc })
    }

    /// The type of the operation `name` picks (or the only one).
    pub fn kind(&self, name: Option<&str>) -> Option<OperationType> {
        operation_type(&self.doc, name)
    }
}

/// The type of the operation `name` picks in `doc` (or its only one); it lives beside the
/// limits, which need it too.
pub use crate::extension::operation_type;

/// Where an automatic persisted query is kept: per company (or none), per hash.
fn apq_key(company: Option<Uuid>, hash: &str) -> String {
    match company {
        Some(c) => format!("{}:{hash}", c.simple()),
        None => format!("-:{hash}"),
    }
}

/// Whose permissions an answer is about: an API key, or everyone else (the platform's
/// lists).
#[derive(Clone, Copy, Hash, PartialEq, Eq, Debug)]
enum Caller {
    Key(Uuid),
    FirstParty,
}

fn caller(ctx: &TenantContext) -> Caller {
    match ctx.actor() {
        Actor::ApiKey { id, .. } => Caller::Key(id),
        _ => Caller::FirstParty,
    }
}

/// Answers kept for `PERMIT_TTL`, at most `CACHE_LIMIT` of them (then it starts afresh).
struct Fresh<K, V>(Mutex<HashMap<K, (Instant, V)>>);

impl<K: std::hash::Hash + Eq, V: Clone> Fresh<K, V> {
    fn new() -> Self {
        Fresh(Mutex::new(HashMap::new()))
    }

    fn get(&self, key: &K) -> Option<V> {
        self.get_dated(key).map(|(_, v)| v)
    }

    /// The answer and when it was read, while fresh.
    fn get_dated(&self, key: &K) -> Option<(Instant, V)> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|(at, _)| at.elapsed() < PERMIT_TTL)
            .map(|(at, v)| (*at, v.clone()))
    }

    /// Keeps an answer as of `at` (an answer drawn from another is as old as that one).
    fn put(&self, key: K, value: V, at: Instant) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CACHE_LIMIT {
            map.clear();
        }
        map.insert(key, (at, value));
    }

    fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[derive(Default)]
struct Usage {
    ctx: Option<TenantContext>,
    runs: i64,
    errors: i64,
    last: Option<chrono::DateTime<chrono::Utc>>,
}

/// The persisted-operation state of one server.
pub struct Runtime {
    pub mode: Mode,
    redis: Option<(redis::aio::ConnectionManager, String)>,
    /// What each caller may run: the versions, and per document the answer.
    versions: Fresh<Caller, Arc<Vec<Uuid>>>,
    permits: Fresh<(Caller, String), Option<Arc<Prepared>>>,
    /// Every document seen, by hash (the hash names the text, so this is never stale).
    parsed: Mutex<HashMap<String, Arc<Prepared>>>,
    apq: Mutex<HashMap<String, String>>,
    /// The unpublished texts already reported (log_unknown), by hash: each once.
    reported: Mutex<std::collections::HashSet<String>>,
    usage: Mutex<HashMap<(Uuid, Caller, Uuid, String), Usage>>,
}

impl Runtime {
    pub fn new(mode: Mode, redis: Option<(redis::aio::ConnectionManager, String)>) -> Runtime {
        Runtime {
            mode,
            redis,
            versions: Fresh::new(),
            permits: Fresh::new(),
            parsed: Default::default(),
            apq: Default::default(),
            reported: Default::default(),
            usage: Default::default(),
        }
    }

    /// Forgets every answer about permissions (after a publish, a retirement or a new
    /// grant on this server; other servers notice within `PERMIT_TTL`).
    pub fn forget(&self) {
        self.versions.clear();
        self.permits.clear();
    }

    /// The versions `ctx` may run, and when they were read.
    async fn versions(&self, db: &Db, ctx: &TenantContext) -> AppResult<(Instant, Arc<Vec<Uuid>>)> {
        let who = caller(ctx);
        if let Some(dated) = self.versions.get_dated(&who) {
            return Ok(dated);
        }
        let at = Instant::now();
        let v = Arc::new(store::runnable_versions(db, ctx).await?);
        self.versions.put(who, v.clone(), at);
        Ok((at, v))
    }

    /// The document `hash` names, if `ctx` may run it (an API key: its lists; anyone
    /// else: the platform's lists); None otherwise, whether it exists or not.
    pub async fn trusted(
        &self,
        db: &Db,
        ctx: &TenantContext,
        hash: &str,
    ) -> AppResult<Option<Arc<Prepared>>> {
        self.find(db, ctx, hash.to_owned(), store::Match::Hash(hash))
            .await
    }

    /// The published document `text` matches (whitespace and definition order aside),
    /// among those `ctx` may run: the safelist.
    pub async fn matching(
        &self,
        db: &Db,
        ctx: &TenantContext,
        text: &str,
    ) -> AppResult<Option<Arc<Prepared>>> {
        let Some(canonical) = super::manifest::canonical(text) else {
            return Ok(None);
        };
        let key = format!("canonical:{}", super::manifest::sha256_hex(&canonical));
        self.find(db, ctx, key, store::Match::Canonical(&canonical))
            .await
    }

    /// The document `by` picks among what `ctx` may run, answered from `permits` (under
    /// `key`) for a second at a time.
    async fn find(
        &self,
        db: &Db,
        ctx: &TenantContext,
        key: String,
        by: store::Match<'_>,
    ) -> AppResult<Option<Arc<Prepared>>> {
        let key = (caller(ctx), key);
        if let Some(found) = self.permits.get(&key) {
            return Ok(found);
        }
        let (at, versions) = self.versions(db, ctx).await?;
        let found = match store::find(db, ctx, &versions, by).await? {
            Some(doc) => Some(self.parsed(doc.hash, doc.body)?),
            None => None,
        };
        // As old as the versions it was drawn from: a retirement is seen within
        // PERMIT_TTL of it, not twice that.
        self.permits.put(key, found.clone(), at);
        Ok(found)
    }

    fn parsed(&self, hash: String, body: String) -> AppResult<Arc<Prepared>> {
        if let Some(p) = self
            .parsed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&hash)
        {
            return Ok(p.clone());
        }
        let p = Arc::new(Prepared::parse(hash.clone(), body)?);
        let mut map = self.parsed.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CACHE_LIMIT {
            map.clear();
        }
        map.insert(hash, p.clone());
        Ok(p)
    }

    /// Whether the unpublished text `hash` is reported for the first time (log_unknown
    /// says each once per process, not once per request).
    pub fn first_report(&self, hash: &str) -> bool {
        let mut seen = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= CACHE_LIMIT {
            seen.clear();
        }
        seen.insert(hash.to_owned())
    }

    /// The text of an automatic persisted query that someone of `company` registered
    /// (on any server, with Redis). Each company has its own: nobody learns whether
    /// another company ran a text.
    pub async fn apq_get(&self, company: Option<Uuid>, hash: &str) -> Option<String> {
        let key = apq_key(company, hash);
        if let Some(text) = self.apq.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Some(text.clone());
        }
        let (conn, prefix) = self.redis.as_ref()?;
        let mut conn = conn.clone();
        let text: Option<String> = redis::cmd("GET")
            .arg(format!("{prefix}:apq:{key}"))
            .query_async(&mut conn)
            .await
            .ok()?;
        let text = text?;
        // What Redis holds is checked like anything a client sends.
        if super::manifest::sha256_hex(&text) != hash {
            return None;
        }
        self.keep_apq(key, text.clone());
        Some(text)
    }

    /// Keeps an automatic persisted query for `company`: `text`, whose SHA-256 is `hash`
    /// (checked before), once its request passed parsing, validation and the limits.
    pub async fn apq_put(&self, company: Option<Uuid>, hash: &str, text: &str) {
        let key = apq_key(company, hash);
        self.keep_apq(key.clone(), text.to_owned());
        if let Some((conn, prefix)) = &self.redis {
            let mut conn = conn.clone();
            let stored: redis::RedisResult<()> = redis::cmd("SET")
                .arg(format!("{prefix}:apq:{key}"))
                .arg(text)
                .arg("EX")
                .arg(APQ_TTL_SECS)
                .query_async(&mut conn)
                .await;
            if let Err(e) = stored {
                tracing::warn!(error = %e, "could not keep an automatic persisted query in Redis");
            }
        }
    }

    fn keep_apq(&self, key: String, text: String) {
        let mut map = self.apq.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= APQ_LIMIT {
            map.clear();
        }
        map.insert(key, text);
    }

    /// Counts one run of `hash` by `ctx` (written by `flush`).
    pub fn count(&self, ctx: &TenantContext, hash: &str, failed: bool) {
        let Some(company) = ctx.company_id() else {
            return;
        };
        let person = ctx.user_id().unwrap_or_default();
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        let entry = usage
            .entry((company, caller(ctx), person, hash.to_owned()))
            .or_default();
        if entry.ctx.is_none() {
            entry.ctx = Some(ctx.clone());
        }
        entry.runs += 1;
        entry.errors += i64::from(failed);
        entry.last = Some(chrono::Utc::now());
    }

    /// Writes the counts gathered since the last flush, each in its caller's own scope (a
    /// caller whose access ended meanwhile loses its counts).
    pub async fn flush(&self, db: &Db) {
        let taken = std::mem::take(&mut *self.usage.lock().unwrap_or_else(|e| e.into_inner()));
        let mut by_caller: HashMap<(Uuid, Caller, Uuid), (TenantContext, Vec<_>)> = HashMap::new();
        for ((company, who, person, hash), u) in taken {
            let (Some(ctx), Some(last)) = (u.ctx, u.last) else {
                continue;
            };
            by_caller
                .entry((company, who, person))
                .or_insert_with(|| (ctx, vec![]))
                .1
                .push((hash, u.runs, u.errors, last));
        }
        for ((company, who, person), (ctx, rows)) in by_caller {
            if let Err(e) = store::add_usage(db, &ctx, rows.clone()).await {
                // Kept for the next flush (another server may have just made the row), unless
                // the caller's access has ended.
                tracing::warn!(error = ?e, "could not record persisted operation usage yet");
                if matches!(e, ils_kernel::AppError::Unauthenticated(_)) {
                    continue;
                }
                let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
                for (hash, runs, errors, last) in rows {
                    let entry = usage.entry((company, who, person, hash)).or_default();
                    entry.ctx.get_or_insert_with(|| ctx.clone());
                    entry.runs += runs;
                    entry.errors += errors;
                    entry.last = entry.last.max(Some(last));
                }
            }
        }
    }
}
