//! `ils-assistant-stream`: many assistant answers streaming at once, for `bench/assistant`.
//! Every figure is measured here; nothing is assumed.
//!
//! As one person (a practice's admin: conversations are per person, so N conversations of
//! one person), it first starts N conversations (`askAssistant` over HTTP, a few at a
//! time), opens N WebSockets (graphql-transport-ws, `connection_init` with the Bearer
//! token), each subscribed to `assistantReply` of its own conversation, waits `--settle-ms`
//! (the protocol has no acknowledgement of a subscription), then asks all N questions at
//! once (N concurrent HTTP requests). Per conversation it records the time from the asks'
//! start to the first chunk and to the `done` chunk, the number of chunks, whether the
//! concatenated text equals the stored answer the mutation returned (and the `done`
//! chunk's message is that answer), and whether a chunk of another conversation arrived.
//! It prints p50/p95/max of the times, the failures, and the server's CPU seconds (user +
//! system, `/proc/<pid>/stat`) and RSS (`VmRSS`, sampled every 20 ms) over the burst.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const USAGE: &str = "usage:
  ils-assistant-stream --url http://127.0.0.1:PORT --email PRACTICE_ADMIN [--password P]
                       --pid SERVER_PID [--conversations 100] [--settle-ms 1000]
                       [--timeout-s 60] [--setup-at-once 20] [--hz 100]
--password defaults to the bench seed's (bench-password-2026); --hz is the kernel's clock
ticks per second (getconf CLK_TCK).";

const ASK: &str = "mutation($m: String!, $c: ID) { askAssistant(input: { message: $m, conversationId: $c }) { conversation { id } answer { id content provider } } }";
const REPLY: &str = "subscription($c: ID!) { assistantReply(conversationId: $c) { delta restart done message { id } conversation { id } } }";

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ils-assistant-stream: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("ils-assistant-stream: some conversations failed (see above)");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("ils-assistant-stream: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn parse(args: Vec<String>) -> Result<HashMap<String, String>> {
    let mut values = HashMap::new();
    let mut it = args.into_iter();
    while let Some(name) = it.next() {
        if name == "-h" || name == "--help" {
            return Err(USAGE.into());
        }
        let key = name
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected {name:?}\n{USAGE}"))?;
        let value = it
            .next()
            .ok_or_else(|| format!("--{key} needs a value\n{USAGE}"))?;
        values.insert(key.to_owned(), value);
    }
    Ok(values)
}

fn number(values: &HashMap<String, String>, key: &str, default: u64) -> Result<u64> {
    match values.get(key) {
        Some(v) => v
            .parse()
            .map_err(|_| format!("--{key}: not a number: {v}").into()),
        None => Ok(default),
    }
}

/// The server's HTTP side.
struct Api {
    http: reqwest::Client,
    graphql: String,
    ws: String,
}

impl Api {
    fn new(base: &str) -> Api {
        let base = base.trim_end_matches('/');
        Api {
            http: reqwest::Client::new(),
            graphql: format!("{base}/graphql"),
            ws: format!("{}/graphql/ws", base.replacen("http", "ws", 1)),
        }
    }

    async fn run(&self, token: Option<&str>, query: &str, variables: Value) -> Result<Value> {
        let mut req = self
            .http
            .post(&self.graphql)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        if !status.is_success() || body.get("errors").is_some_and(|e| !e.is_null()) {
            return Err(format!("HTTP {status}: {}", body).into());
        }
        Ok(body["data"].clone())
    }

    async fn log_in(&self, email: &str, password: &str) -> Result<String> {
        let data = self
            .run(
                None,
                "mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }",
                json!({ "i": { "email": email, "password": password } }),
            )
            .await?;
        data["logIn"]["accessToken"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no access token for {email}").into())
    }

    /// Asks; the conversation's ID, the answer's ID and its text.
    async fn ask(
        &self,
        token: &str,
        message: &str,
        conversation: Option<&str>,
    ) -> Result<(String, String, String)> {
        let data = self
            .run(Some(token), ASK, json!({ "m": message, "c": conversation }))
            .await?;
        let a = &data["askAssistant"];
        let text = |v: &Value| v.as_str().map(str::to_owned).ok_or("no value");
        Ok((
            text(&a["conversation"]["id"])?,
            text(&a["answer"]["id"])?,
            text(&a["answer"]["content"])?,
        ))
    }
}

/// Opens a socket, initialises it with `token` and subscribes to `assistantReply` of
/// `conversation`.
async fn open(api: &Api, token: &str, conversation: &str) -> Result<Ws> {
    let mut req = api.ws.as_str().into_client_request()?;
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    ws.send(Message::text(init.to_string())).await?;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .map_err(|_| "no connection_ack within 30 s")?;
        match msg {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str())?;
                match v["type"].as_str() {
                    Some("connection_ack") => break,
                    Some("ping") => ws.send(Message::text(r#"{"type":"pong"}"#)).await?,
                    _ => return Err(format!("expected connection_ack, got {v}").into()),
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => return Err("closed before connection_ack".into()),
        }
    }
    let subscribe = json!({ "id": "reply", "type": "subscribe",
        "payload": { "query": REPLY, "variables": { "c": conversation } } });
    ws.send(Message::text(subscribe.to_string())).await?;
    Ok(ws)
}

/// What a socket's reader reports.
enum Seen {
    Chunk {
        at: Instant,
        conversation: String,
        delta: String,
        restart: bool,
        done: bool,
        message: Option<String>,
    },
    /// An error message, a completion or the socket's end.
    Ended(String),
}

fn read_socket(i: usize, mut ws: Ws, out: mpsc::UnboundedSender<(usize, Seen)>) {
    tokio::spawn(async move {
        let why = loop {
            let Some(msg) = ws.next().await else {
                break "the socket ended".to_owned();
            };
            let at = Instant::now();
            match msg {
                Ok(Message::Text(t)) => {
                    let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else {
                        break format!("not JSON: {t}");
                    };
                    match v["type"].as_str() {
                        Some("next") => {
                            let c = &v["payload"]["data"]["assistantReply"];
                            if c.is_null() {
                                break format!("no chunk in {v}");
                            }
                            let _ = out.send((
                                i,
                                Seen::Chunk {
                                    at,
                                    conversation: c["conversation"]["id"]
                                        .as_str()
                                        .unwrap_or("")
                                        .to_owned(),
                                    delta: c["delta"].as_str().unwrap_or("").to_owned(),
                                    restart: c["restart"] == true,
                                    done: c["done"] == true,
                                    message: c["message"]["id"].as_str().map(str::to_owned),
                                },
                            ));
                        }
                        Some("ping") => {
                            if ws.send(Message::text(r#"{"type":"pong"}"#)).await.is_err() {
                                break "pong failed".to_owned();
                            }
                        }
                        Some("pong" | "ka") => {}
                        _ => break format!("{v}"),
                    }
                }
                Ok(Message::Close(frame)) => break format!("closed: {frame:?}"),
                Err(e) => break e.to_string(),
                Ok(_) => {}
            }
        };
        let _ = out.send((i, Seen::Ended(why)));
    });
}

/// One conversation's figures.
#[derive(Default)]
struct Follow {
    first: Option<Duration>,
    done: Option<Duration>,
    chunks: usize,
    text: String,
    restarts: usize,
    foreign: usize,
    message: Option<String>,
    ended: Option<String>,
}

fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command's closing parenthesis; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |n: usize| {
        f.get(n - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(get(14) + get(15))
}

fn rss_kb(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status").into())
}

async fn run(args: Vec<String>) -> Result<bool> {
    let values = parse(args)?;
    let text = |key: &str, default: Option<&str>| -> Result<String> {
        match (values.get(key), default) {
            (Some(v), _) => Ok(v.clone()),
            (None, Some(d)) => Ok(d.to_owned()),
            (None, None) => Err(format!("--{key} is required\n{USAGE}").into()),
        }
    };
    let api = std::sync::Arc::new(Api::new(&text("url", None)?));
    let email = text("email", None)?;
    let password = text("password", Some("bench-password-2026"))?;
    let pid: u32 = text("pid", None)?
        .parse()
        .map_err(|_| "--pid: not a process id")?;
    let n = number(&values, "conversations", 100)?.max(1) as usize;
    let settle = Duration::from_millis(number(&values, "settle-ms", 1000)?);
    let timeout = Duration::from_secs(number(&values, "timeout-s", 60)?);
    let setup_at_once = number(&values, "setup-at-once", 20)?.max(1) as usize;
    let hz = number(&values, "hz", 100)?.max(1) as f64;
    let token = api.log_in(&email, &password).await?;
    let tag = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
    );

    // N conversations, a few at a time (each answer streams at the script's pace).
    let started = Instant::now();
    let mut conversations = vec![String::new(); n];
    {
        let api = &*api;
        let token = token.as_str();
        let tag = tag.as_str();
        let mut setups = futures_util::stream::iter(0..n)
            .map(|i| async move {
                let r = api
                    .ask(token, &format!("Stream setup {tag} {i}: hello"), None)
                    .await;
                (i, r)
            })
            .buffer_unordered(setup_at_once);
        while let Some((i, r)) = setups.next().await {
            conversations[i] = r.map_err(|e| format!("starting conversation {i}: {e}"))?.0;
        }
    }
    println!(
        "{n} conversations started in {:.1} s (one person: {email})",
        started.elapsed().as_secs_f64()
    );

    // N sockets, each following its own conversation.
    let (out, mut seen) = mpsc::unbounded_channel::<(usize, Seen)>();
    let started = Instant::now();
    {
        let api = &*api;
        let token = token.as_str();
        let conversations = &conversations;
        let mut opens = futures_util::stream::iter(0..n)
            .map(|i| async move { (i, open(api, token, &conversations[i]).await) })
            .buffer_unordered(50);
        while let Some((i, r)) = opens.next().await {
            let ws = r.map_err(|e| format!("socket {i}: {e}"))?;
            read_socket(i, ws, out.clone());
        }
    }
    drop(out);
    println!(
        "{n} sockets subscribed in {:.2} s; settling {} ms",
        started.elapsed().as_secs_f64(),
        settle.as_millis()
    );
    tokio::time::sleep(settle).await;
    // Nothing may have arrived yet: no question is being answered.
    if let Ok((i, s)) = seen.try_recv() {
        return Err(match s {
            Seen::Ended(why) => format!("socket {i} ended before the asks: {why}"),
            Seen::Chunk { .. } => format!("socket {i} received a chunk before the asks"),
        }
        .into());
    }

    // The server's memory, sampled while the answers stream.
    let rss_before = rss_kb(pid)?;
    let cpu_before = cpu_ticks(pid)?;
    let sampling = tokio_util::sync::CancellationToken::new();
    let sampler = {
        let stop = sampling.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            loop {
                if let Ok(kb) = rss_kb(pid) {
                    peak = peak.max(kb);
                }
                tokio::select! {
                    _ = stop.cancelled() => return peak,
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
            }
        })
    };

    // All N questions at once.
    let t0 = Instant::now();
    let asks: Vec<_> = (0..n)
        .map(|i| {
            let api = api.clone();
            let token = token.clone();
            let conversation = conversations[i].clone();
            let message = format!("Stream {tag} {i}: which labs am I connected to?");
            tokio::spawn(async move {
                let r = api.ask(&token, &message, Some(&conversation)).await;
                (r, t0.elapsed())
            })
        })
        .collect();
    let mut follows: Vec<Follow> = (0..n).map(|_| Follow::default()).collect();
    let deadline = tokio::time::Instant::from_std(t0 + timeout);
    let mut finished = 0usize;
    while finished < n {
        match tokio::time::timeout_at(deadline, seen.recv()).await {
            Ok(Some((i, s))) => {
                let f = &mut follows[i];
                match s {
                    Seen::Chunk {
                        at,
                        conversation,
                        delta,
                        restart,
                        done,
                        message,
                    } => {
                        if conversation != conversations[i] {
                            f.foreign += 1;
                            continue;
                        }
                        if f.done.is_some() {
                            continue;
                        }
                        if restart {
                            f.restarts += 1;
                            f.text.clear();
                        }
                        if done {
                            f.done = Some(at.saturating_duration_since(t0));
                            f.message = message;
                            finished += 1;
                        } else {
                            f.first.get_or_insert(at.saturating_duration_since(t0));
                            f.chunks += 1;
                            f.text.push_str(&delta);
                        }
                    }
                    Seen::Ended(why) => {
                        if f.done.is_none() && f.ended.is_none() {
                            f.ended = Some(why);
                            finished += 1;
                        }
                    }
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    let mut answers = Vec::with_capacity(n);
    for a in asks {
        answers.push(a.await?);
    }
    let wall = t0.elapsed();
    let cpu_after = cpu_ticks(pid)?;
    sampling.cancel();
    let rss_peak = sampler.await?;
    let rss_after = rss_kb(pid)?;

    // Checks, per conversation.
    let mut failed = 0usize;
    let mut mismatched = 0usize;
    let mut missing = 0usize;
    let mut ask_errors = 0usize;
    let mut foreign = 0usize;
    let mut restarts = 0usize;
    let (mut firsts, mut dones, mut ask_times, mut chunks) = (vec![], vec![], vec![], vec![]);
    for (i, (f, (answer, took))) in follows.iter().zip(&answers).enumerate() {
        foreign += f.foreign;
        restarts += f.restarts;
        ask_times.push(*took);
        let mut problem = None;
        match answer {
            Err(e) => {
                ask_errors += 1;
                problem = Some(format!("ask failed: {e}"));
            }
            Ok((_, id, content)) => match (f.done, f.first) {
                (Some(done), Some(first)) => {
                    firsts.push(first);
                    dones.push(done);
                    chunks.push(f.chunks);
                    if f.text != *content || f.message.as_deref() != Some(id.as_str()) {
                        mismatched += 1;
                        problem = Some(format!(
                            "streamed {:?} (message {:?}), stored {content:?} ({id})",
                            f.text, f.message
                        ));
                    }
                }
                _ => {
                    missing += 1;
                    problem = Some(format!(
                        "no complete stream ({} chunks; {})",
                        f.chunks,
                        f.ended.as_deref().unwrap_or("timed out")
                    ));
                }
            },
        }
        if f.foreign > 0 && problem.is_none() {
            problem = Some(format!("{} chunks of other conversations", f.foreign));
        }
        if let Some(p) = problem {
            failed += 1;
            if failed <= 5 {
                println!("conversation {i}: {p}");
            }
        }
    }
    firsts.sort();
    dones.sort();
    ask_times.sort();
    let cpu_s = cpu_after.saturating_sub(cpu_before) as f64 / hz;
    let words = answers
        .iter()
        .find_map(|(a, _)| a.as_ref().ok())
        .map_or(0, |(_, _, c)| c.split_inclusive(' ').count());
    println!(
        "STREAM conversations={n} ok={} failed={failed} mismatched={mismatched} missing={missing} \
         ask_errors={ask_errors} foreign_chunks={foreign} restarts={restarts} words={words} \
         chunks_min={} chunks_max={} \
         first_p50_ms={:.1} first_p95_ms={:.1} first_max_ms={:.1} \
         done_p50_ms={:.1} done_p95_ms={:.1} done_max_ms={:.1} \
         ask_p50_ms={:.1} ask_max_ms={:.1} wall_s={:.2} cpu_s={cpu_s:.2} \
         rss_before_kb={rss_before} rss_peak_kb={rss_peak} rss_after_kb={rss_after}",
        n - failed,
        chunks.iter().min().copied().unwrap_or(0),
        chunks.iter().max().copied().unwrap_or(0),
        quantile_ms(&firsts, 0.50),
        quantile_ms(&firsts, 0.95),
        quantile_ms(&firsts, 1.0),
        quantile_ms(&dones, 0.50),
        quantile_ms(&dones, 0.95),
        quantile_ms(&dones, 1.0),
        quantile_ms(&ask_times, 0.50),
        quantile_ms(&ask_times, 1.0),
        wall.as_secs_f64(),
    );
    Ok(failed == 0)
}
