//! `/dev/webhook-sink`: a webhook receiver the server itself offers in development, so
//! that the playground's webhook example (and anyone trying webhooks locally) has a
//! target that is not a host on the internet. `POST` records what arrives (the body and
//! the ILS headers) and answers 204; `GET` lists the last deliveries, newest first. In
//! production neither exists (404).

use axum::http::HeaderMap;
use std::collections::VecDeque;
use std::sync::Mutex;

/// How many deliveries the sink keeps (older ones are dropped).
pub const KEEP: usize = 100;

/// The deliveries the sink has received.
#[derive(Default)]
pub struct Sink(Mutex<VecDeque<serde_json::Value>>);

impl Sink {
    /// Keeps a delivery: its body (as JSON when it is JSON) and the ILS headers.
    pub fn receive(&self, headers: &HeaderMap, body: &[u8]) {
        let kept: serde_json::Map<String, serde_json::Value> = headers
            .iter()
            .filter(|(name, _)| {
                let n = name.as_str();
                n.starts_with("x-ils") || n == "content-type" || n == "user-agent"
            })
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    serde_json::Value::String(value.to_str().unwrap_or("").to_owned()),
                )
            })
            .collect();
        let text = String::from_utf8_lossy(body).into_owned();
        let parsed = serde_json::from_str::<serde_json::Value>(&text).ok();
        self.record(serde_json::json!({
            "receivedAt": chrono::Utc::now().to_rfc3339(),
            "headers": kept,
            "body": parsed.unwrap_or(serde_json::Value::String(text)),
        }));
    }

    fn record(&self, entry: serde_json::Value) {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if all.len() == KEEP {
            all.pop_back();
        }
        all.push_front(entry);
    }

    /// The kept deliveries, newest first.
    pub fn list(&self) -> Vec<serde_json::Value> {
        let all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().cloned().collect()
    }
}
