//! The providers in the configured order. A call goes to the first one that is not
//! skipped; on an error, a timeout or a 429 the next one answers. After `FAILURES_TO_OPEN`
//! failures in a row a provider is skipped for `OPEN_FOR` (its circuit is open); then one
//! call tries it again (half open): a success closes the circuit, a failure opens it again.

use super::{ChatModel, ChatRequest, ChatResponse, Deltas, ProviderError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub const FAILURES_TO_OPEN: u32 = 3;
pub const OPEN_FOR: Duration = Duration::from_secs(30);

/// What `aiProviders` shows of one provider.
#[derive(Clone, Debug, Default)]
pub struct Health {
    pub calls: u64,
    pub failures: u64,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    pub last_error_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_latency: Option<Duration>,
    /// Skipped until then (the circuit is open).
    pub open_until: Option<Instant>,
}

impl Health {
    pub fn is_open(&self, now: Instant) -> bool {
        self.open_until.is_some_and(|t| now < t)
    }
}

pub struct Provider {
    pub model: Arc<dyn ChatModel>,
    health: Mutex<Health>,
}

impl Provider {
    pub fn health(&self) -> Health {
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn record(&self, latency: Duration, outcome: Result<(), &ProviderError>, open_for: Duration) {
        let mut h = self.health.lock().unwrap_or_else(|e| e.into_inner());
        h.calls += 1;
        h.last_latency = Some(latency);
        match outcome {
            Ok(()) => {
                h.consecutive_failures = 0;
                h.open_until = None;
            }
            Err(e) => {
                h.failures += 1;
                h.consecutive_failures += 1;
                h.last_error = Some(e.summary());
                h.last_error_at = Some(chrono::Utc::now());
                if h.consecutive_failures >= FAILURES_TO_OPEN {
                    h.open_until = Some(Instant::now() + open_for);
                }
            }
        }
    }
}

/// One provider's failure in a chained call.
#[derive(Debug)]
pub struct Attempt {
    pub provider: String,
    pub model: String,
    pub error: ProviderError,
}

pub struct Chain {
    providers: Vec<Provider>,
    open_for: Duration,
}

impl Chain {
    pub fn new(models: Vec<Arc<dyn ChatModel>>) -> Chain {
        Chain::with_open_for(models, OPEN_FOR)
    }

    pub fn with_open_for(models: Vec<Arc<dyn ChatModel>>, open_for: Duration) -> Chain {
        Chain {
            providers: models
                .into_iter()
                .map(|model| Provider {
                    model,
                    health: Mutex::default(),
                })
                .collect(),
            open_for,
        }
    }

    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// Asks the providers `use_it` accepts, in order, until one answers. Each attempt's
    /// text goes to the `Deltas` that `deltas` makes for it (a follower restarts its text
    /// when an attempt fails after it began). The failures come back either way.
    pub async fn chat(
        &self,
        req: &ChatRequest,
        use_it: impl Fn(&dyn ChatModel) -> bool,
        mut deltas: impl FnMut(usize) -> Deltas,
        cancel: &CancellationToken,
    ) -> (Option<(ChatResponse, Arc<dyn ChatModel>)>, Vec<Attempt>) {
        let mut failed = Vec::new();
        let mut attempt = 0;
        for p in &self.providers {
            if !use_it(p.model.as_ref()) {
                continue;
            }
            let health = p.health();
            let now = Instant::now();
            if health.is_open(now) {
                failed.push(Attempt {
                    provider: p.model.provider().to_owned(),
                    model: p.model.model().to_owned(),
                    error: ProviderError::Transport(
                        "skipped: circuit open after repeated failures".into(),
                    ),
                });
                continue;
            }
            let started = Instant::now();
            let result = p.model.chat(req, &deltas(attempt), cancel).await;
            attempt += 1;
            match result {
                Ok(answer) => {
                    p.record(started.elapsed(), Ok(()), self.open_for);
                    return (Some((answer, p.model.clone())), failed);
                }
                // Not the provider's fault: nothing to record, nobody else to ask.
                Err(ProviderError::Cancelled) => {
                    failed.push(Attempt {
                        provider: p.model.provider().to_owned(),
                        model: p.model.model().to_owned(),
                        error: ProviderError::Cancelled,
                    });
                    return (None, failed);
                }
                Err(ProviderError::NotUnderstood) => {
                    failed.push(Attempt {
                        provider: p.model.provider().to_owned(),
                        model: p.model.model().to_owned(),
                        error: ProviderError::NotUnderstood,
                    });
                }
                Err(error) => {
                    tracing::warn!(provider = p.model.provider(), model = p.model.model(), %error, "a model provider failed; trying the next");
                    p.record(started.elapsed(), Err(&error), self.open_for);
                    failed.push(Attempt {
                        provider: p.model.provider().to_owned(),
                        model: p.model.model().to_owned(),
                        error,
                    });
                }
            }
        }
        (None, failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::scripted::{Scripted, Turn};

    fn failing(model: &str) -> Arc<dyn ChatModel> {
        Arc::new(Scripted::new(
            model,
            vec![Turn {
                fail: Some("429".into()),
                ..Turn::default()
            }],
        ))
    }

    fn answering(model: &str) -> Arc<dyn ChatModel> {
        Arc::new(Scripted::new(
            model,
            vec![Turn {
                text: format!("from {model}"),
                ..Turn::default()
            }],
        ))
    }

    fn ask() -> ChatRequest {
        ChatRequest {
            messages: vec![crate::provider::Message::User {
                content: "q".into(),
            }],
            ..ChatRequest::default()
        }
    }

    #[tokio::test]
    async fn the_next_provider_answers_and_a_failing_one_is_skipped_after_three() {
        let chain =
            Chain::with_open_for(vec![failing("a"), answering("b")], Duration::from_secs(60));
        let cancel = CancellationToken::new();
        for i in 0..5 {
            let (answer, failed) = chain
                .chat(&ask(), |_| true, |_| Deltas::none(), &cancel)
                .await;
            assert_eq!(answer.unwrap().0.text, "from b");
            assert_eq!(failed.len(), 1);
            let skipped = failed[0].error.to_string().contains("circuit open");
            assert_eq!(skipped, i >= 3, "call {i}: {:?}", failed[0].error);
        }
        let a = chain.providers()[0].health();
        assert_eq!(a.calls, 3, "an open circuit is not called");
        assert_eq!(a.consecutive_failures, 3);
        assert!(a.last_error.unwrap().contains("429"));
        assert_eq!(chain.providers()[1].health().failures, 0);
    }

    #[tokio::test]
    async fn a_half_open_provider_that_answers_is_closed_again() {
        let chain = Chain::with_open_for(vec![failing("a")], Duration::from_millis(1));
        let cancel = CancellationToken::new();
        for _ in 0..3 {
            chain
                .chat(&ask(), |_| true, |_| Deltas::none(), &cancel)
                .await;
        }
        assert!(chain.providers()[0].health().open_until.is_some());
        tokio::time::sleep(Duration::from_millis(5)).await;
        let (_, failed) = chain
            .chat(&ask(), |_| true, |_| Deltas::none(), &cancel)
            .await;
        // Tried again (half open), not skipped.
        assert!(!failed[0].error.to_string().contains("circuit open"));
        assert_eq!(chain.providers()[0].health().calls, 4);
    }
}
