//! The assistant against a real language model: llama.cpp's `llama-server` with
//! SmolLM2-135M-Instruct, which serves both OpenAI's `/v1/chat/completions` and
//! Anthropic's `/v1/messages`. `.ci/run` builds and starts it and sets ILS_TEST_LLM_URL,
//! ILS_TEST_LLM_MODEL and ILS_REQUIRE_LLM=1; without them these tests say they did not
//! run. The 135M model cannot be trusted with tools, so the tool loops are tested against
//! scripted transcripts (`assistant.rs`); here: an answer, a streamed answer, usage and
//! cost recorded, and a timeout falling back to the built-in assistant.

use ils_tests::ws::{self, TRANSPORT_WS};
use ils_tests::{TestServer, email};
use serde_json::json;

const ASK: &str = "mutation($m: String!, $c: ID) { askAssistant(input: { message: $m, conversationId: $c }) {
    conversation { id } answer { id content provider model inputTokens outputTokens cost { amount } } } }";

fn llm() -> Option<(String, String)> {
    match (
        std::env::var("ILS_TEST_LLM_URL"),
        std::env::var("ILS_TEST_LLM_MODEL"),
    ) {
        (Ok(url), Ok(model)) => Some((url, model)),
        _ => {
            assert!(
                std::env::var("ILS_REQUIRE_LLM").is_err(),
                "ILS_REQUIRE_LLM is set but ILS_TEST_LLM_URL / ILS_TEST_LLM_MODEL are not"
            );
            eprintln!("local model tests not run: no ILS_TEST_LLM_URL (llama-server)");
            None
        }
    }
}

/// A server whose only model is the local one, in `kind`'s format, priced so its calls
/// cost something.
async fn server(kind: &str, url: &str, model: &str, timeout_ms: u64) -> TestServer {
    let base = match kind {
        "openai" => format!("{url}/v1"),
        _ => url.to_owned(),
    };
    let providers = format!("{kind}:{model};base_url={base};timeout_ms={timeout_ms}");
    let price = format!("{model}=100/200");
    TestServer::start_with(move |c| {
        c.ai_providers = providers;
        c.ai_prices = vec![price];
        // A 135M model may ramble to any length; on a busy CI machine a long answer
        // outlasts the test client's timeout.
        c.ai_max_output_tokens = 48;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_formats_answer_stream_and_are_priced() {
    let Some((url, model)) = llm() else { return };
    for kind in ["openai", "anthropic"] {
        let s = server(kind, &url, &model, 120_000).await;
        let a = s.sign_up("Local Model Optics", "ECP", &email("llm")).await;
        let first = s
            .ok(
                &a.auth(),
                ASK,
                json!({ "m": "Say hello to the optician in one short sentence." }),
            )
            .await["askAssistant"]
            .clone();
        let answer = &first["answer"];
        assert_eq!(answer["provider"], kind, "{first}");
        assert!(
            !answer["content"].as_str().unwrap().trim().is_empty(),
            "{first}"
        );
        let input = answer["inputTokens"].as_i64().unwrap();
        let output = answer["outputTokens"].as_i64().unwrap();
        assert!(input > 0 && output > 0, "{kind}: usage reported: {first}");
        // 100 and 200 USD per million tokens.
        let cost: f64 = answer["cost"]["amount"].as_str().unwrap().parse().unwrap();
        let expected = (input * 100 + output * 200) as f64 / 1e6;
        assert!(
            (cost - expected).abs() < 1e-6,
            "{kind}: {cost} vs {expected}"
        );
        let usage = s
            .ok(
                &a.auth(),
                "{ aiUsage { calls lines { provider inputTokens outputTokens } } }",
                json!({}),
            )
            .await;
        assert_eq!(usage["aiUsage"]["calls"], 1, "{usage}");
        assert_eq!(usage["aiUsage"]["lines"][0]["inputTokens"], input);

        // Streamed: the follower's pieces make the stored answer.
        let conv = first["conversation"]["id"].as_str().unwrap().to_owned();
        let mut socket = ws::connect(&s, TRANSPORT_WS).await;
        ws::init(&mut socket, &a.auth()).await;
        ws::subscribe(
            &mut socket,
            "reply",
            "subscription($c: ID!) { assistantReply(conversationId: $c) { delta restart done message { content } } }",
            json!({ "c": conv }),
        )
        .await;
        let vars = json!({ "m": "Name one colour of spectacle frames.", "c": conv });
        let auth = a.auth();
        let ask = s.ok(&auth, ASK, vars);
        let follow = async {
            let mut text = String::new();
            let mut pieces = 0;
            loop {
                let msg = ws::recv_json(&mut socket).await;
                let chunk = &msg["payload"]["data"]["assistantReply"];
                if chunk["restart"] == true {
                    text.clear();
                }
                if chunk["done"] == true {
                    return (text, pieces, chunk["message"]["content"].clone());
                }
                text.push_str(chunk["delta"].as_str().unwrap());
                pieces += 1;
            }
        };
        let (asked, (text, pieces, stored)) = tokio::join!(ask, follow);
        assert_eq!(stored, asked["askAssistant"]["answer"]["content"]);
        assert_eq!(text, stored.as_str().unwrap(), "{kind}");
        assert!(pieces > 1, "{kind}: streamed in pieces ({pieces})");
        s.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_falls_back_to_the_builtin_assistant() {
    let Some((url, model)) = llm() else { return };
    // 1 ms: the model cannot answer in time.
    let s = server("openai", &url, &model, 1).await;
    let a = s.sign_up("Impatient Optics", "ECP", &email("llm")).await;
    let out = s
        .ok(
            &a.auth(),
            ASK,
            json!({ "m": "Write a haiku about progressive lenses." }),
        )
        .await["askAssistant"]
        .clone();
    assert_eq!(out["answer"]["provider"], "builtin", "{out}");
    assert_eq!(out["answer"]["cost"]["amount"], "0");
    let providers = s
        .ok(
            &a.auth(),
            "{ aiProviders { provider status lastError } }",
            json!({}),
        )
        .await;
    let p = &providers["aiProviders"][0];
    assert_eq!(p["provider"], "openai");
    assert_eq!(p["status"], "FAILING", "{providers}");
    assert!(
        p["lastError"].as_str().unwrap().contains("timed out"),
        "{providers}"
    );
    s.finish().await;
}
