//! `ils-fanout`: WebSocket figures of a running ILS server, for `bench/run`. Every figure is
//! measured here; nothing is assumed.
//!
//! `ils-fanout fanout`: opens N sockets (graphql-transport-ws) as a practice's admin, each
//! subscribed to `orderUpdated` of the practice's newest IN_PRODUCTION order. A socket
//! counts as subscribed when the subscription's first message (the order's state now)
//! has arrived. Then, K times, the order's lab moves the order to its next production
//! stage (`moveOrder`, over HTTP) and every socket's delivery of that change is timed from
//! just before the mutation is sent. Prints p50, p99 and max over all deliveries, and how
//! many were missed (not delivered within the timeout). The first W moves (`--warmup`, 1
//! by default) are delivered and printed the same way but left out of the figures: they
//! are the first `moveOrder`s and the first events sent out by this server process, which
//! pay its cold start.
//!
//! `ils-fanout idle`: reads the server's VmRSS (`/proc/<pid>/status`), opens M sockets
//! (connection_init and one `orderUpdated` subscription each, waiting for its first
//! message), waits a moment, reads VmRSS again and prints KB per socket.
//!
//! The lab logs in by the bench seed's convention (`Lab 7` is admin@lab-7.bench.example,
//! with the same password) unless `--lab-email` names it.

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
  ils-fanout fanout --url http://127.0.0.1:PORT --email PRACTICE_ADMIN [--password P]
                    [--lab-email LAB_ADMIN] [--sockets 1000] [--events 20] [--gap-ms 250]
                    [--timeout-s 15] [--connect 200] [--warmup 1]
  ils-fanout idle   --url http://127.0.0.1:PORT --email PRACTICE_ADMIN [--password P]
                    --pid SERVER_PID [--sockets 10000] [--settle-s 3] [--connect 200]
--password defaults to the bench seed's (bench-password-2026); --connect is how many
sockets are being opened at once.";

const SUBSCRIPTION: &str = "subscription($id: ID!) { orderUpdated(id: $id) { status version } }";

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ils-fanout: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ils-fanout: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The command line: a mode, then `--name value` pairs.
struct Args {
    mode: String,
    values: HashMap<String, String>,
}

impl Args {
    fn parse(args: Vec<String>) -> Result<Args> {
        let mut it = args.into_iter();
        let mode = it.next().ok_or(USAGE)?;
        let mut values = HashMap::new();
        while let Some(name) = it.next() {
            let key = name
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected {name:?}\n{USAGE}"))?;
            let value = it
                .next()
                .ok_or_else(|| format!("--{key} needs a value\n{USAGE}"))?;
            values.insert(key.to_owned(), value);
        }
        Ok(Args { mode, values })
    }

    fn text(&self, key: &str, default: Option<&str>) -> Result<String> {
        match (self.values.get(key), default) {
            (Some(v), _) => Ok(v.clone()),
            (None, Some(d)) => Ok(d.to_owned()),
            (None, None) => Err(format!("--{key} is required\n{USAGE}").into()),
        }
    }

    fn number(&self, key: &str, default: u64) -> Result<u64> {
        match self.values.get(key) {
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{key}: not a number: {v}").into()),
            None => Ok(default),
        }
    }
}

async fn run(args: Vec<String>) -> Result<()> {
    let args = Args::parse(args)?;
    let url = args.text("url", None)?;
    let email = args.text("email", None)?;
    let password = args.text("password", Some("bench-password-2026"))?;
    let connect = args.number("connect", 200)?.max(1) as usize;
    let api = Api::new(&url);
    let practice = api.log_in(&email, &password).await?;
    let order = api.newest_in_production(&practice).await?;
    match args.mode.as_str() {
        "fanout" => {
            let lab_email = match args.values.get("lab-email") {
                Some(e) => e.clone(),
                None => format!(
                    "admin@{}.bench.example",
                    order.lab_name.to_lowercase().replace(' ', "-")
                ),
            };
            let lab = api.log_in(&lab_email, &password).await?;
            fanout(
                &api,
                &practice,
                &lab,
                order,
                args.number("sockets", 1_000)? as usize,
                args.number("events", 20)? as usize,
                args.number("warmup", 1)? as usize,
                Duration::from_millis(args.number("gap-ms", 250)?),
                Duration::from_secs(args.number("timeout-s", 15)?),
                connect,
            )
            .await
        }
        "idle" => {
            idle(
                &api,
                &practice,
                &order,
                args.text("pid", None)?
                    .parse()
                    .map_err(|_| "--pid: not a process id")?,
                args.number("sockets", 10_000)? as usize,
                Duration::from_secs(args.number("settle-s", 3)?),
                connect,
            )
            .await
        }
        other => Err(format!("unknown mode {other:?}\n{USAGE}").into()),
    }
}

/// The server's HTTP side.
struct Api {
    http: reqwest::Client,
    graphql: String,
    ws: String,
}

/// The order the sockets follow.
struct Order {
    id: String,
    version: i64,
    stage: String,
    lab_name: String,
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

    /// One operation; its `data`, or an error carrying the response's errors.
    async fn run(&self, token: Option<&str>, query: &str, variables: Value) -> Result<Value> {
        let mut req = self
            .http
            .post(&self.graphql)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let body: Value = req.send().await?.json().await?;
        if body.get("errors").is_some_and(|e| !e.is_null()) {
            return Err(format!("{query}: {}", body["errors"]).into());
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

    async fn newest_in_production(&self, token: &str) -> Result<Order> {
        let data = self
            .run(
                Some(token),
                "{ orders(filter: { statuses: [IN_PRODUCTION] }, last: 1) { nodes { id version productionStage labName } } }",
                json!({}),
            )
            .await?;
        let node = &data["orders"]["nodes"][0];
        Ok(Order {
            id: node["id"]
                .as_str()
                .ok_or("the practice has no IN_PRODUCTION order")?
                .to_owned(),
            version: node["version"].as_i64().ok_or("no version")?,
            stage: node["productionStage"].as_str().unwrap_or("").to_owned(),
            lab_name: node["labName"].as_str().unwrap_or("").to_owned(),
        })
    }
}

/// Opens a socket, initialises it with `token` and subscribes to `orderUpdated(order)`;
/// returns it once the subscription's first message (the order now) has arrived.
async fn open(api: &Api, token: &str, order: &str) -> Result<Ws> {
    let mut req = api.ws.as_str().into_client_request()?;
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    ws.send(Message::text(init.to_string())).await?;
    expect(&mut ws, "connection_ack").await?;
    let subscribe = json!({ "id": "1", "type": "subscribe",
        "payload": { "query": SUBSCRIPTION, "variables": { "id": order } } });
    ws.send(Message::text(subscribe.to_string())).await?;
    expect(&mut ws, "next").await?;
    Ok(ws)
}

/// Reads until a message of type `wanted` (answering pings); anything else is an error.
async fn expect(ws: &mut Ws, wanted: &str) -> Result<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(60), ws.next())
            .await
            .map_err(|_| format!("no {wanted} within 60 s"))?;
        match msg {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str())?;
                match v["type"].as_str() {
                    Some(t) if t == wanted => return Ok(v),
                    Some("ping") => ws.send(Message::text(r#"{"type":"pong"}"#)).await?,
                    Some("pong" | "ka") => {}
                    _ => return Err(format!("expected {wanted}, got {v}").into()),
                }
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(format!("closed while waiting for {wanted}: {frame:?}").into());
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => return Err(format!("ended while waiting for {wanted}").into()),
        }
    }
}

/// What a socket's reader reports: (socket, version delivered, when it arrived), or
/// (socket, -1, when it closed).
type Delivery = (usize, i64, Instant);

/// Keeps reading socket `i`: reports every update's version with its arrival time,
/// answers pings, and reports the end of the socket.
fn read_socket(i: usize, mut ws: Ws, out: mpsc::UnboundedSender<Delivery>) {
    tokio::spawn(async move {
        while let Some(msg) = ws.next().await {
            let at = Instant::now();
            match msg {
                Ok(Message::Text(t)) => {
                    let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else {
                        break;
                    };
                    match v["type"].as_str() {
                        Some("next") => {
                            let version = v["payload"]["data"]["orderUpdated"]["version"]
                                .as_i64()
                                .unwrap_or(-1);
                            let _ = out.send((i, version, at));
                        }
                        Some("ping") => {
                            if ws.send(Message::text(r#"{"type":"pong"}"#)).await.is_err() {
                                break;
                            }
                        }
                        Some("pong" | "ka") => {}
                        _ => break, // error or complete: the subscription is over
                    }
                }
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = out.send((i, -1, Instant::now()));
    });
}

/// Opens `n` sockets, `connect` at a time, each with its reader; returns how many opened
/// and the first errors.
async fn open_many(
    api: &Api,
    token: &str,
    order: &str,
    n: usize,
    connect: usize,
    out: &mpsc::UnboundedSender<Delivery>,
) -> (usize, Vec<String>) {
    let mut opened = 0;
    let mut errors = Vec::new();
    let mut attempts = futures_util::stream::iter(0..n)
        .map(|i| async move { (i, open(api, token, order).await) })
        .buffer_unordered(connect);
    while let Some((i, result)) = attempts.next().await {
        match result {
            Ok(ws) => {
                read_socket(i, ws, out.clone());
                opened += 1;
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    (opened, errors)
}

/// The value at quantile `q` of sorted durations, in milliseconds.
fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

#[allow(clippy::too_many_arguments)]
async fn fanout(
    api: &Api,
    practice: &str,
    lab: &str,
    order: Order,
    sockets: usize,
    events: usize,
    warmup: usize,
    gap: Duration,
    timeout: Duration,
    connect: usize,
) -> Result<()> {
    let (out, mut deliveries) = mpsc::unbounded_channel::<Delivery>();
    let started = Instant::now();
    let (opened, errors) = open_many(api, practice, &order.id, sockets, connect, &out).await;
    if opened < sockets {
        return Err(format!(
            "{} of {sockets} sockets failed to open; first: {}",
            sockets - opened,
            errors.first().map(String::as_str).unwrap_or("")
        )
        .into());
    }
    println!(
        "{sockets} sockets subscribed to orderUpdated of {} (lab: {}) in {:.1} s",
        order.id,
        order.lab_name,
        started.elapsed().as_secs_f64()
    );
    // The first messages were read while opening; nothing else is queued yet.
    let mut version = order.version;
    let mut stage = order.stage;
    let mut latencies: Vec<Duration> = Vec::with_capacity(sockets * events);
    let mut mutations: Vec<Duration> = Vec::with_capacity(events);
    let mut missed = 0usize;
    let mut closed = 0usize;
    for k in 1..=warmup + events {
        let counted = k > warmup;
        stage = if stage == "SURFACING" {
            "COATING".into()
        } else {
            "SURFACING".into()
        };
        let expected = version + 1;
        let mut seen = vec![false; sockets];
        let t0 = Instant::now();
        let data = api
            .run(
                Some(lab),
                "mutation($i: MoveOrderInput!) { moveOrder(input: $i) { order { version } } }",
                json!({ "i": { "id": order.id, "version": version, "to": "IN_PRODUCTION", "stage": stage } }),
            )
            .await?;
        let mutation = t0.elapsed();
        version = data["moveOrder"]["order"]["version"]
            .as_i64()
            .ok_or("moveOrder gave no version")?;
        if version != expected {
            return Err(format!("the order moved to version {version}, not {expected}").into());
        }
        let deadline = tokio::time::Instant::from_std(t0 + timeout);
        let mut got = 0usize;
        let mut this: Vec<Duration> = Vec::with_capacity(sockets);
        while got < sockets {
            match tokio::time::timeout_at(deadline, deliveries.recv()).await {
                Ok(Some((i, v, at))) => {
                    if v == -1 {
                        closed += 1;
                    } else if v == expected && !seen[i] {
                        seen[i] = true;
                        got += 1;
                        this.push(at.saturating_duration_since(t0));
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
        this.sort();
        println!(
            "{}: {got}/{sockets} delivered, first {:.1} ms, p50 {:.1} ms, max {:.1} ms (mutation {:.1} ms)",
            if counted {
                format!("event {}", k - warmup)
            } else {
                format!("warm-up event {k} (not counted)")
            },
            quantile_ms(&this, 0.0),
            quantile_ms(&this, 0.50),
            quantile_ms(&this, 1.0),
            mutation.as_secs_f64() * 1000.0
        );
        if counted {
            missed += sockets - got;
            mutations.push(mutation);
            latencies.extend(this);
        }
        tokio::time::sleep(gap).await;
    }
    latencies.sort();
    mutations.sort();
    println!(
        "FANOUT sockets={sockets} events={events} warmup={warmup} deliveries={} missed={missed} closed={closed} \
         p50_ms={:.1} p99_ms={:.1} max_ms={:.1} mutation_p50_ms={:.1}",
        latencies.len(),
        quantile_ms(&latencies, 0.50),
        quantile_ms(&latencies, 0.99),
        quantile_ms(&latencies, 1.0),
        quantile_ms(&mutations, 0.50),
    );
    Ok(())
}

/// The resident set size of process `pid`, in KB.
fn rss_kb(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status").into())
}

async fn idle(
    api: &Api,
    practice: &str,
    order: &Order,
    pid: u32,
    sockets: usize,
    settle: Duration,
    connect: usize,
) -> Result<()> {
    let (out, mut deliveries) = mpsc::unbounded_channel::<Delivery>();
    let before = rss_kb(pid)?;
    let started = Instant::now();
    let (opened, errors) = open_many(api, practice, &order.id, sockets, connect, &out).await;
    let took = started.elapsed();
    tokio::time::sleep(settle).await;
    let after = rss_kb(pid)?;
    // Sockets the server closed meanwhile do not count as open.
    let mut closed = 0usize;
    while let Ok((_, v, _)) = deliveries.try_recv() {
        if v == -1 {
            closed += 1;
        }
    }
    if let Some(first) = errors.first() {
        println!(
            "{} sockets failed to open; first: {first}",
            sockets - opened
        );
    }
    let open_now = opened.saturating_sub(closed);
    let per = if open_now > 0 {
        (after as f64 - before as f64) / open_now as f64
    } else {
        f64::NAN
    };
    println!(
        "IDLE sockets={sockets} open={open_now} failed={} closed={closed} open_s={:.1} \
         rss_before_kb={before} rss_after_kb={after} kb_per_socket={per:.1}",
        sockets - opened,
        took.as_secs_f64(),
    );
    Ok(())
}
