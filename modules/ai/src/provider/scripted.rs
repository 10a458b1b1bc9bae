//! A model that plays a script: for tests and the benchmark, where the assistant's own
//! work around a model call is what is measured. Round `n` of a question (the `n`-th
//! model call since the person's last message) plays turn `n` of the script (the last
//! turn once the script runs out), so concurrent conversations do not disturb each other.

use super::{
    ChatModel, ChatRequest, ChatResponse, Deltas, Message, ProviderError, ToolCall, Usage,
};
use serde::Deserialize;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// One turn of a script.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Turn {
    pub text: String,
    /// Tools to call: `{"name": …, "arguments": {…}}`.
    pub tool_calls: Vec<ScriptedCall>,
    pub usage: Usage,
    /// Waits this long first (a slow model).
    pub delay_ms: u64,
    /// Waits this long before each word of the text (a model writing at its pace).
    pub word_delay_ms: u64,
    /// Fails instead: `timeout`, `429` or an HTTP status such as `500`.
    pub fail: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ScriptedCall {
    pub name: String,
    #[serde(default)]
    pub arguments: serde_json::Value,
}

pub struct Scripted {
    model: String,
    turns: Vec<Turn>,
}

impl Scripted {
    /// A script of `turns` (at least one; an empty script answers "Scripted answer.").
    pub fn new(model: &str, mut turns: Vec<Turn>) -> Scripted {
        if turns.is_empty() {
            turns.push(Turn {
                text: "Scripted answer.".into(),
                usage: Usage {
                    input_tokens: 100,
                    output_tokens: 10,
                },
                ..Turn::default()
            });
        }
        Scripted {
            model: model.to_owned(),
            turns,
        }
    }

    /// A script from its JSON text (a list of turns).
    pub fn parse(model: &str, json: &str) -> Result<Scripted, String> {
        let turns: Vec<Turn> =
            serde_json::from_str(json).map_err(|e| format!("a scripted model's script: {e}"))?;
        Ok(Scripted::new(model, turns))
    }
}

#[async_trait::async_trait]
impl ChatModel for Scripted {
    fn provider(&self) -> &str {
        "scripted"
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn external(&self) -> bool {
        false
    }

    async fn chat(
        &self,
        req: &ChatRequest,
        deltas: &Deltas,
        cancel: &CancellationToken,
    ) -> Result<ChatResponse, ProviderError> {
        let round = req
            .messages
            .iter()
            .rev()
            .take_while(|m| !matches!(m, Message::User { .. }))
            .filter(|m| matches!(m, Message::Assistant { .. }))
            .count();
        let turn = &self.turns[round.min(self.turns.len() - 1)];
        if turn.delay_ms > 0 {
            tokio::select! {
                _ = cancel.cancelled() => return Err(ProviderError::Cancelled),
                _ = tokio::time::sleep(Duration::from_millis(turn.delay_ms)) => {}
            }
        }
        match turn.fail.as_deref() {
            None => {}
            Some("timeout") => {
                return Err(ProviderError::Timeout(Duration::from_millis(turn.delay_ms)));
            }
            Some("429") => return Err(ProviderError::RateLimited),
            Some(other) => {
                return Err(ProviderError::Status {
                    status: other.parse().unwrap_or(500),
                    message: "scripted failure".into(),
                });
            }
        }
        for word in turn.text.split_inclusive(' ') {
            if turn.word_delay_ms > 0 {
                tokio::select! {
                    _ = cancel.cancelled() => return Err(ProviderError::Cancelled),
                    _ = tokio::time::sleep(Duration::from_millis(turn.word_delay_ms)) => {}
                }
            }
            deltas.send(word);
        }
        Ok(ChatResponse {
            text: turn.text.clone(),
            tool_calls: turn
                .tool_calls
                .iter()
                .enumerate()
                .map(|(i, c)| ToolCall {
                    id: format!("scripted_{round}_{i}"),
                    name: c.name.clone(),
                    arguments: c.arguments.clone(),
                })
                .collect(),
            usage: turn.usage,
            model: self.model.clone(),
        })
    }
}
