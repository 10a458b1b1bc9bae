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
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding program); then ours
            // still renders what it records, which is nothing, and that is visible.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Operation names become label values; a client could send endless distinct names, so
/// only the first few hundred get their own series.
pub struct OperationNames {
    seen: Mutex<HashSet<String>>,
}

const MAX_OPERATION_NAMES: usize = 500;

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
