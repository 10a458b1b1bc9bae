//! The built-in assistant: no model, no network. It recognises the common questions of
//! practices, labs and suppliers (`intents::recognise`), calls the same tools a model
//! would, and answers from templates filled with what they returned (`intents::render`).
//! It never invents a figure: every number in an answer comes from a tool's result, and a
//! question it does not recognise is passed on (or answered with a plain "I did not
//! understand").
//!
//! As a `ChatModel` it answers in two rounds, like a model that uses tools: first the
//! tool calls of the recognised question, then (with their results in the chat) the text.

mod intents;

pub use intents::{Plan, recognise, render};

use crate::provider::{
    ChatModel, ChatRequest, ChatResponse, Deltas, Message, ProviderError, ToolCall, Usage,
};
use tokio_util::sync::CancellationToken;

/// What a tool call gave the assistant: its result, or the error it met (in call order).
pub type Outcome = Result<serde_json::Value, String>;

/// How a tool's outcome is written into the chat: `{"tool", "result"}` or
/// `{"tool", "error"}` (JSON), read back by the built-in assistant.
pub fn tool_message_content(tool: &str, outcome: &Outcome) -> String {
    match outcome {
        Ok(result) => serde_json::json!({"tool": tool, "result": result}),
        Err(error) => serde_json::json!({"tool": tool, "error": error}),
    }
    .to_string()
}

fn outcome_of(content: &str) -> Outcome {
    let v: serde_json::Value =
        serde_json::from_str(content).map_err(|_| "unreadable tool result".to_owned())?;
    match v.get("error").and_then(|e| e.as_str()) {
        Some(error) => Err(error.to_owned()),
        None => Ok(v.get("result").cloned().unwrap_or_default()),
    }
}

/// The text the assistant answers with when it does not know a question and no model
/// could take it.
pub const NOT_UNDERSTOOD: &str = "I did not understand that question, and no language model is available to take it. I can answer questions about your orders (status, late jobs), stock (levels, what runs out when, what to reorder), purchase orders, your connections, the directory, your suppliers' catalog prices and this month's counts.";

#[derive(Default)]
pub struct Builtin;

#[async_trait::async_trait]
impl ChatModel for Builtin {
    fn provider(&self) -> &str {
        "builtin"
    }

    fn model(&self) -> &str {
        "builtin"
    }

    fn external(&self) -> bool {
        false
    }

    async fn chat(
        &self,
        req: &ChatRequest,
        deltas: &Deltas,
        _cancel: &CancellationToken,
    ) -> Result<ChatResponse, ProviderError> {
        let Some(at) = req
            .messages
            .iter()
            .rposition(|m| matches!(m, Message::User { .. }))
        else {
            return Err(ProviderError::NotUnderstood);
        };
        let Message::User { content: question } = &req.messages[at] else {
            return Err(ProviderError::NotUnderstood);
        };
        let plan = recognise(question, chrono::Utc::now().date_naive())
            .ok_or(ProviderError::NotUnderstood)?;
        let outcomes: Vec<Outcome> = req.messages[at + 1..]
            .iter()
            .filter_map(|m| match m {
                Message::Tool { content, .. } => Some(outcome_of(content)),
                _ => None,
            })
            .collect();
        if outcomes.is_empty() && !plan.calls.is_empty() {
            return Ok(ChatResponse {
                text: String::new(),
                tool_calls: plan
                    .calls
                    .iter()
                    .enumerate()
                    .map(|(i, (name, arguments))| ToolCall {
                        id: format!("builtin_{i}"),
                        name: name.clone(),
                        arguments: arguments.clone(),
                    })
                    .collect(),
                usage: Usage::default(),
                model: "builtin".into(),
            });
        }
        let text = render(&plan, &outcomes);
        for word in text.split_inclusive(' ') {
            deltas.send(word);
        }
        Ok(ChatResponse {
            text,
            tool_calls: vec![],
            usage: Usage::default(),
            model: "builtin".into(),
        })
    }
}
