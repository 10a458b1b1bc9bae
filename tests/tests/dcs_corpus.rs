//! DCS ("OMA") files written by other software, through the real server: every file of
//! the field corpus (`tests/fixtures/dcs/eeng-lens_protocol`, see its SOURCES.md) and the
//! synthetic one-eye files (`tests/fixtures/dcs/synthetic`) is read by `importDcs` into a
//! draft and written back by `orderDcs` with every record kept, compared record by record
//! (label, value, in order). The only records ILS adds are the ones it deliberately
//! computes when the file has none: `JOB` (the order's number, for a file without a job
//! id), and `HBOX`, `VBOX`, `CIRC` computed per eye from the file's ASCII traces; a value
//! the file has is never replaced. A lab re-measures a job from a trace file without a
//! box, and a file written back reads in as the same order.

use ils_orders::dcs::{self, Record};
use ils_tests::orders::{Orders, connected};
use ils_tests::progressive_draft;
use ils_tests::{Session, TestServer};
use serde_json::{Value, json};
use std::path::PathBuf;

const FIELDS: &str = "fragment O on LensOrder { id orderNumber status version patientRef
    externalRef eyes labJobNumber
    rx { right { sphere cylinder axis add distancePd nearPd prismHorizontal prismHorizontalBase
                 prismVertical prismVerticalBase }
         left { sphere cylinder axis add distancePd nearPd prismHorizontal prismHorizontalBase
                prismVertical prismVerticalBase } }
    lens { design index treatments tint productCode }
    frame { a b dbl ed trace { side format radii } }
    fit { right { fittingHeight opticalCentreHeight } left { fittingHeight opticalCentreHeight } } }";

const ORDERS: Orders = Orders::new(FIELDS);

/// The records ILS adds to a file that has none of them.
const ADDED_WHEN_ABSENT: [&str; 4] = ["JOB", "HBOX", "VBOX", "CIRC"];

fn fixtures(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/dcs")
        .join(dir);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "oma"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("a fixture"))
        })
        .collect();
    files.sort();
    files
}

fn fixture(dir: &str, name: &str) -> Vec<u8> {
    fixtures(dir)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no fixture {dir}/{name}"))
        .1
}

/// `importDcs` of `bytes` (onto `target` when given), which must succeed.
async fn import(
    s: &TestServer,
    who: &Session,
    target: Option<(&Value, i64)>,
    bytes: &[u8],
) -> Value {
    let args = match target {
        None => String::new(),
        Some((id, version)) => format!(", orderId: {id}, version: {version}"),
    };
    let query = ORDERS.q(&format!(
        "mutation($file: Upload!) {{ importDcs(input: {{ file: $file{args} }}) {{
            labelsRead order {{ ...O }} }} }}"
    ));
    let (status, body) = s.upload(&who.auth(), &query, "job.oma", bytes).await;
    assert!(
        status == 200 && body.get("errors").is_none(),
        "expected the import to succeed, got {status}: {body}"
    );
    body["data"]["importDcs"].clone()
}

/// `orderDcs` of an order: the file's text.
async fn export(s: &TestServer, who: &Session, id: &Value) -> String {
    let got = s
        .ok(
            &who.auth(),
            "query($id: ID!) { orderDcs(id: $id) { content } }",
            json!({ "id": id }),
        )
        .await;
    got["orderDcs"]["content"]
        .as_str()
        .expect("content")
        .to_owned()
}

/// A Decimal scalar (a string) as a number.
fn num(v: &Value) -> f64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a decimal: {v}"))
}

fn records(text: &str) -> Vec<Record> {
    dcs::parse(text).expect("a DCS file").records().to_vec()
}

fn value_of<'a>(records: &'a [Record], label: &str) -> Option<&'a str> {
    records
        .iter()
        .find(|r| r.label == label)
        .map(|r| r.value.as_str())
}

/// `right;left` in mm to 0.01 from a per-eye computation over the file's ASCII traces.
fn per_eye(file: &dcs::DcsFile, f: impl Fn(&[u32]) -> Option<f64>) -> Option<String> {
    let traces = file.traces().expect("readable traces");
    let side = |keep: char| {
        traces
            .iter()
            .find(|t| t.side == keep || t.side == 'B')
            .and_then(|t| f(&t.radii))
            .map(|v| format!("{:.2}", (v * 100.0).round() / 100.0))
    };
    let (r, l) = (side('R'), side('L'));
    (r.is_some() || l.is_some())
        .then(|| format!("{};{}", r.unwrap_or_default(), l.unwrap_or_default()))
}

/// Checks that `exported` is `source` record for record, apart from the records ILS adds
/// when the file has none (each checked against what it must be). Returns the labels added.
fn assert_round_trip(name: &str, source: &str, exported: &str, order: &Value) -> Vec<String> {
    let file = dcs::parse(source).expect("a DCS file");
    let (src, out) = (file.records().to_vec(), records(exported));
    let mut added = Vec::new();
    let kept: Vec<&Record> = out
        .iter()
        .filter(|r| {
            let is_added =
                ADDED_WHEN_ABSENT.contains(&r.label.as_str()) && value_of(&src, &r.label).is_none();
            if is_added {
                added.push(r.label.clone());
            }
            !is_added
        })
        .collect();
    let original: Vec<&Record> = src.iter().collect();
    if kept != original {
        let at = kept
            .iter()
            .zip(&original)
            .position(|(a, b)| a != b)
            .unwrap_or(kept.len().min(original.len()));
        panic!(
            "{name}: record {} differs: exported {:?}, file {:?} ({} records kept, {} in the file)",
            at + 1,
            kept.get(at),
            original.get(at),
            kept.len(),
            original.len()
        );
    }
    // What was added is what ILS computes, and only for a file without it.
    for label in &added {
        let value = value_of(&out, label).unwrap();
        let expected = match label.as_str() {
            "JOB" => Some(order["orderNumber"].as_str().unwrap().to_owned()),
            "HBOX" => per_eye(&file, |r| dcs::trace_box(r).map(|b| b.0)),
            "VBOX" => per_eye(&file, |r| dcs::trace_box(r).map(|b| b.1)),
            "CIRC" => per_eye(&file, dcs::trace_circumference),
            _ => unreachable!(),
        };
        assert_eq!(Some(value), expected.as_deref(), "{name}: {label}");
    }
    added
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_file_round_trips_through_an_order_record_for_record() {
    let s = TestServer::start().await;
    let (_, practice, _) = connected(&s, "Corpus").await;

    let field = fixtures("eeng-lens_protocol");
    assert_eq!(field.len(), 10, "the field corpus");
    let synthetic = fixtures("synthetic");
    assert_eq!(synthetic.len(), 2);
    let mut seen = Vec::new();
    for (dir, (name, bytes)) in field
        .iter()
        .map(|f| ("eeng-lens_protocol", f))
        .chain(synthetic.iter().map(|f| ("synthetic", f)))
    {
        let got = import(&s, &practice, None, bytes).await;
        let order = &got["order"];
        assert_eq!(order["status"], "DRAFT", "{name}: {got}");
        let exported = export(&s, &practice, &order["id"]).await;
        let source = std::str::from_utf8(bytes).expect("ASCII");
        let added = assert_round_trip(&format!("{dir}/{name}"), source, &exported, order);
        seen.push((name.clone(), added, got));
    }
    let added = |name: &str| {
        seen.iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, a, _)| a.join(","))
            .unwrap()
    };
    let order = |name: &str| {
        seen.iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, g)| g["order"].clone())
            .unwrap()
    };
    // Files with every label of their own get nothing added.
    for name in ["R360_3.oma", "STHKFMT.oma"] {
        assert_eq!(added(name), "", "{name}");
    }
    // Trace-only files get their box and circumference; files without a job id the order's.
    assert_eq!(added("R360_2.oma"), "HBOX,VBOX,CIRC");
    assert_eq!(added("R1000_3.oma"), "JOB,HBOX,VBOX");
    assert_eq!(added("TRCFMT6.oma"), "JOB");
    assert_eq!(added("one-eye-left-trace.oma"), "HBOX,VBOX,CIRC");

    // What the orders hold (SOURCES.md's hand-checked values).
    let o = order("R360_3.oma");
    assert_eq!(o["externalRef"], "L424775600", "{o}");
    assert_eq!(o["patientRef"], "588", "CLIENT: {o}");
    assert_eq!(o["eyes"], "BOTH");
    assert_eq!(num(&o["rx"]["right"]["sphere"]), -0.5, "{o}");
    assert_eq!(o["rx"]["left"]["axis"], 15, "{o}");
    assert_eq!(num(&o["fit"]["right"]["opticalCentreHeight"]), 16.0, "{o}");
    assert_eq!(o["frame"]["trace"]["radii"].as_array().unwrap().len(), 360);
    let o = order("TRCFMT6.oma");
    assert_eq!(o["externalRef"], Value::Null);
    assert_eq!(num(&o["fit"]["left"]["fittingHeight"]), 22.0, "SEGHT: {o}");
    assert_eq!(
        num(&o["fit"]["left"]["opticalCentreHeight"]),
        22.0,
        "OCHT: {o}"
    );
    assert_eq!(
        o["frame"]["trace"],
        Value::Null,
        "format 6 stays in the file: {o}"
    );
    let o = order("R1000_1.oma");
    assert_eq!(
        num(&o["frame"]["a"]),
        51.0,
        "the box computed from the trace: {o}"
    );
    assert_eq!(num(&o["frame"]["b"]), 40.08, "{o}");
    assert_eq!(num(&o["frame"]["dbl"]), 15.0, "{o}");
    let o = order("R360_2.oma");
    assert_eq!(
        o["frame"],
        Value::Null,
        "no DBL, no frame on the draft: {o}"
    );
    let o = order("one-eye-right-prism.oma");
    assert_eq!(o["eyes"], "RIGHT", "{o}");
    assert_eq!(num(&o["rx"]["right"]["prismHorizontal"]), 0.58, "{o}");
    assert_eq!(o["rx"]["right"]["prismHorizontalBase"], "OUT", "{o}");
    assert_eq!(num(&o["rx"]["right"]["prismVertical"]), 1.04, "{o}");
    assert_eq!(o["rx"]["right"]["prismVerticalBase"], "UP", "{o}");
    assert_eq!(num(&o["fit"]["right"]["fittingHeight"]), 20.0, "{o}");
    assert_eq!(num(&o["fit"]["right"]["opticalCentreHeight"]), 22.0, "{o}");
    let o = order("one-eye-left-trace.oma");
    assert_eq!(o["eyes"], "LEFT", "{o}");
    assert_eq!(num(&o["rx"]["left"]["prismVertical"]), 2.0, "{o}");
    assert_eq!(o["rx"]["left"]["prismVerticalBase"], "DOWN", "{o}");
    assert_eq!(num(&o["frame"]["a"]), 50.0, "{o}");
    assert_eq!(num(&o["frame"]["b"]), 30.0, "{o}");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_written_back_file_reads_in_as_the_same_order() {
    let s = TestServer::start().await;
    let (_, practice, _) = connected(&s, "Reread").await;
    for name in ["R360_3.oma", "STHKFMT.oma", "TRCFMT6.oma", "R1000_2.oma"] {
        let first = import(&s, &practice, None, &fixture("eeng-lens_protocol", name)).await;
        let text = export(&s, &practice, &first["order"]["id"]).await;
        let again = import(&s, &practice, None, text.as_bytes()).await;
        // A file without JOB or CLIENT gave the draft a made-up patient reference; the
        // file written back names the job by the order number, read back as both.
        let made_up = first["order"]["patientRef"]
            .as_str()
            .is_some_and(|r| r.starts_with("DCS-"));
        for field in ["patientRef", "eyes", "rx", "lens", "frame", "fit"] {
            if made_up && field == "patientRef" {
                continue;
            }
            assert_eq!(
                again["order"][field], first["order"][field],
                "{name}: {field}"
            );
        }
        let same_ref = first["order"]["externalRef"].clone();
        let expected = if same_ref.is_null() {
            first["order"]["orderNumber"].clone()
        } else {
            same_ref
        };
        assert_eq!(again["order"]["externalRef"], expected, "{name}");
    }
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_to_the_order_replace_only_their_records() {
    let s = TestServer::start().await;
    let (_, practice, _) = connected(&s, "Overlay").await;
    let source = fixture("eeng-lens_protocol", "R360_3.oma");
    let got = import(&s, &practice, None, &source).await;
    let order = got["order"].clone();
    // The practice replaces the job: its own reference, a new Rx, a new trace.
    let mut job = progressive_draft("REF-OVERLAY");
    job["externalRef"] = json!("PRACTICE-42");
    job["frame"]["trace"] =
        json!({ "side": "B", "format": "1", "radii": [2500, 2400, 2300, 2450] });
    let (_, body) = ORDERS
        .update(
            &s,
            &practice,
            &order,
            order["version"].as_i64().unwrap(),
            job,
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let text = export(&s, &practice, &order["id"]).await;
    let out = records(&text);
    let src = records(std::str::from_utf8(&source).unwrap());
    assert_eq!(value_of(&out, "JOB"), Some("PRACTICE-42"));
    assert_eq!(value_of(&out, "CLIENT"), Some("REF-OVERLAY"));
    assert_eq!(value_of(&out, "SPH"), Some("-2.25;-1.75"));
    assert_eq!(value_of(&out, "HBOX"), Some("52.00;52.00"));
    // The lens now names an ILS design: LDNAM and LIND replaced in place.
    assert_eq!(value_of(&out, "LDNAM"), Some("PROGRESSIVE;PROGRESSIVE"));
    // One trace (the order's) where the file's two were; vendor labels all kept.
    let file = dcs::parse(&text).unwrap();
    let traces = file.traces().unwrap();
    assert_eq!(traces.len(), 1, "{text}");
    assert_eq!(traces[0].radii, [2500, 2400, 2300, 2450]);
    let vendor = |r: &[Record]| -> Vec<Record> {
        r.iter()
            .filter(|r| r.label.starts_with('_'))
            .cloned()
            .collect()
    };
    assert_eq!(vendor(&out), vendor(&src));
    assert_eq!(
        value_of(&out, "ACOAT"),
        Some("ANTI_REFLECTIVE;ANTI_REFLECTIVE")
    );
    assert_eq!(value_of(&out, "XSTATUS"), value_of(&src, "XSTATUS"));
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lab_re_measures_from_a_trace_file_without_a_box() {
    let s = TestServer::start().await;
    let (_, practice, lab) = connected(&s, "Remeasure").await;
    let mut job = progressive_draft("REF-R1000");
    job.as_object_mut().unwrap().remove("frame");
    let order = ORDERS.draft(&s, &practice, job).await;
    let order = ORDERS.submitted(&s, &practice, &order, &lab).await;
    let order = ORDERS.moved(&s, &lab, &order, "RECEIVED", json!({})).await;
    let version = order["version"].as_i64().unwrap();

    // A pattern file: two 1000-point traces, DBL, no HBOX/VBOX.
    let file = fixture("eeng-lens_protocol", "R1000_3.oma");
    let got = import(&s, &lab, Some((&order["id"], version)), &file).await;
    let o = &got["order"];
    assert_eq!(o["version"], json!(version + 1), "{got}");
    assert_eq!(num(&o["frame"]["a"]), 48.0, "{got}");
    assert_eq!(num(&o["frame"]["b"]), 37.98, "{got}");
    assert_eq!(num(&o["frame"]["dbl"]), 19.0, "{got}");
    assert_eq!(o["frame"]["trace"]["radii"].as_array().unwrap().len(), 1000);
    let labels: Vec<&str> = got["labelsRead"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        labels.contains(&"TRCFMT") && !labels.contains(&"HBOX"),
        "{got}"
    );

    // The job file keeps the tracer's records (both traces, the drill holes) in order,
    // with the order's job added.
    let text = export(&s, &lab, &order["id"]).await;
    let out = records(&text);
    let src = records(std::str::from_utf8(&file).unwrap());
    let mut at = 0;
    for r in &src {
        let found = out[at..].iter().position(|o| o == r);
        assert!(found.is_some(), "{r:?} kept in order: {text}");
        at += found.unwrap() + 1;
    }
    assert_eq!(dcs::parse(&text).unwrap().traces().unwrap().len(), 2);
    assert_eq!(value_of(&out, "SPH"), Some("-2.25;-1.75"));
    assert_eq!(value_of(&out, "HBOX"), Some("48.00;48.00"));
    assert_eq!(
        value_of(&out, "JOB"),
        order["labJobNumber"].as_str().or(Some("?"))
    );
    s.finish().await;
}
