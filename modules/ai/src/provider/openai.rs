//! An OpenAI-compatible chat-completions server: OpenAI itself, or any server speaking
//! its format at another base URL (Ollama, vLLM, llama.cpp's `llama-server`).
//! `POST {base_url}/chat/completions`, streamed (`stream_options.include_usage` for the
//! token counts in the last chunk).

use super::{
    ChatModel, ChatRequest, ChatResponse, Deltas, HttpSettings, Message, ProviderError, ToolCall,
    Usage, arguments_of, bounded, send_streamed,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub struct OpenAi {
    settings: HttpSettings,
    http: reqwest::Client,
}

impl OpenAi {
    pub fn new(settings: HttpSettings, http: reqwest::Client) -> OpenAi {
        OpenAi { settings, http }
    }
}

/// The request body for `req` (streamed).
pub fn body(model: &str, req: &ChatRequest) -> Value {
    let messages: Vec<Value> = req
        .messages
        .iter()
        .map(|m| match m {
            Message::System { content } => json!({"role": "system", "content": content}),
            Message::User { content } => json!({"role": "user", "content": content}),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let mut v = json!({"role": "assistant", "content": content});
                if !tool_calls.is_empty() {
                    v["tool_calls"] = tool_calls
                        .iter()
                        .map(|c| {
                            json!({
                                "id": c.id,
                                "type": "function",
                                "function": {"name": c.name, "arguments": c.arguments.to_string()},
                            })
                        })
                        .collect();
                }
                v
            }
            Message::Tool {
                call_id, content, ..
            } => json!({"role": "tool", "tool_call_id": call_id, "content": content}),
        })
        .collect();
    let mut body = json!({
        "model": model,
        "messages": messages,
        "max_tokens": req.max_tokens,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.parameters,
                }})
            })
            .collect();
    }
    body
}

/// Tool calls being streamed, by index.
#[derive(Default)]
struct Partial {
    id: String,
    name: String,
    arguments: String,
}

/// Reads a streamed answer: text deltas, tool-call fragments by index, usage at the end.
#[derive(Default)]
pub struct Reader {
    text: String,
    calls: Vec<Partial>,
    usage: Usage,
    model: String,
}

impl Reader {
    /// Takes one `data:` payload; `false` once the stream says it is done.
    pub fn take(&mut self, data: &str, deltas: &Deltas) -> Result<bool, ProviderError> {
        if data.trim() == "[DONE]" {
            return Ok(false);
        }
        let v: Value = serde_json::from_str(data)
            .map_err(|e| ProviderError::Protocol(format!("a chunk is not JSON: {e}")))?;
        if let Some(err) = v.get("error") {
            return Err(ProviderError::Protocol(err.to_string()));
        }
        if let Some(m) = v["model"].as_str() {
            self.model = m.to_owned();
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.usage = Usage {
                input_tokens: u["prompt_tokens"].as_u64().unwrap_or(0),
                output_tokens: u["completion_tokens"].as_u64().unwrap_or(0),
            };
        }
        for choice in v["choices"].as_array().into_iter().flatten() {
            let delta = &choice["delta"];
            if let Some(text) = delta["content"].as_str() {
                self.text.push_str(text);
                deltas.send(text);
            }
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let index = call["index"].as_u64().unwrap_or(0) as usize;
                if index > 64 {
                    return Err(ProviderError::Protocol("too many tool calls".into()));
                }
                while self.calls.len() <= index {
                    self.calls.push(Partial::default());
                }
                let p = &mut self.calls[index];
                if let Some(id) = call["id"].as_str() {
                    p.id = id.to_owned();
                }
                if let Some(name) = call["function"]["name"].as_str() {
                    p.name.push_str(name);
                }
                if let Some(args) = call["function"]["arguments"].as_str() {
                    p.arguments.push_str(args);
                }
            }
        }
        Ok(true)
    }

    pub fn finish(self, asked: &str) -> Result<ChatResponse, ProviderError> {
        let mut tool_calls = Vec::new();
        for (i, p) in self.calls.into_iter().enumerate() {
            if p.name.is_empty() {
                continue;
            }
            let arguments = arguments_of(p.arguments);
            tool_calls.push(ToolCall {
                id: if p.id.is_empty() {
                    format!("call_{i}")
                } else {
                    p.id
                },
                name: p.name,
                arguments,
            });
        }
        Ok(ChatResponse {
            text: self.text,
            tool_calls,
            usage: self.usage,
            model: if self.model.is_empty() {
                asked.to_owned()
            } else {
                self.model
            },
        })
    }
}

#[async_trait::async_trait]
impl ChatModel for OpenAi {
    fn provider(&self) -> &str {
        "openai"
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
        let url = format!("{}/chat/completions", s.base_url.trim_end_matches('/'));
        bounded(s.timeout, cancel, async {
            let mut call = self.http.post(&url).json(&body(&s.model, req));
            if let Some(key) = &s.api_key {
                call = call.bearer_auth(key);
            }
            let mut reader = Reader::default();
            send_streamed(call, s.timeout, |event| reader.take(&event.data, deltas)).await?;
            reader.finish(&s.model)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ToolSpec;

    #[test]
    fn a_streamed_answer_with_parallel_tool_calls_is_put_together() {
        let mut r = Reader::default();
        let d = Deltas::none();
        for chunk in [
            r#"{"model":"gpt-4o-mini","choices":[{"delta":{"role":"assistant","content":"Let me "}}]}"#,
            r#"{"choices":[{"delta":{"content":"check."}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"stock_levels","arguments":""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"c2","type":"function","function":{"name":"list_orders","arguments":"{\"late"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"query\":\"1.67\"}"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"function":{"arguments":"\":true}"}}]}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":120,"completion_tokens":30,"total_tokens":150}}"#,
        ] {
            assert!(r.take(chunk, &d).unwrap());
        }
        assert!(!r.take("[DONE]", &d).unwrap());
        let out = r.finish("asked").unwrap();
        assert_eq!(out.text, "Let me check.");
        assert_eq!(out.model, "gpt-4o-mini");
        assert_eq!(
            out.usage,
            Usage {
                input_tokens: 120,
                output_tokens: 30
            }
        );
        assert_eq!(out.tool_calls.len(), 2);
        assert_eq!(out.tool_calls[0].arguments, json!({"query": "1.67"}));
        assert_eq!(out.tool_calls[1].name, "list_orders");
        assert_eq!(out.tool_calls[1].arguments, json!({"late": true}));
    }

    #[test]
    fn the_body_carries_tools_and_tool_results() {
        let req = ChatRequest {
            messages: vec![
                Message::System {
                    content: "s".into(),
                },
                Message::User {
                    content: "q".into(),
                },
                Message::Assistant {
                    content: String::new(),
                    tool_calls: vec![ToolCall {
                        id: "c1".into(),
                        name: "t".into(),
                        arguments: json!({"a": 1}),
                    }],
                },
                Message::Tool {
                    call_id: "c1".into(),
                    name: "t".into(),
                    content: "{}".into(),
                },
            ],
            tools: vec![ToolSpec {
                name: "t".into(),
                description: "d".into(),
                parameters: json!({"type": "object"}),
            }],
            max_tokens: 100,
        };
        let b = body("m", &req);
        assert_eq!(
            b["messages"][2]["tool_calls"][0]["function"]["arguments"],
            "{\"a\":1}"
        );
        assert_eq!(b["messages"][3]["role"], "tool");
        assert_eq!(b["messages"][3]["tool_call_id"], "c1");
        assert_eq!(b["tools"][0]["function"]["name"], "t");
        assert_eq!(b["stream_options"]["include_usage"], true);
    }
}
