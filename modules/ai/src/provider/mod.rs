//! Chat models behind one trait: an OpenAI-compatible server (`openai`), Anthropic's
//! Messages API (`anthropic`), the built-in assistant (`builtin`, no model, no network)
//! and a scripted one for tests (`scripted`). `chain` tries them in order with a circuit
//! breaker per provider.
//!
//! The two HTTP providers are written here over `reqwest` (already the server's HTTP
//! client): both wire formats are small, and the multi-provider crates pull in a second
//! HTTP and TLS stack (genai 0.5 brings reqwest 0.13 with aws-lc).

pub mod anthropic;
pub mod chain;
pub mod openai;
pub mod scripted;
mod sse;

use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One message of a chat, in the providers' common shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    System {
        content: String,
    },
    User {
        content: String,
    },
    Assistant {
        content: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
    },
    /// What a tool returned, as data (never as instructions).
    Tool {
        call_id: String,
        name: String,
        content: String,
    },
}

/// A tool call a model asked for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments, as JSON (an object).
    pub arguments: serde_json::Value,
}

/// A tool as a model is told about it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON schema of the arguments.
    pub parameters: serde_json::Value,
}

#[derive(Clone, Debug, Default)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub max_tokens: u32,
}

/// Tokens a call used, as the provider reported them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// The most tokens one call is believed to have used: a provider reporting more is wrong,
/// and its figure must not overflow a sum.
pub const MAX_TOKENS_PER_CALL: u64 = 10_000_000;

impl Usage {
    /// The usage with each count held to `MAX_TOKENS_PER_CALL`.
    pub fn bounded(self) -> Usage {
        Usage {
            input_tokens: self.input_tokens.min(MAX_TOKENS_PER_CALL),
            output_tokens: self.output_tokens.min(MAX_TOKENS_PER_CALL),
        }
    }
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatResponse {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
    /// The model that answered, as the provider named it.
    pub model: String,
}

/// Why a provider did not answer. Every kind makes the chain try the next provider.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("rate limited (429)")]
    RateLimited,
    #[error("HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("could not reach the provider: {0}")]
    Transport(String),
    #[error("unexpected answer: {0}")]
    Protocol(String),
    #[error("cancelled")]
    Cancelled,
    /// The built-in assistant does not know this question.
    #[error("not understood")]
    NotUnderstood,
}

impl ProviderError {
    /// What `aiProviders` shows of the error: its kind and status, never a provider's
    /// message (which may echo a request, possibly another company's). The whole error
    /// goes to the log.
    pub fn summary(&self) -> String {
        match self {
            ProviderError::Timeout(d) => format!("timed out after {d:?}"),
            ProviderError::RateLimited => "rate limited (429)".into(),
            ProviderError::Status { status, .. } => format!("HTTP {status}"),
            ProviderError::Transport(_) => "could not reach the provider".into(),
            ProviderError::Protocol(_) => "unexpected answer".into(),
            ProviderError::Cancelled => "cancelled".into(),
            ProviderError::NotUnderstood => "not understood".into(),
        }
    }
}

/// Where a streamed answer's text goes as it arrives (nowhere for a call nobody follows).
#[derive(Clone, Default)]
pub struct Deltas(Option<mpsc::UnboundedSender<String>>);

impl Deltas {
    pub fn to(tx: mpsc::UnboundedSender<String>) -> Deltas {
        Deltas(Some(tx))
    }

    pub fn none() -> Deltas {
        Deltas(None)
    }

    pub fn send(&self, text: &str) {
        if let Some(tx) = &self.0
            && !text.is_empty()
        {
            // A follower that left is no reason to stop answering.
            let _ = tx.send(text.to_owned());
        }
    }
}

/// A chat model.
#[async_trait::async_trait]
pub trait ChatModel: Send + Sync {
    /// The provider's kind: `openai`, `anthropic`, `builtin`, `scripted`.
    fn provider(&self) -> &str;
    /// The model asked for.
    fn model(&self) -> &str;
    /// Whether what it is sent leaves the platform (patient data is withheld from it
    /// unless the company shares it).
    fn external(&self) -> bool;
    /// Answers `req`, sending text to `deltas` as it comes; stops early when `cancel`
    /// fires.
    async fn chat(
        &self,
        req: &ChatRequest,
        deltas: &Deltas,
        cancel: &CancellationToken,
    ) -> Result<ChatResponse, ProviderError>;
}

/// A provider's HTTP settings.
#[derive(Clone)]
pub struct HttpSettings {
    pub model: String,
    pub base_url: String,
    pub api_key: Option<String>,
    /// For the whole call, first byte to last.
    pub timeout: Duration,
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSettings")
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "(set)"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// An HTTP status as the chain sees it.
fn status_error(status: reqwest::StatusCode, body: &str) -> ProviderError {
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return ProviderError::RateLimited;
    }
    let mut message: String = body.chars().take(300).collect();
    if message.is_empty() {
        message = status.canonical_reason().unwrap_or("error").to_owned();
    }
    ProviderError::Status {
        status: status.as_u16(),
        message,
    }
}

fn transport_error(e: reqwest::Error, timeout: Duration) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout(timeout)
    } else {
        ProviderError::Transport(e.without_url().to_string())
    }
}

/// Sends `call` and hands each server-sent event of a successful answer to `each` (until
/// it returns `false`); an error status, a failed connection or a broken stream is the
/// chain's kind of error.
async fn send_streamed(
    call: reqwest::RequestBuilder,
    timeout: Duration,
    each: impl FnMut(sse::SseEvent) -> Result<bool, ProviderError>,
) -> Result<(), ProviderError> {
    let res = call.send().await.map_err(|e| transport_error(e, timeout))?;
    let status = res.status();
    if !status.is_success() {
        let text = res.text().await.unwrap_or_default();
        return Err(status_error(status, &text));
    }
    sse::for_each(res.bytes_stream(), each, |e| transport_error(e, timeout)).await
}

/// A tool call's arguments from the JSON text a model streamed: `{}` for none; text that
/// is not JSON is kept under `_unparsed` (the tool refuses it, and the model sees why).
fn arguments_of(text: String) -> serde_json::Value {
    if text.trim().is_empty() {
        return serde_json::json!({});
    }
    serde_json::from_str(&text).unwrap_or_else(|_| serde_json::json!({ "_unparsed": text }))
}

/// Runs `call` under the provider's timeout and the caller's cancellation.
async fn bounded<F>(
    timeout: Duration,
    cancel: &CancellationToken,
    call: F,
) -> Result<ChatResponse, ProviderError>
where
    F: std::future::Future<Output = Result<ChatResponse, ProviderError>>,
{
    tokio::select! {
        _ = cancel.cancelled() => Err(ProviderError::Cancelled),
        r = tokio::time::timeout(timeout, call) => r.unwrap_or(Err(ProviderError::Timeout(timeout))),
    }
}
