//! Anthropic's Messages API: `POST {base_url}/v1/messages`, streamed. The system prompt
//! goes apart, tool results travel in a user turn as `tool_result` blocks (consecutive
//! ones merged into one turn), tool calls come back as `tool_use` blocks.

use super::{
    ChatModel, ChatRequest, ChatResponse, Deltas, HttpSettings, Message, ProviderError, ToolCall,
    Usage, arguments_of, bounded, send_streamed,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub const VERSION: &str = "2023-06-01";

pub struct Anthropic {
    settings: HttpSettings,
    http: reqwest::Client,
}

impl Anthropic {
    pub fn new(settings: HttpSettings, http: reqwest::Client) -> Anthropic {
        Anthropic { settings, http }
    }
}

/// The request body for `req` (streamed).
pub fn body(model: &str, req: &ChatRequest) -> Value {
    let mut system = Vec::new();
    let mut turns: Vec<Value> = Vec::new();
    for m in &req.messages {
        let (role, block): (&str, Vec<Value>) = match m {
            Message::System { content } => {
                system.push(content.clone());
                continue;
            }
            Message::User { content } => ("user", vec![json!({"type": "text", "text": content})]),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let mut blocks = Vec::new();
                if !content.is_empty() {
                    blocks.push(json!({"type": "text", "text": content}));
                }
                for c in tool_calls {
                    blocks.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}));
                }
                ("assistant", blocks)
            }
            Message::Tool {
                call_id, content, ..
            } => (
                "user",
                vec![json!({"type": "tool_result", "tool_use_id": call_id, "content": content})],
            ),
        };
        // Two turns of one role in a row become one (tool results of parallel calls).
        match turns.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(content) = last["content"].as_array_mut() {
                    content.extend(block);
                }
            }
            _ => turns.push(json!({"role": role, "content": block})),
        }
    }
    let mut body = json!({
        "model": model,
        "max_tokens": req.max_tokens,
        "messages": turns,
        "stream": true,
    });
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
    }
    body
}

enum Block {
    Text,
    Tool {
        id: String,
        name: String,
        input: String,
    },
    Other,
}

/// Reads a streamed answer event by event.
#[derive(Default)]
pub struct Reader {
    text: String,
    blocks: Vec<(usize, Block)>,
    usage: Usage,
    model: String,
}

impl Reader {
    /// Takes one event; `false` once the message is complete.
    pub fn take(
        &mut self,
        event: Option<&str>,
        data: &str,
        deltas: &Deltas,
    ) -> Result<bool, ProviderError> {
        let v: Value = serde_json::from_str(data)
            .map_err(|e| ProviderError::Protocol(format!("an event is not JSON: {e}")))?;
        let kind = event.or_else(|| v["type"].as_str()).unwrap_or_default();
        match kind {
            "message_start" => {
                let m = &v["message"];
                if let Some(model) = m["model"].as_str() {
                    self.model = model.to_owned();
                }
                self.usage.input_tokens = m["usage"]["input_tokens"].as_u64().unwrap_or(0);
                self.usage.output_tokens = m["usage"]["output_tokens"].as_u64().unwrap_or(0);
            }
            "content_block_start" => {
                let index = v["index"].as_u64().unwrap_or(0) as usize;
                let b = &v["content_block"];
                let block = match b["type"].as_str() {
                    Some("text") => {
                        if let Some(t) = b["text"].as_str() {
                            self.text.push_str(t);
                            deltas.send(t);
                        }
                        Block::Text
                    }
                    Some("tool_use") => Block::Tool {
                        id: b["id"].as_str().unwrap_or_default().to_owned(),
                        name: b["name"].as_str().unwrap_or_default().to_owned(),
                        input: String::new(),
                    },
                    _ => Block::Other,
                };
                self.blocks.push((index, block));
            }
            "content_block_delta" => {
                let index = v["index"].as_u64().unwrap_or(0) as usize;
                let d = &v["delta"];
                let block = self.blocks.iter_mut().rev().find(|(i, _)| *i == index);
                match (d["type"].as_str(), block) {
                    (Some("text_delta"), _) => {
                        let t = d["text"].as_str().unwrap_or_default();
                        self.text.push_str(t);
                        deltas.send(t);
                    }
                    (Some("input_json_delta"), Some((_, Block::Tool { input, .. }))) => {
                        input.push_str(d["partial_json"].as_str().unwrap_or_default());
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(out) = v["usage"]["output_tokens"].as_u64() {
                    self.usage.output_tokens = out;
                }
                if let Some(input) = v["usage"]["input_tokens"].as_u64() {
                    self.usage.input_tokens = input;
                }
            }
            "message_stop" => return Ok(false),
            "error" => return Err(ProviderError::Protocol(v["error"].to_string())),
            _ => {}
        }
        Ok(true)
    }

    pub fn finish(self, asked: &str) -> ChatResponse {
        let tool_calls = self
            .blocks
            .into_iter()
            .filter_map(|(i, b)| match b {
                Block::Tool { id, name, input } => Some(ToolCall {
                    id: if id.is_empty() {
                        format!("toolu_{i}")
                    } else {
                        id
                    },
                    name,
                    arguments: arguments_of(input),
                }),
                _ => None,
            })
            .collect();
        ChatResponse {
            text: self.text,
            tool_calls,
            usage: self.usage,
            model: if self.model.is_empty() {
                asked.to_owned()
            } else {
                self.model
            },
        }
    }
}

#[async_trait::async_trait]
impl ChatModel for Anthropic {
    fn provider(&self) -> &str {
        "anthropic"
    }

    fn model(&self) -> &str {
        &self.settings.model
    }

    fn external(&self) -> bool {
        true
    }

    async fn chat(
        &self,
        req: &ChatRequest,
        deltas: &Deltas,
        cancel: &CancellationToken,
    ) -> Result<ChatResponse, ProviderError> {
        let s = &self.settings;
        let url = format!("{}/v1/messages", s.base_url.trim_end_matches('/'));
        bounded(s.timeout, cancel, async {
            let mut call = self
                .http
                .post(&url)
                .header("anthropic-version", VERSION)
                .json(&body(&s.model, req));
            if let Some(key) = &s.api_key {
                call = call.header("x-api-key", key);
            }
            let mut reader = Reader::default();
            send_streamed(call, s.timeout, |event| {
                reader.take(event.event.as_deref(), &event.data, deltas)
            })
            .await?;
            Ok(reader.finish(&s.model))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_answer_with_text_and_two_tool_uses() {
        let mut r = Reader::default();
        let d = Deltas::none();
        let events = [
            (
                "message_start",
                r#"{"type":"message_start","message":{"model":"claude-x","usage":{"input_tokens":200,"output_tokens":1}}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking"}}"#,
            ),
            (
                "content_block_stop",
                r#"{"type":"content_block_stop","index":0}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"stock_levels","input":{}}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"low\":"}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"true}"}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_2","name":"list_orders","input":{}}}"#,
            ),
            ("ping", r#"{"type":"ping"}"#),
            (
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":42}}"#,
            ),
        ];
        for (e, data) in events {
            assert!(r.take(Some(e), data, &d).unwrap());
        }
        assert!(
            !r.take(Some("message_stop"), r#"{"type":"message_stop"}"#, &d)
                .unwrap()
        );
        let out = r.finish("asked");
        assert_eq!(out.text, "Checking");
        assert_eq!(out.model, "claude-x");
        assert_eq!(
            out.usage,
            Usage {
                input_tokens: 200,
                output_tokens: 42
            }
        );
        assert_eq!(out.tool_calls.len(), 2);
        assert_eq!(out.tool_calls[0].arguments, json!({"low": true}));
        assert_eq!(out.tool_calls[1].arguments, json!({}));
    }

    #[test]
    fn parallel_tool_results_share_one_user_turn() {
        let req = ChatRequest {
            messages: vec![
                Message::System {
                    content: "rules".into(),
                },
                Message::User {
                    content: "q".into(),
                },
                Message::Assistant {
                    content: String::new(),
                    tool_calls: vec![
                        ToolCall {
                            id: "a".into(),
                            name: "t".into(),
                            arguments: json!({}),
                        },
                        ToolCall {
                            id: "b".into(),
                            name: "t".into(),
                            arguments: json!({}),
                        },
                    ],
                },
                Message::Tool {
                    call_id: "a".into(),
                    name: "t".into(),
                    content: "1".into(),
                },
                Message::Tool {
                    call_id: "b".into(),
                    name: "t".into(),
                    content: "2".into(),
                },
            ],
            tools: vec![],
            max_tokens: 10,
        };
        let b = body("m", &req);
        assert_eq!(b["system"], "rules");
        let turns = b["messages"].as_array().unwrap();
        assert_eq!(turns.len(), 3);
        assert_eq!(turns[2]["role"], "user");
        assert_eq!(turns[2]["content"].as_array().unwrap().len(), 2);
        assert_eq!(turns[1]["content"][0]["type"], "tool_use");
    }
}
