//! DCS ("OMA") job files in and out of lens orders: a practice turns a tracer file or a
//! whole job file into a draft and completes it with `updateOrderDraft`; a malformed file
//! is refused whole, naming its line; the lab re-measures a job it holds from a tracer
//! file (checked against the job, versioned, followed live); only the parties touch an
//! order; and the signed download links give back exactly the file they were made for.

use ils_tests::orders::{Orders, connected, outsiders};
use ils_tests::progressive_draft;
use ils_tests::ws;
use ils_tests::{Session, TestServer, email, listed_company, nodes};
use serde_json::{Value, json};

const FIELDS: &str = "fragment O on LensOrder { id orderNumber status version practiceId labId
    patientRef
    rx { right { sphere cylinder axis add distancePd } left { sphere cylinder axis add distancePd } }
    lens { design index treatments tint productCode }
    frame { a b dbl ed trace { side format radii } }
    fit { right { fittingHeight } left { fittingHeight } }
    history { fromStatus toStatus actorCompanyId note } }";

const ORDERS: Orders = Orders::new(FIELDS);

/// The radii of the practice's tracer file, in 0.01 mm.
const TRACER_RADII: [u32; 8] = [2480, 2510, 2545, 2570, 2490, 2455, 2430, 2466];

/// A pure tracer file as a tracer writes it: CR LF, boxing, a vendor label, one trace.
const TRACER: &str = "CLIENT=REF-TRACE\r\nHBOX=52.00;52.00\r\nVBOX=36.00;36.00\r\n\
    DBL=18.00\r\nFED=55.00;55.00\r\n_ABC=xyz\r\nTRCFMT=1;8;E;R;F\r\n\
    R=2480;2510;2545;2570\r\nR=2490;2455;2430;2466\r\n";

/// docs/domain.md's example job, with the lens named by design and index.
const FULL_JOB: &str = "JOB=ECP1042-0007\r\nDO=B\r\nCLIENT=REF7F3A\r\nLNAM=PAL-A;PAL-A\r\n\
    SPH=-2.25;-1.75\r\nCYL=-0.75;-0.50\r\nAX=175;10\r\nADD=2.00;2.00\r\nIPD=31.50;32.00\r\n\
    NPD=30.00;30.50\r\nSEGHT=19.00;19.00\r\nHBOX=52.00;52.00\r\nVBOX=36.00;36.00\r\nDBL=18.00\r\n\
    ACOAT=ANTI_REFLECTIVE;ANTI_REFLECTIVE\r\nLDNAM=PROGRESSIVE;PROGRESSIVE\r\nLIND=1.60;1.60\r\n";

/// A tracer file with boxing `a` x `b`, bridge `dbl` and one trace of `radii` on `side`.
fn tracer_text(a: &str, b: &str, dbl: &str, side: char, radii: &[u32]) -> String {
    let mut lines = vec![
        format!("HBOX={a};{a}"),
        format!("VBOX={b};{b}"),
        format!("DBL={dbl}"),
        format!("TRCFMT=1;{};E;{side};F", radii.len()),
    ];
    for chunk in radii.chunks(5) {
        let chunk: Vec<String> = chunk.iter().map(u32::to_string).collect();
        lines.push(format!("R={}", chunk.join(";")));
    }
    let mut text = lines.join("\r\n");
    text.push_str("\r\n");
    text
}

/// `importDcs` of `bytes`, onto `target` (order id and version) when given; returns the
/// HTTP status and the body.
async fn import(
    s: &TestServer,
    who: &Session,
    target: Option<(&Value, i64)>,
    bytes: &[u8],
) -> (u16, Value) {
    // The upload helper sends only `$file`; the order and version are literals.
    let args = match target {
        None => String::new(),
        Some((id, version)) => format!(", orderId: {id}, version: {version}"),
    };
    let query = ORDERS.q(&format!(
        "mutation($file: Upload!) {{ importDcs(input: {{ file: $file{args} }}) {{
            storedAs downloadUrl labelsRead order {{ ...O }} }} }}"
    ));
    s.upload(&who.auth(), &query, "job.oma", bytes).await
}

/// A successful `importDcs`: its `ImportDcsPayload`.
async fn imported(
    s: &TestServer,
    who: &Session,
    target: Option<(&Value, i64)>,
    bytes: &[u8],
) -> Value {
    let (status, body) = import(s, who, target, bytes).await;
    assert!(
        status == 200 && body.get("errors").is_none(),
        "expected the import to succeed, got {status}: {body}"
    );
    body["data"]["importDcs"].clone()
}

/// Every error of a response as (code, field path joined with '.', message); panics when
/// there is none.
fn errors(body: &Value) -> Vec<(String, String, String)> {
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("expected errors, got {body}"));
    assert!(!errors.is_empty(), "{body}");
    errors
        .iter()
        .map(|e| {
            let field = e["extensions"]["field"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (
                e["extensions"]["code"].as_str().unwrap_or("").to_owned(),
                field,
                e["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// Asserts the response failed with exactly one error of `code` (and `field`, when given).
fn assert_refused(body: &Value, code: &str, field: Option<&str>, what: &str) {
    let errs = errors(body);
    assert_eq!(errs.len(), 1, "{what}: {body}");
    assert_eq!(errs[0].0, code, "{what}: {body}");
    if let Some(field) = field {
        assert_eq!(errs[0].1, field, "{what}: {body}");
    }
    assert!(
        body["data"].is_null()
            || body["data"]
                .as_object()
                .is_some_and(|d| d.values().all(Value::is_null)),
        "{what}: {body}"
    );
}

/// A Decimal scalar (a string) as a number.
fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("not a decimal: {v}")),
        Value::Number(n) => n.as_f64().unwrap(),
        other => panic!("not a decimal: {other}"),
    }
}

fn assert_frame(frame: &Value, a: f64, b: f64, dbl: f64, ed: Option<f64>) {
    assert_eq!(num(&frame["a"]), a, "A: {frame}");
    assert_eq!(num(&frame["b"]), b, "B: {frame}");
    assert_eq!(num(&frame["dbl"]), dbl, "DBL: {frame}");
    match ed {
        Some(ed) => assert_eq!(num(&frame["ed"]), ed, "ED: {frame}"),
        None => assert_eq!(frame["ed"], Value::Null, "ED: {frame}"),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

/// GET `path` (relative to the server root) without credentials: status, content type,
/// body.
async fn fetch(s: &TestServer, path: &str) -> (u16, String, Vec<u8>) {
    assert!(path.starts_with('/'), "not a server-relative path: {path}");
    let resp = s.http.get(s.url(path)).send().await.expect("request sent");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = resp.bytes().await.expect("a body").to_vec();
    (status, content_type, body)
}

/// A download URL's path and its query parameters (raw, in order).
fn split_url(url: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = url
        .split_once('?')
        .unwrap_or_else(|| panic!("a download URL carries its signature in the query: {url}"));
    let params = query
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    (path.to_owned(), params)
}

fn join_url(path: &str, params: &[(String, String)]) -> String {
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{path}?{}", query.join("&"))
}

/// Another character of the same kind (digit, lowercase, uppercase) than `c`.
fn other_char(c: char) -> char {
    match c {
        '0'..='8' | 'a'..='y' | 'A'..='Y' => char::from(c as u8 + 1),
        '9' => '0',
        'z' => 'a',
        'Z' => 'A',
        _ => '0',
    }
}

/// `url` with the value of its first query parameter whose name contains `name_part`
/// changed by `change`.
fn tampered(url: &str, name_part: &str, change: impl Fn(&str) -> String) -> String {
    let (path, mut params) = split_url(url);
    let param = params
        .iter_mut()
        .find(|(k, _)| k.to_ascii_lowercase().contains(name_part))
        .unwrap_or_else(|| panic!("no query parameter named like {name_part:?} in {url}"));
    let changed = change(&param.1);
    assert_ne!(changed, param.1);
    param.1 = changed;
    join_url(&path, &params)
}

/// The signature with its first character changed (the first: the last character of a
/// base64 text may carry only padding bits).
fn tampered_signature(url: &str) -> String {
    tampered(url, "sig", |sig| {
        let mut chars: Vec<char> = sig.chars().collect();
        chars[0] = other_char(chars[0]);
        chars.into_iter().collect()
    })
}

/// The expiry a minute later (or, when it is not a number, with a digit changed).
fn tampered_expiry(url: &str) -> String {
    tampered(url, "exp", |exp| match exp.parse::<i64>() {
        Ok(n) => (n + 60).to_string(),
        Err(_) => {
            let mut chars: Vec<char> = exp.chars().collect();
            let i = chars
                .iter()
                .rposition(char::is_ascii_digit)
                .unwrap_or_else(|| panic!("an expiry without digits: {exp}"));
            chars[i] = other_char(chars[i]);
            chars.into_iter().collect()
        }
    })
}

/// When the expiry is a Unix time in seconds, it is at most 15 minutes away.
fn assert_expires_within_15_minutes(url: &str) {
    let (_, params) = split_url(url);
    let exp = params
        .iter()
        .find(|(k, _)| k.to_ascii_lowercase().contains("exp"))
        .unwrap_or_else(|| panic!("no expiry in {url}"));
    if let Ok(at) = exp.1.parse::<i64>()
        && (1_000_000_000..10_000_000_000).contains(&at)
    {
        let now = chrono::Utc::now().timestamp();
        assert!(
            at > now && at <= now + 15 * 60 + 5,
            "the link should expire within 15 minutes: {url} (now {now})"
        );
    }
}

/// Asserts the link gives `expected` (200) and the tampered signature and expiry 403.
async fn assert_signed_link(s: &TestServer, url: &str, expected: &[u8]) -> String {
    let (status, content_type, body) = fetch(s, url).await;
    assert_eq!(status, 200, "GET {url}");
    assert_eq!(body, expected, "GET {url}");
    assert_expires_within_15_minutes(url);
    for bad in [tampered_signature(url), tampered_expiry(url)] {
        let (status, _, body) = fetch(s, &bad).await;
        assert_eq!(
            status,
            403,
            "GET {bad} (tampered from {url}): {}",
            String::from_utf8_lossy(&body)
        );
    }
    content_type
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracer_file_becomes_a_draft_and_the_practice_completes_it() {
    let s = TestServer::start().await;
    let (_, practice, lab) = connected(&s, "Tracer").await;

    let got = imported(&s, &practice, None, TRACER.as_bytes()).await;
    let order = got["order"].clone();
    assert_eq!(order["status"], "DRAFT", "{got}");
    assert_eq!(order["practiceId"], json!(practice.company_id), "{got}");
    assert_eq!(order["patientRef"], "REF-TRACE", "{got}");
    assert_frame(&order["frame"], 52.0, 36.0, 18.0, Some(55.0));
    assert_eq!(
        order["frame"]["trace"],
        json!({ "side": "R", "format": "1", "radii": TRACER_RADII }),
        "{got}"
    );
    assert_eq!(order["rx"], Value::Null, "{got}");
    assert_eq!(order["lens"], Value::Null, "{got}");
    let labels = strings(&got["labelsRead"]);
    for label in ["HBOX", "TRCFMT"] {
        assert!(labels.iter().any(|l| l == label), "{label}: {got}");
    }
    assert!(
        got["storedAs"].as_str().is_some_and(|k| !k.is_empty()),
        "{got}"
    );
    // The uploaded file, byte for byte (CR LF and the vendor label included).
    let url = got["downloadUrl"].as_str().expect("downloadUrl");
    assert_signed_link(&s, url, TRACER.as_bytes()).await;

    // Without a prescription and a lens it cannot go to the lab.
    let (_, body) = ORDERS.submit(&s, &practice, &order, &lab).await;
    let errs = errors(&body);
    assert!(
        errs.iter().all(|(code, _, _)| code == "BAD_USER_INPUT"),
        "{body}"
    );
    let fields: Vec<&str> = errs.iter().map(|(_, f, _)| f.as_str()).collect();
    assert!(fields.contains(&"order.rx"), "{body}");
    assert!(fields.contains(&"order.lens"), "{body}");
    let still = ORDERS.read(&s, &practice, &order["id"]).await;
    assert_eq!(still["status"], "DRAFT");
    assert_eq!(still["version"], order["version"]);

    // The practice completes the job, keeping the traced frame.
    let mut job = progressive_draft("REF-TRACE");
    job["frame"] = order["frame"].clone();
    let version = order["version"].as_i64().unwrap();
    let (_, body) = ORDERS.update(&s, &practice, &order, version, job).await;
    assert!(body.get("errors").is_none(), "{body}");
    let order = body["data"]["updateOrderDraft"]["order"].clone();
    assert_eq!(order["version"], json!(version + 1), "{body}");
    assert_eq!(order["version"], 2, "{body}");
    assert_eq!(order["status"], "DRAFT", "{body}");
    assert_eq!(num(&order["rx"]["right"]["sphere"]), -2.25, "{body}");
    assert_eq!(order["lens"]["design"], "PROGRESSIVE", "{body}");
    assert_eq!(order["frame"]["trace"]["radii"], json!(TRACER_RADII));

    let order = ORDERS.submitted(&s, &practice, &order, &lab).await;
    assert_eq!(order["labId"], json!(lab.company_id));

    // The job file carries the trace, and its link gives exactly its content.
    let got = s
        .ok(
            &practice.auth(),
            "query($id: ID!) { orderDcs(id: $id) { fileName content storedAs downloadUrl } }",
            json!({ "id": order["id"] }),
        )
        .await;
    let content = got["orderDcs"]["content"].as_str().expect("content");
    let file = ils_orders::dcs::parse(content).expect("a valid DCS file");
    let traces = file.traces().expect("readable traces");
    assert_eq!(traces.len(), 1, "{content}");
    assert_eq!(traces[0].radii, TRACER_RADII, "{content}");
    assert_eq!(traces[0].side, 'R', "{content}");
    assert_eq!(traces[0].format, "1", "{content}");
    let url = got["orderDcs"]["downloadUrl"]
        .as_str()
        .expect("downloadUrl");
    let content_type = assert_signed_link(&s, url, content.as_bytes()).await;
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_job_file_becomes_a_complete_draft() {
    let s = TestServer::start().await;
    let (_, practice, lab) = connected(&s, "Tracer").await;

    let got = imported(&s, &practice, None, FULL_JOB.as_bytes()).await;
    let order = got["order"].clone();
    assert_eq!(order["status"], "DRAFT", "{got}");
    assert_eq!(order["patientRef"], "REF7F3A", "{got}");
    let rx = &order["rx"];
    for (side, sphere, cylinder, axis, pd) in [
        ("right", -2.25, -0.75, 175, 31.5),
        ("left", -1.75, -0.50, 10, 32.0),
    ] {
        let eye = &rx[side];
        assert_eq!(num(&eye["sphere"]), sphere, "{side}: {got}");
        assert_eq!(num(&eye["cylinder"]), cylinder, "{side}: {got}");
        assert_eq!(eye["axis"], axis, "{side}: {got}");
        assert_eq!(num(&eye["add"]), 2.0, "{side}: {got}");
        assert_eq!(num(&eye["distancePd"]), pd, "{side}: {got}");
    }
    let lens = &order["lens"];
    assert_eq!(lens["design"], "PROGRESSIVE", "{got}");
    assert_eq!(num(&lens["index"]), 1.6, "{got}");
    assert_eq!(lens["treatments"], json!(["ANTI_REFLECTIVE"]), "{got}");
    assert_eq!(lens["productCode"], "PAL-A", "{got}");
    assert_eq!(lens["tint"], Value::Null, "{got}");
    assert_frame(&order["frame"], 52.0, 36.0, 18.0, None);
    assert_eq!(order["frame"]["trace"], Value::Null, "{got}");
    assert_eq!(num(&order["fit"]["right"]["fittingHeight"]), 19.0, "{got}");
    assert_eq!(num(&order["fit"]["left"]["fittingHeight"]), 19.0, "{got}");
    let labels = strings(&got["labelsRead"]);
    for label in [
        "CLIENT", "LNAM", "SPH", "CYL", "AX", "ADD", "IPD", "SEGHT", "HBOX", "VBOX", "DBL",
        "ACOAT", "LDNAM", "LIND",
    ] {
        assert!(labels.iter().any(|l| l == label), "{label}: {got}");
    }
    let url = got["downloadUrl"].as_str().expect("downloadUrl");
    let (status, _, body) = fetch(&s, url).await;
    assert_eq!((status, body.as_slice()), (200, FULL_JOB.as_bytes()));

    // Complete as read: it goes to the lab as it is.
    let order = ORDERS.submitted(&s, &practice, &order, &lab).await;
    let theirs = ORDERS.read(&s, &lab, &order["id"]).await;
    assert_eq!(theirs["status"], "SUBMITTED");
    assert_eq!(theirs["patientRef"], "REF7F3A");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_dcs_files_are_refused_whole() {
    let s = TestServer::start().await;
    let (_, practice, _) = connected(&s, "Tracer").await;

    let line_level: [(&str, &[u8], usize); 5] = [
        (
            "a line without '='",
            b"JOB=1\r\nDO=B\r\nSPH -2.25;-1.75\r\nHBOX=52.00;52.00\r\n",
            3,
        ),
        (
            "a lowercase label",
            b"JOB=1\nsph=-2.25;-1.75\nHBOX=52.00;52.00\n",
            2,
        ),
        (
            "a blank line in the middle",
            b"JOB=1\nDO=B\n\nHBOX=52.00;52.00\nVBOX=36.00;36.00\nDBL=18.00\n",
            3,
        ),
        (
            "R= outside a trace block",
            b"HBOX=52.00;52.00\nVBOX=36.00;36.00\nDBL=18.00\nR=2500;2500\n",
            4,
        ),
        (
            "a TRCFMT count the R= lines do not match",
            b"HBOX=52.00;52.00\nVBOX=36.00;36.00\nDBL=18.00\nTRCFMT=1;8;E;R;F\nR=2500;2500;2500\n",
            4,
        ),
    ];
    for (what, bytes, line) in line_level {
        let (_, body) = import(&s, &practice, None, bytes).await;
        assert_refused(&body, "BAD_USER_INPUT", Some("input.file"), what);
        let message = &errors(&body)[0].2;
        let needle = format!("line {line}");
        let at = message
            .find(&needle)
            .unwrap_or_else(|| panic!("{what}: the message should name {needle}: {body}"));
        assert!(
            !message[at + needle.len()..].starts_with(|c: char| c.is_ascii_digit()),
            "{what}: the message should name {needle}: {body}"
        );
    }
    let whole_file: [(&str, &[u8]); 2] = [
        ("an empty file", b""),
        (
            "invalid UTF-8",
            b"JOB=1\nCLIENT=\xff\xfeREF\nHBOX=52.00;52.00\n",
        ),
    ];
    for (what, bytes) in whole_file {
        let (_, body) = import(&s, &practice, None, bytes).await;
        assert_refused(&body, "BAD_USER_INPUT", Some("input.file"), what);
    }

    // Nothing was written.
    let list = s
        .ok(
            &practice.auth(),
            "{ orders(first: 50) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(nodes(&list["orders"]).is_empty(), "{list}");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_updates_measurements_of_a_job_it_holds() {
    let s = TestServer::start().await;
    let (pa, practice, lab) = connected(&s, "Tracer").await;
    let outsiders = outsiders(&s, &pa).await;

    // A progressive job whose frame is to come.
    let mut job = progressive_draft("REF-REMEASURE");
    job.as_object_mut().unwrap().remove("frame");
    let order = ORDERS.draft(&s, &practice, job).await;
    assert_eq!(order["frame"], Value::Null, "{order}");
    let order = ORDERS.submitted(&s, &practice, &order, &lab).await;
    let order = ORDERS.moved(&s, &lab, &order, "RECEIVED", json!({})).await;
    let id = order["id"].clone();
    let before = order["version"].as_i64().unwrap();

    // The practice follows the order live: the stream starts with the order as it is
    // (listening began before that read, so no later change is missed).
    const LIVE: &str = "subscription($id: ID!) { orderUpdated(id: $id) {
        status version order { id version frame { a b dbl } } } }";
    let mut live = ws::connect(&s, ws::TRANSPORT_WS).await;
    ws::init(&mut live, &practice.auth()).await;
    ws::send(
        &mut live,
        json!({ "id": "live", "type": "subscribe", "payload": { "query": LIVE, "variables": { "id": id } } }),
    )
    .await;
    let first = ws::recv_json(&mut live).await;
    assert_eq!(first["type"], "next", "{first}");
    assert_eq!(
        first["payload"]["data"]["orderUpdated"]["version"],
        json!(before),
        "{first}"
    );

    // Both parties' event streams carry the re-measurement (each proven live with its own
    // profile save as the sentinel).
    let mut streams = vec![];
    for who in [&practice, &lab] {
        let sentinel = || ws::profile_saved(&s, who);
        streams.push(
            ws::subscribe_events_ready(
                &s,
                &who.auth(),
                Some(&["order.measurements_updated", "marketplace.profile_updated"]),
                sentinel,
            )
            .await,
        );
    }

    // The lab traces the frame.
    let radii: Vec<u32> = (0..40).map(|i| 2500 + (i * 7) % 90).collect();
    let file = tracer_text("54.00", "38.00", "17.00", 'B', &radii);
    let got = imported(&s, &lab, Some((&id, before)), file.as_bytes()).await;
    let o = got["order"].clone();
    assert_eq!(o["id"], id, "{got}");
    assert_eq!(o["status"], "RECEIVED", "{got}");
    assert_eq!(o["version"], json!(before + 1), "{got}");
    assert_frame(&o["frame"], 54.0, 38.0, 17.0, None);
    assert_eq!(
        o["frame"]["trace"],
        json!({ "side": "B", "format": "1", "radii": radii }),
        "{got}"
    );
    // The fit was not in the file: it stays.
    assert_eq!(num(&o["fit"]["right"]["fittingHeight"]), 19.0, "{got}");
    let last = o["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["fromStatus"], "RECEIVED", "{got}");
    assert_eq!(last["toStatus"], "RECEIVED", "{got}");
    assert_eq!(last["actorCompanyId"], json!(lab.company_id), "{got}");
    assert!(
        last["note"]
            .as_str()
            .is_some_and(|n| n.to_ascii_lowercase().contains("measure")),
        "the history note should mention the measurements: {got}"
    );
    let labels = strings(&got["labelsRead"]);
    for label in ["HBOX", "VBOX", "DBL", "TRCFMT"] {
        assert!(labels.iter().any(|l| l == label), "{label}: {got}");
    }

    for stream in &mut streams {
        let event = ws::next_event(stream).await;
        assert_eq!(event["type"], "order.measurements_updated", "{event}");
        assert_eq!(event["data"]["orderId"], id, "{event}");
        assert_eq!(event["data"]["version"], json!(before + 1), "{event}");
    }

    // The practice sees the new frame, and was told live.
    let mine = ORDERS.read(&s, &practice, &id).await;
    assert_eq!(mine["version"], json!(before + 1));
    assert_eq!(mine["frame"], o["frame"]);
    loop {
        let msg = ws::recv_json(&mut live).await;
        assert_eq!(msg["id"], "live", "{msg}");
        assert_eq!(msg["type"], "next", "{msg}");
        let update = &msg["payload"]["data"]["orderUpdated"];
        if update["version"] == json!(before + 1) {
            assert_eq!(update["status"], "RECEIVED", "{msg}");
            assert_eq!(num(&update["order"]["frame"]["a"]), 54.0, "{msg}");
            break;
        }
        assert!(
            update["version"].as_i64() < Some(before + 1),
            "an update past the import: {msg}"
        );
    }
    let now = before + 1;

    // A stale version.
    let (_, body) = import(&s, &lab, Some((&id, before)), file.as_bytes()).await;
    assert_refused(&body, "CONFLICT", None, "stale version");
    // A B smaller than the fitting heights of the job: every problem is bad input.
    let short = tracer_text("54.00", "17.00", "17.00", 'B', &radii);
    let (_, body) = import(&s, &lab, Some((&id, now)), short.as_bytes()).await;
    let errs = errors(&body);
    assert!(
        errs.iter().all(|(code, _, _)| code == "BAD_USER_INPUT"),
        "B below the fitting height: {body}"
    );
    let mut fields: Vec<&str> = errs.iter().map(|(_, f, _)| f.as_str()).collect();
    fields.sort();
    assert_eq!(
        fields,
        ["order.left.fittingHeight", "order.right.fittingHeight"],
        "{body}"
    );
    // Numbers far past anything optical, and a trace past any tracer, are refused before
    // any arithmetic (no internal error).
    for (huge, field) in [
        (
            tracer_text(
                "79228162514264337593543950335",
                "38.00",
                "17.00",
                'B',
                &radii,
            ),
            "order.frame.a",
        ),
        (
            format!(
                "{}SEGHT=1000000000000;19\r\n",
                tracer_text("54.00", "38.00", "17.00", 'B', &radii)
            ),
            "order.right.fittingHeight",
        ),
        (
            tracer_text("54.00", "38.00", "17.00", 'B', &[2500; 10_001]),
            "order.frame.trace.radii",
        ),
    ] {
        let (_, body) = import(&s, &lab, Some((&id, now)), huge.as_bytes()).await;
        assert_refused(&body, "BAD_USER_INPUT", Some(field), field);
    }
    // A fitting height too short for a progressive.
    let low = format!(
        "{}SEGHT=12.00;12.00\r\n",
        tracer_text("54.00", "38.00", "17.00", 'B', &radii)
    );
    let (_, body) = import(&s, &lab, Some((&id, now)), low.as_bytes()).await;
    let errs = errors(&body);
    assert!(
        errs.iter().all(|(code, _, _)| code == "BAD_USER_INPUT"),
        "a progressive fitting height of 12 mm: {body}"
    );
    let mut fields: Vec<&str> = errs.iter().map(|(_, f, _)| f.as_str()).collect();
    fields.sort();
    assert_eq!(
        fields,
        ["order.left.fittingHeight", "order.right.fittingHeight"],
        "{body}"
    );
    // No A in the file.
    let (_, body) = import(
        &s,
        &lab,
        Some((&id, now)),
        b"VBOX=38.00;38.00\r\nDBL=17.00\r\n",
    )
    .await;
    assert_refused(&body, "BAD_USER_INPUT", Some("input.file"), "no HBOX");
    // Outsiders do not find the order.
    for (who, outsider) in [
        ("another lab", &outsiders.lab),
        ("a supplier", &outsiders.supplier),
        ("another practice", &outsiders.practice),
    ] {
        let (_, body) = import(&s, outsider, Some((&id, now)), file.as_bytes()).await;
        assert_refused(&body, "NOT_FOUND", None, who);
    }
    // None of that changed anything.
    let theirs = ORDERS.read(&s, &lab, &id).await;
    assert_eq!(theirs["version"], json!(now), "{theirs}");
    assert_eq!(theirs["frame"], o["frame"], "{theirs}");
    assert_eq!(num(&theirs["fit"]["right"]["fittingHeight"]), 19.0);
    assert_eq!(theirs["history"], o["history"], "{theirs}");

    // Once shipped, the measurements are final.
    let o = ORDERS.through_production(&s, &lab, &theirs).await;
    let o = ORDERS
        .moved(
            &s,
            &lab,
            &o,
            "SHIPPED",
            json!({ "carrier": "Royal Mail", "trackingNumber": "RM123456789GB" }),
        )
        .await;
    let shipped = o["version"].as_i64().unwrap();
    let (_, body) = import(&s, &lab, Some((&id, shipped)), file.as_bytes()).await;
    assert_refused(
        &body,
        "BAD_USER_INPUT",
        Some("input.orderId"),
        "a shipped order",
    );

    // A new draft from a file is the practices' business.
    for (who, company) in [("a lab", &lab), ("a supplier", &outsiders.supplier)] {
        let (_, body) = import(&s, company, None, TRACER.as_bytes()).await;
        assert_refused(&body, "FORBIDDEN", None, who);
    }
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_practice_updates_only_its_own_drafts() {
    let s = TestServer::start().await;
    let (pa, practice, lab) = connected(&s, "Tracer").await;
    let supplier = listed_company(&s, &pa, "Some Supplier", "SUPPLIER", json!({})).await;
    let other_practice = s.sign_up("Other Optics", "ECP", &email("other")).await;
    let order = ORDERS
        .draft(&s, &practice, progressive_draft("REF-EDIT"))
        .await;
    let version = order["version"].as_i64().unwrap();
    let job = progressive_draft("REF-EDIT");

    let (_, body) = ORDERS
        .update(&s, &practice, &order, version + 1, job.clone())
        .await;
    assert_refused(&body, "CONFLICT", None, "a version not yet made");
    let (_, body) = ORDERS
        .update(&s, &other_practice, &order, version, job.clone())
        .await;
    assert_refused(&body, "NOT_FOUND", None, "another practice");
    for (who, company) in [("a lab", &lab), ("a supplier", &supplier)] {
        let (_, body) = ORDERS
            .update(&s, company, &order, version, job.clone())
            .await;
        assert_refused(&body, "FORBIDDEN", None, who);
    }

    // Traces out of bounds, when updating and when creating.
    let mut no_radii = job.clone();
    no_radii["frame"]["trace"] = json!({ "side": "R", "format": "1", "radii": [] });
    let mut huge_radius = job.clone();
    huge_radius["frame"]["trace"] =
        json!({ "side": "R", "format": "1", "radii": [2500, 20000, 2500, 2500] });
    for (what, input) in [("no radii", no_radii), ("a radius of 200 mm", huge_radius)] {
        for (_, body) in [
            ORDERS
                .update(&s, &practice, &order, version, input.clone())
                .await,
            s.post(
                &practice.auth(),
                &ORDERS.q(
                    "mutation($i: CreateOrderDraftInput!) { createOrderDraft(input: $i) { order { ...O } } }",
                ),
                json!({ "i": input }),
            )
            .await,
        ] {
            let errs = errors(&body);
            assert!(
                errs.iter().all(|(code, _, _)| code == "BAD_USER_INPUT"),
                "{what}: {body}"
            );
            assert!(
                errs.iter().any(|(_, field, _)| field.starts_with("input.")
                    && field.split('.').any(|p| p == "trace")),
                "{what}: the field should name the trace: {body}"
            );
        }
    }
    let same = ORDERS.read(&s, &practice, &order["id"]).await;
    assert_eq!(same["version"], json!(version), "{same}");
    assert_eq!(same["frame"]["trace"], Value::Null, "{same}");

    // The whole job is replaced: what the input leaves out is gone.
    let (_, body) = ORDERS
        .update(
            &s,
            &practice,
            &order,
            version,
            json!({ "patientRef": "REF-EDIT-2" }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let bare = body["data"]["updateOrderDraft"]["order"].clone();
    assert_eq!(bare["version"], json!(version + 1), "{body}");
    assert_eq!(bare["patientRef"], "REF-EDIT-2", "{body}");
    assert_eq!(bare["rx"], Value::Null, "{body}");
    assert_eq!(bare["lens"], Value::Null, "{body}");
    assert_eq!(bare["frame"], Value::Null, "{body}");
    // The old version is gone too.
    let (_, body) = ORDERS
        .update(&s, &practice, &order, version, job.clone())
        .await;
    assert_refused(&body, "CONFLICT", None, "the version before the update");

    let mut traced = job.clone();
    traced["frame"]["trace"] = json!({ "side": "L", "format": "1", "radii": TRACER_RADII });
    let (_, body) = ORDERS
        .update(&s, &practice, &order, version + 1, traced)
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let full = body["data"]["updateOrderDraft"]["order"].clone();
    assert_eq!(full["version"], json!(version + 2), "{body}");
    assert_eq!(
        full["frame"]["trace"],
        json!({ "side": "L", "format": "1", "radii": TRACER_RADII }),
        "{body}"
    );
    let sent = ORDERS.submitted(&s, &practice, &full, &lab).await;

    // Submitted: no longer a draft to edit.
    let sent_version = sent["version"].as_i64().unwrap();
    let (_, body) = ORDERS
        .update(&s, &practice, &sent, sent_version, job.clone())
        .await;
    assert_refused(&body, "CONFLICT", None, "a submitted order");
    let theirs = ORDERS.read(&s, &lab, &sent["id"]).await;
    assert_eq!(theirs["version"], json!(sent_version));
    assert_eq!(theirs["status"], "SUBMITTED");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_link_opens_only_its_own_file() {
    let s = TestServer::start().await;
    let practice = s.sign_up("Link Optics", "ECP", &email("link")).await;
    let file_a = TRACER.replace("REF-TRACE", "REF-A");
    let file_b = TRACER.replace("REF-TRACE", "REF-B");
    let a = imported(&s, &practice, None, file_a.as_bytes()).await;
    let b = imported(&s, &practice, None, file_b.as_bytes()).await;
    assert_ne!(a["storedAs"], b["storedAs"]);
    let url_a = a["downloadUrl"].as_str().unwrap();
    let url_b = b["downloadUrl"].as_str().unwrap();
    let (path_a, query_a) = url_a.split_once('?').expect("a signed query");
    let (path_b, query_b) = url_b.split_once('?').expect("a signed query");
    assert_ne!(path_a, path_b);
    for (url, bytes) in [(url_a, &file_a), (url_b, &file_b)] {
        let (status, _, body) = fetch(&s, url).await;
        assert_eq!((status, body.as_slice()), (200, bytes.as_bytes()), "{url}");
    }
    // One file's signature does not open another key.
    let mut changed_key: Vec<char> = path_a.chars().collect();
    let last = changed_key.len() - 1;
    changed_key[last] = other_char(changed_key[last]);
    let changed_key: String = changed_key.into_iter().collect();
    for bad in [
        format!("{path_b}?{query_a}"),
        format!("{path_a}?{query_b}"),
        format!("{changed_key}?{query_a}"),
    ] {
        let (status, _, body) = fetch(&s, &bad).await;
        assert_eq!(status, 403, "GET {bad}: {}", String::from_utf8_lossy(&body));
    }
    s.finish().await;
}

/// Text stored before inputs refused line breaks (a patient reference, a lab job number
/// with a line feed) no longer makes `orderDcs` fail: the file is written, each such text
/// on its one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_line_breaks_never_break_the_dcs_export() {
    let s = TestServer::start().await;
    let (_, practice, _) = connected(&s, "Breaks").await;
    let mut input = progressive_draft("CLEAN-REF");
    input["lens"]["tint"] = json!("Grey 85");
    let draft = ORDERS.draft(&s, &practice, input).await;
    // What an older release let through, written below the API (the lens is JSON text,
    // where a line feed is written `\n`).
    let owner = s.owner_connection().await;
    use sea_orm::ConnectionTrait;
    let lf = if s.is_postgres() {
        "chr(10)"
    } else {
        "char(10)"
    };
    let corrupt = format!(
        "UPDATE lens_orders SET patient_ref = 'DOE' || {lf} || 'JANE', \
         lab_job_number = 'LAB' || {lf} || '7', lens = replace(lens, 'Grey 85', 'Grey;\\n85')"
    );
    let sql = if s.is_postgres() {
        format!("SELECT set_config('app.system', 'on', false); {corrupt}")
    } else {
        corrupt
    };
    #[allow(clippy::disallowed_methods)] // old data is written below the guard on purpose
    owner.execute_unprepared(&sql).await.unwrap();
    let got = s
        .ok(
            &practice.auth(),
            "query($id: ID!) { orderDcs(id: $id) { content } }",
            json!({ "id": draft["id"] }),
        )
        .await;
    let content = got["orderDcs"]["content"].as_str().expect("content");
    let file = ils_orders::dcs::parse(content).expect("a valid DCS file");
    assert_eq!(file.get("CLIENT"), Some("DOE JANE"), "{content}");
    assert_eq!(file.get("JOB"), Some("LAB 7"), "{content}");
    assert_eq!(file.get("TINT"), Some("Grey, 85;Grey, 85"), "{content}");
    s.finish().await;
}
