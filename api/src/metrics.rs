//! Prometheus metrics: one recorder per process (the `metrics` facade is global).

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .expect("static buckets are valid")
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(
                        "ils_rate_limit_wait_seconds".into(),
                    ),
                    &[
                        0.000_05, 0.000_1, 0.000_2, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.05,
                    ],
                )
                .expect("static buckets are valid")
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full("ils_job_batch_size".into()),
                    &[2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 200.0],
                )
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding program); then ours
            // still renders what it records, which is nothing, and that is visible.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

/// The process's own figures (CPU seconds, resident and virtual memory, open and maximum
/// file descriptors, threads, start time), read from the OS at each scrape.
fn process() -> &'static metrics_process::Collector {
    static PROCESS: OnceLock<metrics_process::Collector> = OnceLock::new();
    PROCESS.get_or_init(|| {
        let c = metrics_process::Collector::default();
        c.describe();
        c
    })
}

/// The text of a scrape: every family with its `# HELP`.
pub fn render() -> String {
    let handle = handle();
    process().collect();
    handle.render()
}

/// `# HELP` for every family the server records (a unit test checks that none is left
/// without one).
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "ils_graphql_requests_total",
        "GraphQL requests by operation name (a bounded set; others are `other`) and HTTP status"
    );
    describe_histogram!(
        "ils_graphql_request_duration_seconds",
        Unit::Seconds,
        "Time to answer a GraphQL request, by operation name"
    );
    describe_counter!(
        "ils_graphql_errors_total",
        "GraphQL errors returned, by extensions.code"
    );
    describe_counter!(
        "ils_subscription_shared_results_total",
        "Subscription events answered with the result another socket's execution of the same \
         event, document and visibility made (instead of executing again)"
    );
    describe_counter!(
        "ils_sql_statements_total",
        "SQL statements run, by pool (requests, background) and whether they failed"
    );
    describe_counter!(
        "ils_rate_limit_early_total",
        "Rate-limit draws answered at once, far within their budgets by what this process last \
         heard from Redis (the draw still goes to Redis)"
    );
    describe_counter!(
        "ils_rate_limit_overruns_total",
        "Draws answered at once that Redis then refused: requests let through beyond a shared \
         budget that another replica spent after this one last heard of it"
    );
    describe_histogram!(
        "ils_rate_limit_wait_seconds",
        Unit::Seconds,
        "Time a request's answer waited for its rate-limit draw: `drew` first (the whole draw, \
         before the operation ran) or beside (a query run during its draw: what the draw \
         outlasted it by)"
    );
    describe_histogram!(
        "ils_sql_statement_duration_seconds",
        Unit::Seconds,
        "Time one SQL statement took"
    );
    describe_gauge!(
        "ils_db_pool_connections",
        "Connections of the request pool, open and idle"
    );
    describe_counter!(
        "ils_jobs_total",
        "Background job attempts, by kind and outcome"
    );
    describe_histogram!(
        "ils_job_attempt_duration_seconds",
        Unit::Seconds,
        "Time one job attempt took, by kind"
    );
    describe_histogram!(
        "ils_job_batch_size",
        Unit::Count,
        "Jobs handled together in one call of a batched kind's handler, by kind"
    );
    describe_counter!(
        "ils_events_dispatched_total",
        "Outbox events published to the bus"
    );
    describe_counter!(
        "ils_events_publish_failures_total",
        "Outbox dispatch rounds that failed to publish"
    );
    describe_counter!(
        "ils_events_unreadable_total",
        "Outbox rows that could not be decoded"
    );
    describe_counter!(
        "ils_audit_failures_total",
        "Audit records that could not be written"
    );
}

/// Operation names become label values; a client could send endless distinct names, so
/// only the first `MAX_OPERATION_NAMES` get their own series and the rest share `other`.
/// (Each name costs about 20 series: a request counter per status and a histogram.)
pub struct OperationNames {
    seen: Mutex<HashSet<String>>,
}

pub const MAX_OPERATION_NAMES: usize = 50;

impl Default for OperationNames {
    fn default() -> Self {
        OperationNames {
            seen: Mutex::new(HashSet::new()),
        }
    }
}

impl OperationNames {
    pub fn label(&self, name: Option<&str>) -> String {
        let Some(name) = name.filter(|n| {
            !n.is_empty()
                && n.len() <= 64
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }) else {
            return "anonymous".into();
        };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.contains(name) || seen.len() < MAX_OPERATION_NAMES {
            seen.insert(name.to_owned());
            name.to_owned()
        } else {
            "other".into()
        }
    }
}
