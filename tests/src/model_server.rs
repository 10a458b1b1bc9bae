//! A model server that replays transcripts: each request it receives (OpenAI's
//! `/v1/chat/completions` or Anthropic's `/v1/messages`) is answered with the next
//! scripted reply, streamed in that provider's own server-sent-event format; every
//! request body is kept for the test to read. The 135M model in CI cannot be trusted with
//! tool calls, so tool loops are tested against this.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One scripted reply.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Text, and tool calls as (id, name, arguments).
    Answer {
        text: String,
        calls: Vec<(String, String, Value)>,
        input_tokens: u64,
        output_tokens: u64,
    },
    /// An HTTP error status with a body.
    Status(u16),
    /// Waits this long before answering (past the provider's timeout).
    Slow(Duration, Box<Reply>),
}

impl Reply {
    pub fn text(t: &str) -> Reply {
        Reply::Answer {
            text: t.into(),
            calls: vec![],
            input_tokens: 50,
            output_tokens: 10,
        }
    }

    pub fn calls(calls: &[(&str, Value)]) -> Reply {
        Reply::Answer {
            text: String::new(),
            calls: calls
                .iter()
                .enumerate()
                .map(|(i, (n, a))| (format!("call_{i}_{n}"), (*n).to_owned(), a.clone()))
                .collect(),
            input_tokens: 200,
            output_tokens: 20,
        }
    }
}

#[derive(Default)]
struct Inner {
    replies: VecDeque<Reply>,
    requests: Vec<(String, HeaderMap, Value)>,
}

#[derive(Clone, Default)]
pub struct ModelServer {
    inner: Arc<Mutex<Inner>>,
    pub base: String,
}

impl ModelServer {
    /// Starts a server on a free loopback port that plays `replies` in order (the last
    /// one again once they run out).
    pub async fn start(replies: Vec<Reply>) -> ModelServer {
        let inner = Arc::new(Mutex::new(Inner {
            replies: replies.into(),
            requests: vec![],
        }));
        let app = Router::new()
            .route("/v1/chat/completions", post(openai))
            .route("/v1/messages", post(anthropic))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ModelServer {
            inner,
            base: format!("http://{addr}"),
        }
    }

    /// The request bodies received, with their paths and headers.
    pub fn requests(&self) -> Vec<(String, HeaderMap, Value)> {
        self.inner.lock().unwrap().requests.clone()
    }
}

fn next(inner: &Arc<Mutex<Inner>>, path: &str, headers: HeaderMap, body: Value) -> Reply {
    let mut i = inner.lock().unwrap();
    i.requests.push((path.into(), headers, body));
    if i.replies.len() > 1 {
        i.replies.pop_front().unwrap()
    } else {
        i.replies.front().cloned().unwrap_or(Reply::Status(500))
    }
}

fn sse(events: Vec<String>) -> Response {
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from(events.concat()))
        .unwrap()
}

async fn resolve(
    reply: Reply,
) -> Result<(String, Vec<(String, String, Value)>, u64, u64), Response> {
    let mut reply = reply;
    loop {
        match reply {
            Reply::Slow(d, inner) => {
                tokio::time::sleep(d).await;
                reply = *inner;
            }
            Reply::Status(code) => {
                return Err(Response::builder()
                    .status(StatusCode::from_u16(code).unwrap())
                    .body(Body::from("{\"error\":{\"message\":\"scripted failure\"}}"))
                    .unwrap());
            }
            Reply::Answer {
                text,
                calls,
                input_tokens,
                output_tokens,
            } => return Ok((text, calls, input_tokens, output_tokens)),
        }
    }
}

async fn openai(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap_or_default();
    let reply = next(&inner, "/v1/chat/completions", headers, body);
    let (text, calls, input, output) = match resolve(reply).await {
        Ok(r) => r,
        Err(res) => return res,
    };
    let mut events = Vec::new();
    let chunk = |delta: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "x", "object": "chat.completion.chunk", "model": "scripted-gpt",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
        )
    };
    events.push(chunk(json!({"role": "assistant", "content": ""})));
    // Text in two pieces, tool calls with their arguments split in two.
    let mid = text
        .char_indices()
        .nth(text.chars().count() / 2)
        .map_or(0, |(i, _)| i);
    for piece in [&text[..mid], &text[mid..]] {
        if !piece.is_empty() {
            events.push(chunk(json!({"content": piece})));
        }
    }
    for (i, (id, name, args)) in calls.iter().enumerate() {
        let a = args.to_string();
        let cut = a.len() / 2;
        events.push(chunk(
            json!({"tool_calls": [{"index": i, "id": id, "type": "function",
            "function": {"name": name, "arguments": &a[..cut]}}]}),
        ));
        events.push(chunk(
            json!({"tool_calls": [{"index": i, "function": {"arguments": &a[cut..]}}]}),
        ));
    }
    events.push(format!(
        "data: {}\n\n",
        json!({"choices": [], "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}})
    ));
    events.push("data: [DONE]\n\n".into());
    sse(events)
}

async fn anthropic(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap_or_default();
    let reply = next(&inner, "/v1/messages", headers, body);
    let (text, calls, input, output) = match resolve(reply).await {
        Ok(r) => r,
        Err(res) => return res,
    };
    let ev = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut events = vec![ev(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
               "model": "scripted-claude", "content": [], "usage": {"input_tokens": input, "output_tokens": 1}}}),
    )];
    let mut index = 0;
    if !text.is_empty() {
        events.push(ev("content_block_start", json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})));
        for piece in text.split_inclusive(' ') {
            events.push(ev("content_block_delta", json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}})));
        }
        events.push(ev(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    for (id, name, args) in &calls {
        events.push(ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": index,
            "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
        ));
        let a = args.to_string();
        let cut = a.len() / 2;
        for part in [&a[..cut], &a[cut..]] {
            events.push(ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": part}}),
            ));
        }
        events.push(ev(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    events.push(ev("ping", json!({"type": "ping"})));
    events.push(ev(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": if calls.is_empty() { "end_turn" } else { "tool_use" }},
               "usage": {"output_tokens": output}}),
    ));
    events.push(ev("message_stop", json!({"type": "message_stop"})));
    sse(events)
}
