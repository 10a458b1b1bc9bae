//! Lens orders between a practice and a lab: the journey from sign-up to shipment with
//! live events, the checks at submission, the workflow's rules and races, and that nobody
//! but the two parties sees an order (and the lab never the patient's name).

use ils_tests::orders::{Orders, connected, outsiders};
use ils_tests::progressive_draft;
use ils_tests::receiver::{Received, Receiver};
use ils_tests::ws;
use ils_tests::{TestServer, approve, email, eventually, listed_company, nodes};
use serde_json::{Value, json};
use std::time::Duration;

const FIELDS: &str = "fragment O on LensOrder { id orderNumber status version practiceId labId
    patient { id } patientRef patientName labJobNumber dueDate productionStage holdQuestion
    holdAnswer carrier trackingNumber rejectReason cancelReason jobType remakeOf { id } remakeReason
    patientBirthDate
    rxMinusCyl { right { sphere cylinder axis } }
    history { fromStatus toStatus actorCompanyId note } }";

const ORDERS: Orders = Orders::new(FIELDS);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_practices_first_order_goes_through_the_lab_to_shipment_and_is_followed_live() {
    // Webhooks to a local receiver are allowed here (never in production mode).
    let s = TestServer::start_with(|c| {
        c.webhook_allow_private = true;
        c.job_poll_ms = 100;
    })
    .await;
    let (_, practice, lab) = connected(&s, "Journey").await;
    // The practice also follows its orders by webhook.
    let rx = Receiver::start().await;
    let hook = s
        .ok(
            &practice.auth(),
            "mutation($url: String!, $types: [String!]!) {
                createWebhookEndpoint(input: { url: $url, eventTypes: $types }) {
                    secret webhookEndpoint { id eventTypes enabled } } }",
            json!({
                "url": rx.url("/hooks/orders"),
                "types": ["order.submitted", "order.status_changed", "order.shipped"]
            }),
        )
        .await;
    let hook_secret = hook["createWebhookEndpoint"]["secret"]
        .as_str()
        .expect("a webhook secret")
        .to_owned();
    assert_eq!(
        hook["createWebhookEndpoint"]["webhookEndpoint"]["enabled"], true,
        "{hook}"
    );
    // Live from here: a profile save is the sentinel that proves the subscription is on.
    let sentinel = || ws::profile_saved(&s, &practice);
    let mut socket = ws::subscribe_events_ready(
        &s,
        &practice.auth(),
        Some(&["order.*", "marketplace.profile_updated"]),
        sentinel,
    )
    .await;

    let order = ORDERS
        .draft(&s, &practice, progressive_draft("REF-7F3A"))
        .await;
    assert_eq!(order["status"], "DRAFT");
    assert_eq!(order["orderNumber"], "ORD-000001");
    assert_eq!(
        order["rxMinusCyl"]["right"],
        json!({ "sphere": "-2.25", "cylinder": "-0.75", "axis": 175 })
    );
    let (_, body) = ORDERS.submit(&s, &practice, &order, &lab).await;
    let order = body["data"]["submitOrder"]["order"].clone();
    assert_eq!(order["status"], "SUBMITTED", "{body}");
    assert_eq!(order["labId"], json!(lab.company_id));

    // The lab's inbox has it, with the reference and no name.
    let inbox = s
        .ok(
            &lab.auth(),
            &ORDERS.q("{ labOrders(first: 10) { edges { node { ...O } } } }"),
            json!({}),
        )
        .await;
    let seen = nodes(&inbox["labOrders"]);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["patientRef"], "REF-7F3A");
    assert_eq!(seen[0]["patientName"], Value::Null);
    assert_eq!(seen[0]["patient"], Value::Null);

    let o = ORDERS
        .moved(
            &s,
            &lab,
            &seen[0],
            "RECEIVED",
            json!({ "labJobNumber": "CV-1042" }),
        )
        .await;
    assert_eq!(o["labJobNumber"], "CV-1042");
    assert!(o["dueDate"].is_string(), "{o}");
    let o = ORDERS
        .moved(
            &s,
            &lab,
            &o,
            "ON_HOLD",
            json!({ "question": "Frame shape trace please?" }),
        )
        .await;
    let o = ORDERS
        .moved(
            &s,
            &practice,
            &o,
            "RECEIVED",
            json!({ "answer": "Sent by post today" }),
        )
        .await;
    assert_eq!(o["holdAnswer"], "Sent by post today");
    let mut o = o;
    for stage in ["SURFACING", "COATING", "EDGING", "ASSEMBLY"] {
        o = ORDERS
            .moved(&s, &lab, &o, "IN_PRODUCTION", json!({ "stage": stage }))
            .await;
        assert_eq!(o["productionStage"], stage);
    }
    let o = ORDERS.moved(&s, &lab, &o, "QUALITY_CHECK", json!({})).await;
    let o = ORDERS
        .moved(
            &s,
            &lab,
            &o,
            "SHIPPED",
            json!({ "carrier": "Royal Mail", "trackingNumber": "RM123456789GB" }),
        )
        .await;
    let o = ORDERS.moved(&s, &practice, &o, "ARRIVED", json!({})).await;
    let o = ORDERS
        .moved(&s, &practice, &o, "DELIVERED", json!({}))
        .await;
    let steps: Vec<&str> = o["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["toStatus"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "DRAFT",
            "SUBMITTED",
            "RECEIVED",
            "ON_HOLD",
            "RECEIVED",
            "IN_PRODUCTION",
            "IN_PRODUCTION",
            "IN_PRODUCTION",
            "IN_PRODUCTION",
            "QUALITY_CHECK",
            "SHIPPED",
            "ARRIVED",
            "DELIVERED"
        ]
    );
    assert_eq!(o["history"][2]["actorCompanyId"], json!(lab.company_id));
    assert_eq!(
        o["history"][4]["actorCompanyId"],
        json!(practice.company_id)
    );

    // Live: submitted, every status change, and the shipment, in order.
    let mut types = vec![];
    while types.len() < 13 {
        let ev = ws::next_event(&mut socket).await;
        let t = ev["type"].as_str().unwrap().to_owned();
        if t.starts_with("order.") {
            assert_eq!(ev["data"]["orderId"], order["id"], "{ev}");
            types.push(t);
        }
    }
    assert_eq!(types[0], "order.submitted");
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "order.status_changed")
            .count(),
        11
    );
    assert_eq!(types.iter().filter(|t| *t == "order.shipped").count(), 1);

    // By webhook: the submission, one status change per move (11 moves above: RECEIVED,
    // ON_HOLD, the practice's RECEIVED, 4 x IN_PRODUCTION, QUALITY_CHECK, SHIPPED, ARRIVED,
    // DELIVERED) and the shipment, each signed with the endpoint's secret.
    let expected = [
        ("order.submitted", 1),
        ("order.status_changed", 11),
        ("order.shipped", 1),
    ];
    let count_of = |got: &[Received], ty: &str| {
        got.iter()
            .filter(|r| r.json()["type"] == ty && r.json()["data"]["orderId"] == order["id"])
            .count()
    };
    rx.wait_until(
        Duration::from_secs(30),
        "every order event of the journey",
        |got| expected.iter().all(|(ty, n)| count_of(got, ty) >= *n),
    )
    .await;
    // Once every delivery of the endpoint has succeeded, nothing more is on its way.
    eventually(
        "13 webhook deliveries, all DELIVERED",
        Duration::from_secs(30),
        || async {
            let all = nodes(
                &s.ok(
                    &practice.auth(),
                    "{ webhookDeliveries(first: 100) { edges { node { eventType status } } } }",
                    json!({}),
                )
                .await["webhookDeliveries"],
            );
            if all.len() == 13 && all.iter().all(|d| d["status"] == "DELIVERED") {
                Ok(())
            } else {
                Err(all)
            }
        },
    )
    .await;
    let got = rx.requests();
    assert_eq!(got.len(), 13, "exactly the 13 order events were delivered");
    for (ty, n) in expected {
        assert_eq!(count_of(&got, ty), n, "{ty}");
    }
    let mut event_ids = vec![];
    for r in &got {
        let body = r.json();
        assert!(r.verifies(&hook_secret), "unsigned: {:?} {body}", r.headers);
        assert_eq!(r.path, "/hooks/orders");
        assert_eq!(body["data"]["orderId"], order["id"], "{body}");
        assert_eq!(
            r.header("x-ils-event-type"),
            body["type"].as_str(),
            "{body}"
        );
        assert_eq!(r.event_id(), body["id"].as_str(), "{body}");
        event_ids.push(body["id"].as_str().expect("an event id").to_owned());
    }
    event_ids.sort();
    event_ids.dedup();
    assert_eq!(event_ids.len(), 13, "each event delivered once");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_checks_the_whole_job_and_reports_every_problem() {
    let s = TestServer::start().await;
    let (_, practice, lab) = connected(&s, "Journey").await;
    let mut bad = progressive_draft("REF-BAD");
    bad["rx"]["right"]["axis"] = Value::Null; // cylinder without axis
    bad["rx"]["left"]["sphere"] = json!("-1.80"); // off the 0.25 grid
    bad["left"] = json!({}); // no fitting height for a progressive
    bad["lens"]["index"] = json!("1.55");
    let order = ORDERS.draft(&s, &practice, bad).await;
    let (_, body) = ORDERS.submit(&s, &practice, &order, &lab).await;
    let errors = body["errors"].as_array().expect("errors");
    let mut fields: Vec<String> = errors
        .iter()
        .map(|e| {
            assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{e}");
            e["extensions"]["field"].as_str().unwrap().to_owned()
        })
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "order.left.fittingHeight",
            "order.lens.index",
            "order.rx.left.sphere",
            "order.rx.right.axis"
        ],
        "{body}"
    );
    let still = ORDERS.read(&s, &practice, &order["id"]).await;
    assert_eq!(still["status"], "DRAFT");

    // An expired prescription is refused at submission; absurd numbers already at the draft.
    let mut expired = progressive_draft("REF-OLD");
    expired["rx"]["issuedOn"] = json!("2020-01-01");
    expired["rx"]["expiresOn"] = json!("2022-01-01");
    let old = ORDERS.draft(&s, &practice, expired).await;
    let (_, body) = ORDERS.submit(&s, &practice, &old, &lab).await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        json!("order.rx.expiresOn"),
        "{body}"
    );
    let mut huge = progressive_draft("REF-HUGE");
    huge["rx"]["right"]["sphere"] = json!("79228162514264337593543950335");
    let (_, body) = s
        .post(
            &practice.auth(),
            &ORDERS.q(
                "mutation($i: CreateOrderDraftInput!) { createOrderDraft(input: $i) { order { ...O } } }",
            ),
            json!({ "i": huge }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );

    // Only to a lab with an ACTIVE connection.
    let other_lab = s.sign_up("Stranger Lab", "LAB", &email("stranger")).await;
    let good = ORDERS
        .draft(&s, &practice, progressive_draft("REF-OK"))
        .await;
    let (_, body) = ORDERS.submit(&s, &practice, &good, &other_lab).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        json!("input.labId")
    );
    s.finish().await;
}

/// Drafts `job` and submits it to `lab`: `Ok` with the SUBMITTED order, or `Err` with every
/// refusal as (field, message), sorted by field; each must be BAD_USER_INPUT, nothing
/// answered, and the draft still a DRAFT.
async fn submitted_or_refused(
    s: &TestServer,
    practice: &ils_tests::Session,
    lab: &ils_tests::Session,
    job: Value,
) -> Result<Value, Vec<(String, String)>> {
    let order = ORDERS.draft(s, practice, job).await;
    let (_, body) = ORDERS.submit(s, practice, &order, lab).await;
    let Some(errors) = body["errors"].as_array() else {
        let order = body["data"]["submitOrder"]["order"].clone();
        assert_eq!(order["status"], "SUBMITTED", "{body}");
        return Ok(order);
    };
    assert_eq!(body["data"], Value::Null, "{body}");
    let mut refused: Vec<(String, String)> = errors
        .iter()
        .map(|e| {
            assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{e}");
            assert!(e["extensions"].get("problems").is_none(), "{e}");
            (
                e["extensions"]["field"]
                    .as_str()
                    .expect("a field")
                    .to_owned(),
                e["message"].as_str().expect("a message").to_owned(),
            )
        })
        .collect();
    refused.sort();
    let still = ORDERS.read(s, practice, &order["id"]).await;
    assert_eq!(still["status"], "DRAFT", "{body}");
    Err(refused)
}

/// The fields of `submitted_or_refused`'s refusals.
fn refused_fields(got: &Result<Value, Vec<(String, String)>>) -> Vec<&str> {
    match got {
        Ok(order) => panic!("submitted: {order}"),
        Err(refused) => refused.iter().map(|(f, _)| f.as_str()).collect(),
    }
}

/// Issue 16: every job needs its distance PD (binocular, or both monos), multifocal and
/// reading jobs their near PD too, and a binocular PD must agree with the monos' sum
/// within 1 mm; each problem is its own BAD_USER_INPUT error at its field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_needs_the_pupillary_distances_the_lens_needs() {
    let s = TestServer::start().await;
    let (_, practice, lab) = connected(&s, "Pupil").await;
    let job = |design: &str, rx: Value| json!({ "patientRef": "REF-PD", "rx": rx, "lens": { "design": design, "index": "1.50" } });
    let sv = |right: Value, left: Value, extra: Value| {
        let mut rx = json!({ "right": right, "left": left });
        for (k, v) in extra.as_object().unwrap() {
            rx[k] = v.clone();
        }
        job("SINGLE_VISION", rx)
    };
    let eye = |pd: Option<&str>| match pd {
        Some(pd) => json!({ "sphere": "-1.00", "distancePd": pd }),
        None => json!({ "sphere": "-1.00" }),
    };

    // A single-vision job with no PD at all: refused on the binocular PD.
    let got = submitted_or_refused(&s, &practice, &lab, sv(eye(None), eye(None), json!({}))).await;
    assert_eq!(refused_fields(&got), ["order.rx.binocularPd"], "{got:?}");
    let message = &got.as_ref().unwrap_err()[0].1;
    assert!(
        message.contains("distance PD is required")
            && message.contains("right.distancePd")
            && message.contains("left.distancePd"),
        "{message}"
    );
    // The right mono PD but not the left: refused on the left one.
    let got = submitted_or_refused(
        &s,
        &practice,
        &lab,
        sv(eye(Some("31.5")), eye(None), json!({})),
    )
    .await;
    assert_eq!(
        refused_fields(&got),
        ["order.rx.left.distancePd"],
        "{got:?}"
    );
    assert!(
        got.as_ref().unwrap_err()[0].1.contains("right.distancePd"),
        "{got:?}"
    );
    // Both monos, or the binocular PD alone: submitted.
    submitted_or_refused(
        &s,
        &practice,
        &lab,
        sv(eye(Some("31.5")), eye(Some("32.0")), json!({})),
    )
    .await
    .expect("both mono PDs");
    submitted_or_refused(
        &s,
        &practice,
        &lab,
        sv(eye(None), eye(None), json!({ "binocularPd": "63.5" })),
    )
    .await
    .expect("a binocular PD");
    // Binocular 66 against monos 31.5 + 32.0 = 63.5: the three fields are refused, each
    // naming the others; within 1 mm (64.5) it goes.
    let got = submitted_or_refused(
        &s,
        &practice,
        &lab,
        sv(
            eye(Some("31.5")),
            eye(Some("32.0")),
            json!({ "binocularPd": "66.0" }),
        ),
    )
    .await;
    assert_eq!(
        refused_fields(&got),
        [
            "order.rx.binocularPd",
            "order.rx.left.distancePd",
            "order.rx.right.distancePd"
        ],
        "{got:?}"
    );
    let refused = got.unwrap_err();
    assert_eq!(
        refused[0].1,
        "66.0 mm differs by more than 1 mm from right.distancePd + left.distancePd \
         (31.5 + 32.0 = 63.5 mm)"
    );
    assert!(
        refused[1].1.contains("binocularPd (66.0 mm)"),
        "{refused:?}"
    );
    submitted_or_refused(
        &s,
        &practice,
        &lab,
        sv(
            eye(Some("31.5")),
            eye(Some("32.0")),
            json!({ "binocularPd": "64.5" }),
        ),
    )
    .await
    .expect("within 1 mm");

    // A reading job needs the near PD too: binocular, or both monos.
    let reading = |extra: Value| {
        let mut rx = json!({
            "right": { "sphere": "1.00", "add": "2.00" },
            "left": { "sphere": "1.00", "add": "2.00" },
            "binocularPd": "63.0"
        });
        for (k, v) in extra.as_object().unwrap() {
            rx[k] = v.clone();
        }
        job("READING", rx)
    };
    let got = submitted_or_refused(&s, &practice, &lab, reading(json!({}))).await;
    assert_eq!(
        refused_fields(&got),
        ["order.rx.nearBinocularPd"],
        "{got:?}"
    );
    assert!(
        got.as_ref().unwrap_err()[0]
            .1
            .starts_with("for READING lenses the near PD is required"),
        "{got:?}"
    );
    submitted_or_refused(
        &s,
        &practice,
        &lab,
        reading(json!({ "nearBinocularPd": "60.0" })),
    )
    .await
    .expect("a near binocular PD");
    // No PD at all on a reading job: both are named, at once.
    let mut none = reading(json!({}));
    none["rx"].as_object_mut().unwrap().remove("binocularPd");
    let got = submitted_or_refused(&s, &practice, &lab, none).await;
    assert_eq!(
        refused_fields(&got),
        ["order.rx.binocularPd", "order.rx.nearBinocularPd"],
        "{got:?}"
    );

    // The standard progressive job with one near mono PD left out: that eye's.
    let mut pal = progressive_draft("REF-PD-PAL");
    pal["rx"]["left"].as_object_mut().unwrap().remove("nearPd");
    let got = submitted_or_refused(&s, &practice, &lab, pal).await;
    assert_eq!(refused_fields(&got), ["order.rx.left.nearPd"], "{got:?}");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn illegal_and_racing_moves_are_refused_and_cancelling_stops_at_production() {
    let s = TestServer::start().await;
    let (_, practice, lab) = connected(&s, "Journey").await;
    let order = ORDERS
        .draft(&s, &practice, progressive_draft("REF-1"))
        .await;
    let order = ORDERS.submitted(&s, &practice, &order, &lab).await;

    // The practice cannot accept for the lab; the lab cannot ship what it has not made.
    let (_, body) = ORDERS
        .mv(&s, &practice, &order, "RECEIVED", json!({}))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("CANCELLED"),
        "{body}"
    );
    let (_, body) = ORDERS
        .mv(
            &s,
            &lab,
            &order,
            "SHIPPED",
            json!({ "carrier": "X", "trackingNumber": "Y" }),
        )
        .await;
    let msg = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("RECEIVED") && msg.contains("REJECTED"),
        "{body}"
    );
    // A move needs what it needs.
    let (_, body) = ORDERS.mv(&s, &lab, &order, "REJECTED", json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        json!("input.reason"),
        "{body}"
    );

    // Two moves on the same version: one wins, the other is CONFLICT.
    let (a, b) = tokio::join!(
        ORDERS.mv(&s, &lab, &order, "RECEIVED", json!({})),
        ORDERS.mv(
            &s,
            &practice,
            &order,
            "CANCELLED",
            json!({ "reason": "patient changed mind" })
        )
    );
    let codes: Vec<Option<String>> = [&a.1, &b.1]
        .iter()
        .map(|b| ils_tests::first_code(b))
        .collect();
    assert_eq!(
        codes.iter().filter(|c| c.is_none()).count(),
        1,
        "{a:?} {b:?}"
    );
    assert!(codes.contains(&Some("CONFLICT".into())), "{codes:?}");

    // Cancelling: allowed before production, not after.
    let o2 = ORDERS
        .draft(&s, &practice, progressive_draft("REF-2"))
        .await;
    let (_, body) = ORDERS.submit(&s, &practice, &o2, &lab).await;
    let o2 = ORDERS
        .moved(
            &s,
            &lab,
            &body["data"]["submitOrder"]["order"],
            "RECEIVED",
            json!({}),
        )
        .await;
    let o2 = ORDERS
        .moved(
            &s,
            &lab,
            &o2,
            "IN_PRODUCTION",
            json!({ "stage": "SURFACING" }),
        )
        .await;
    let (_, body) = ORDERS.mv(&s, &practice, &o2, "CANCELLED", json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    // The same production stage twice is no move.
    let (_, body) = ORDERS
        .mv(
            &s,
            &lab,
            &o2,
            "IN_PRODUCTION",
            json!({ "stage": "SURFACING" }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        json!("input.stage"),
        "{body}"
    );

    // A cancellation keeps its reason apart from a lab's rejection.
    let o3 = ORDERS
        .draft(&s, &practice, progressive_draft("REF-3"))
        .await;
    let (_, body) = ORDERS.submit(&s, &practice, &o3, &lab).await;
    let o3 = ORDERS
        .moved(
            &s,
            &practice,
            &body["data"]["submitOrder"]["order"],
            "CANCELLED",
            json!({ "reason": "the patient moved away" }),
        )
        .await;
    assert_eq!(o3["cancelReason"], "the patient moved away");
    assert_eq!(o3["rejectReason"], Value::Null);

    // A remake is of lenses that were made: not of a job still in production.
    let remake_of = |original: &Value| {
        let mut r = progressive_draft("REF-2");
        r["jobType"] = json!("REMAKE");
        r["remakeOfId"] = original["id"].clone();
        r["remakeReason"] = json!("NON_ADAPT");
        r
    };
    let (_, body) = s
        .post(
            &practice.auth(),
            &ORDERS.q(
                "mutation($i: CreateOrderDraftInput!) { createOrderDraft(input: $i) { order { ...O } } }",
            ),
            json!({ "i": remake_of(&o2) }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        json!("input.remakeOfId"),
        "{body}"
    );
    let o2 = ORDERS
        .moved(&s, &lab, &o2, "QUALITY_CHECK", json!({}))
        .await;
    let o2 = ORDERS
        .moved(
            &s,
            &lab,
            &o2,
            "SHIPPED",
            json!({ "carrier": "DPD", "trackingNumber": "15501234" }),
        )
        .await;

    // A remake names its original and a reason.
    let remake = ORDERS.draft(&s, &practice, remake_of(&o2)).await;
    assert_eq!(remake["remakeOf"]["id"], o2["id"]);
    assert_eq!(remake["orderNumber"], "ORD-000004");
    assert_eq!(remake["remakeReason"], "NON_ADAPT");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_but_the_practice_and_its_lab_sees_an_order() {
    let s = TestServer::start().await;
    let (pa, practice, lab) = connected(&s, "Journey").await;
    let outsiders = outsiders(&s, &pa).await;
    approve(
        &s,
        &pa,
        &s.sign_up("Unused Lab", "LAB", &email("unused")).await,
    )
    .await;
    let patient = s
        .ok(
            &practice.auth(),
            "mutation { createPatient(input: { firstName: \"Ada\", lastName: \"Lovelace\", externalRef: \"PMS-9\" }) { patient { id } } }",
            json!({}),
        )
        .await;
    let mut input = progressive_draft("ignored");
    input.as_object_mut().unwrap().remove("patientRef");
    input["patientId"] = patient["createPatient"]["patient"]["id"].clone();
    let order = ORDERS.draft(&s, &practice, input).await;
    assert_eq!(order["patientRef"], "PMS-9");
    assert_eq!(
        order["patient"]["id"],
        patient["createPatient"]["patient"]["id"]
    );
    let order = ORDERS.submitted(&s, &practice, &order, &lab).await;

    // The lab: the order, the reference, never the name (not shared on this order).
    let theirs = ORDERS.read(&s, &lab, &order["id"]).await;
    assert_eq!(theirs["patientRef"], "PMS-9");
    assert_eq!(theirs["patientName"], Value::Null);
    assert_eq!(theirs["patientBirthDate"], Value::Null);
    assert_eq!(theirs["patient"], Value::Null);

    // Shared on purpose, on another order: the name and birth date, never the record's id;
    // sharing what the record does not have is refused.
    let dated = s
        .ok(
            &practice.auth(),
            "mutation { createPatient(input: { firstName: \"Grace\", lastName: \"Hopper\", dateOfBirth: \"1956-12-09\", externalRef: \"PMS-10\" }) { patient { id } } }",
            json!({}),
        )
        .await;
    let mut shared = progressive_draft("ignored");
    shared.as_object_mut().unwrap().remove("patientRef");
    shared["patientId"] = dated["createPatient"]["patient"]["id"].clone();
    shared["sharePatientName"] = json!(true);
    shared["sharePatientBirthDate"] = json!(true);
    let shared = ORDERS.draft(&s, &practice, shared).await;
    let (_, body) = ORDERS.submit(&s, &practice, &shared, &lab).await;
    assert!(body["errors"].is_null(), "{body}");
    let seen = ORDERS.read(&s, &lab, &shared["id"]).await;
    assert_eq!(seen["patientName"], "Grace Hopper");
    assert_eq!(seen["patientBirthDate"], "1956-12-09");
    assert_eq!(seen["patient"], Value::Null);
    let mut undated = progressive_draft("ignored");
    undated.as_object_mut().unwrap().remove("patientRef");
    undated["patientId"] = patient["createPatient"]["patient"]["id"].clone();
    undated["sharePatientBirthDate"] = json!(true);
    let (_, body) = s
        .post(
            &practice.auth(),
            &ORDERS.q(
                "mutation($i: CreateOrderDraftInput!) { createOrderDraft(input: $i) { order { ...O } } }",
            ),
            json!({ "i": undated }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        json!("input.sharePatientBirthDate"),
        "{body}"
    );

    for outsider in [&outsiders.lab, &outsiders.supplier, &outsiders.practice] {
        let one = ORDERS.read(&s, outsider, &order["id"]).await;
        assert_eq!(one, Value::Null);
        let node = s
            .ok(
                &outsider.auth(),
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": order["id"] }),
            )
            .await;
        assert_eq!(node["node"], Value::Null);
        for list in ["orders", "labOrders"] {
            let l = s
                .ok(
                    &outsider.auth(),
                    &format!("{{ {list}(first: 50) {{ edges {{ node {{ id }} }} }} }}"),
                    json!({}),
                )
                .await;
            assert!(nodes(&l[list]).is_empty(), "{list}: {l}");
        }
        let (_, body) = ORDERS.mv(&s, outsider, &order, "RECEIVED", json!({})).await;
        assert_eq!(
            ils_tests::first_code(&body).as_deref(),
            Some("NOT_FOUND"),
            "{body}"
        );
    }
    // The practice's read of an order that names its patient is in its audit log.
    s.ok(
        &practice.auth(),
        "query($id: ID!) { order(id: $id) { patient { id } } }",
        json!({ "id": order["id"] }),
    )
    .await;
    let reads = s
        .ok(
            &practice.auth(),
            "{ auditLog(filter: { operation: \"patient.read\" }, first: 10) { edges { node { targetIds } } } }",
            json!({}),
        )
        .await;
    assert!(
        nodes(&reads["auditLog"])
            .iter()
            .any(|e| e["targetIds"] == json!([order["id"]])),
        "{reads}"
    );
    // So is its read of the patient record through the order.
    assert!(
        nodes(&reads["auditLog"])
            .iter()
            .any(|e| e["targetIds"] == json!([patient["createPatient"]["patient"]["id"]])),
        "{reads}"
    );
    // A page of orders loads its patients together: one read, one audit entry naming them.
    let page = s
        .ok(
            &practice.auth(),
            "{ orders(first: 10) { edges { node { patient { id } } } } }",
            json!({}),
        )
        .await;
    let ada = patient["createPatient"]["patient"]["id"].clone();
    let grace = dated["createPatient"]["patient"]["id"].clone();
    let patients: Vec<Value> = nodes(&page["orders"])
        .iter()
        .map(|o| o["patient"]["id"].clone())
        .collect();
    assert_eq!(patients, [ada.clone(), grace.clone()], "{page}");
    let reads = s
        .ok(
            &practice.auth(),
            "{ auditLog(filter: { operation: \"patient.read\" }, last: 2) { edges { node { targetIds } } } }",
            json!({}),
        )
        .await;
    let newest: Vec<Value> = nodes(&reads["auditLog"])
        .iter()
        .map(|e| e["targetIds"].clone())
        .collect();
    assert_eq!(
        newest,
        [json!([order["id"], shared["id"]]), json!([ada, grace])],
        "{reads}"
    );
    // So do orders read together by `nodes`.
    let both = s
        .ok(
            &practice.auth(),
            "query($ids: [ID!]!) { nodes(ids: $ids) { ... on LensOrder { patient { id } } } }",
            json!({ "ids": [order["id"], shared["id"]] }),
        )
        .await;
    assert_eq!(
        both["nodes"],
        json!([{ "patient": { "id": ada } }, { "patient": { "id": grace } }]),
        "{both}"
    );
    let reads = s
        .ok(
            &practice.auth(),
            "{ auditLog(filter: { operation: \"patient.read\" }, last: 1) { edges { node { targetIds } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        nodes(&reads["auditLog"])[0]["targetIds"],
        json!([ada, grace]),
        "{reads}"
    );
    // The lab's inbox never loads a patient record.
    let inbox = s
        .ok(
            &lab.auth(),
            "{ labOrders(first: 10) { edges { node { patient { id } } } } }",
            json!({}),
        )
        .await;
    let seen = nodes(&inbox["labOrders"]);
    assert_eq!(seen.len(), 2, "{inbox}");
    assert!(seen.iter().all(|o| o["patient"].is_null()), "{inbox}");
    // Nothing moved.
    let mine = ORDERS.read(&s, &practice, &order["id"]).await;
    assert_eq!(mine["status"], "SUBMITTED");
    assert_eq!(mine["version"], order["version"]);
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_updated_streams_every_change_to_both_parties_and_nobody_else() {
    let s = TestServer::start().await;
    let (pa, practice, lab) = connected(&s, "Journey").await;
    let outsider = listed_company(&s, &pa, "Outside Lab", "LAB", json!({})).await;
    let order = ORDERS
        .draft(&s, &practice, progressive_draft("REF-LIVE"))
        .await;
    let order = ORDERS.submitted(&s, &practice, &order, &lab).await;
    const LIVE: &str =
        "subscription($id: ID!) { orderUpdated(id: $id) { status version order { id status } } }";

    // An outsider is refused at once, as for an order that does not exist.
    let mut theirs = ws::connect(&s, "graphql-transport-ws").await;
    ws::init(&mut theirs, &outsider.auth()).await;
    let refused = ws::collect_operation(
        &mut theirs,
        "x",
        LIVE,
        json!({ "id": order["id"] }),
        std::time::Duration::from_secs(10),
    )
    .await;
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_eq!(
        refused[0]["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused:?}"
    );
    assert_eq!(refused[0]["payload"]["data"], Value::Null, "{refused:?}");
    assert_eq!(refused[1]["type"], "complete", "{refused:?}");

    // Both parties follow it. Each stream starts with the order as it is, read after the
    // subscription listens: once that first update is in, no later change can be missed.
    let wait = Duration::from_secs(20);
    let mut sockets = vec![];
    for (who, id) in [(&practice, "p"), (&lab, "l")] {
        let mut socket = ws::connect(&s, "graphql-transport-ws").await;
        ws::init(&mut socket, &who.auth()).await;
        ws::start_operation(&mut socket, id, LIVE, json!({ "id": order["id"] })).await;
        let first = ws::collect_started(&mut socket, id, wait, 1).await;
        sockets.push((socket, id, first));
    }
    // The lab works while the streams are open.
    let o = ORDERS.moved(&s, &lab, &order, "RECEIVED", json!({})).await;
    let o = ORDERS
        .moved(
            &s,
            &lab,
            &o,
            "ON_HOLD",
            json!({ "question": "Which tint?" }),
        )
        .await;
    ORDERS
        .moved(
            &s,
            &practice,
            &o,
            "CANCELLED",
            json!({ "reason": "patient changed mind" }),
        )
        .await;
    let mut streams = vec![];
    for (mut socket, id, mut seen) in sockets {
        seen.extend(ws::collect_started(&mut socket, id, wait, usize::MAX).await);
        streams.push(seen);
    }
    for seen in streams {
        let statuses: Vec<&str> = seen
            .iter()
            .filter(|m| m["type"] == "next")
            .map(|m| {
                m["payload"]["data"]["orderUpdated"]["status"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(
            statuses,
            ["SUBMITTED", "RECEIVED", "ON_HOLD", "CANCELLED"],
            "{seen:?}"
        );
        assert_eq!(seen.last().unwrap()["type"], "complete", "{seen:?}");
    }
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_exports_as_a_dcs_job_for_its_parties_only() {
    let s = TestServer::start().await;
    let (pa, practice, lab) = connected(&s, "Journey").await;
    let outsider = listed_company(&s, &pa, "Outside Lab", "LAB", json!({})).await;
    let order = ORDERS
        .draft(&s, &practice, progressive_draft("REF7F3A"))
        .await;
    let order = ORDERS.submitted(&s, &practice, &order, &lab).await;
    let order = ORDERS
        .moved(
            &s,
            &lab,
            &order,
            "RECEIVED",
            json!({ "labJobNumber": "ECP1042-0007" }),
        )
        .await;
    const DCS: &str = "query($id: ID!) { orderDcs(id: $id) { fileName content storedAs } }";
    for who in [&practice, &lab] {
        let got = s.ok(&who.auth(), DCS, json!({ "id": order["id"] })).await;
        let text = got["orderDcs"]["content"].as_str().unwrap();
        // The file reads back with the DCS parser, and says what docs/domain.md's example says.
        let file = ils_orders::dcs::parse(text).expect("a valid DCS file");
        assert_eq!(file.get("JOB"), Some("ECP1042-0007"));
        assert_eq!(file.get("CLIENT"), Some("REF7F3A"));
        assert_eq!(file.get_pair("SPH"), Some((Some("-2.25"), Some("-1.75"))));
        assert_eq!(file.get_pair("CYL"), Some((Some("-0.75"), Some("-0.50"))));
        assert_eq!(file.get_pair("AX"), Some((Some("175"), Some("10"))));
        assert_eq!(file.get_pair("ADD"), Some((Some("2.00"), Some("2.00"))));
        assert_eq!(file.get_pair("IPD"), Some((Some("31.50"), Some("32.00"))));
        assert_eq!(file.get_pair("SEGHT"), Some((Some("19.00"), Some("19.00"))));
        assert_eq!(file.get_pair("HBOX"), Some((Some("52.00"), Some("52.00"))));
        assert_eq!(file.get("DBL"), Some("18.00"));
        assert_eq!(file.write(), text, "lossless");
        assert!(text.contains("\r\n"), "DCS lines end in CR LF");
        assert_eq!(got["orderDcs"]["fileName"], "ORD-000001.oma");
    }
    let code = s
        .error_code(&outsider.auth(), DCS, json!({ "id": order["id"] }))
        .await;
    assert_eq!(code, "NOT_FOUND");
    s.finish().await;
}

/// `ils_subscription_shared_results_total` now (the server's metrics are the process's).
async fn shared_results(s: &TestServer) -> u64 {
    let text = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("ils_subscription_shared_results_total "))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0)
}

/// Sockets of one company following one order with the same document share one execution
/// of each change (counted), and each still gets the whole update; a document that reads
/// the patient's record is executed for each socket (those reads are audited per user).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_following_one_order_share_each_change_unless_it_reads_audited_records() {
    let s = TestServer::start().await;
    let (_, practice, lab) = connected(&s, "Shared").await;
    let order = ORDERS
        .draft(&s, &practice, progressive_draft("REF-SHARE"))
        .await;
    let order = ORDERS.submitted(&s, &practice, &order, &lab).await;
    const PLAIN: &str = "subscription($id: ID!) { orderUpdated(id: $id) { status version order { id status labName history { toStatus } } } }";
    const AUDITED: &str = "subscription($id: ID!) { orderUpdated(id: $id) { status version order { id status patient { id } } } }";
    let wait = Duration::from_secs(20);

    let open = |doc: &'static str| {
        let (s, practice, id) = (&s, &practice, order["id"].clone());
        async move {
            let mut socket = ws::connect(s, "graphql-transport-ws").await;
            ws::init(&mut socket, &practice.auth()).await;
            ws::start_operation(&mut socket, "o", doc, json!({ "id": id })).await;
            let first = ws::collect_started(&mut socket, "o", wait, 1).await;
            assert_eq!(first[0]["type"], "next", "{doc}: {first:?}");
            assert!(
                first[0]["payload"].get("errors").is_none(),
                "{doc}: {first:?}"
            );
            socket
        }
    };
    let mut plain = vec![open(PLAIN).await, open(PLAIN).await, open(PLAIN).await];
    let before = shared_results(&s).await;
    let o = ORDERS.moved(&s, &lab, &order, "RECEIVED", json!({})).await;
    let mut updates = vec![];
    for socket in plain.iter_mut() {
        let got = ws::collect_started(socket, "o", wait, 1).await;
        assert_eq!(got[0]["type"], "next", "{got:?}");
        updates.push(got[0]["payload"].clone());
    }
    assert_eq!(updates[0]["data"]["orderUpdated"]["status"], "RECEIVED");
    let history = &updates[0]["data"]["orderUpdated"]["order"]["history"];
    assert!(
        history.as_array().is_some_and(|h| h.len() >= 2),
        "{updates:?}"
    );
    assert!(updates.iter().all(|u| *u == updates[0]), "{updates:?}");
    assert_eq!(
        shared_results(&s).await - before,
        2,
        "three sockets, one execution"
    );
    for mut socket in plain {
        socket.close(None).await.ok();
    }

    let mut audited = vec![open(AUDITED).await, open(AUDITED).await];
    let before = shared_results(&s).await;
    ORDERS
        .moved(
            &s,
            &lab,
            &o,
            "IN_PRODUCTION",
            json!({ "stage": "SURFACING" }),
        )
        .await;
    for socket in audited.iter_mut() {
        let got = ws::collect_started(socket, "o", wait, 1).await;
        assert_eq!(
            got[0]["payload"]["data"]["orderUpdated"]["status"], "IN_PRODUCTION",
            "{got:?}"
        );
    }
    assert_eq!(
        shared_results(&s).await - before,
        0,
        "a document reading the patient's record is executed per socket"
    );
    for mut socket in audited {
        socket.close(None).await.ok();
    }
    s.finish().await;
}

/// A party that stops following an order and comes back with `after:` the cursor of the
/// last update it received gets every change since, in order, in place of the state now,
/// then the live ones; each update carries its cursor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_updated_resumes_after_a_cursor_with_the_changes_missed() {
    let s = TestServer::start().await;
    let (_pa, practice, lab) = connected(&s, "Resume").await;
    let order = ORDERS
        .draft(&s, &practice, progressive_draft("REF-RESUME"))
        .await;
    let order = ORDERS.submitted(&s, &practice, &order, &lab).await;
    const LIVE: &str = "subscription($id: ID!, $after: String) { orderUpdated(id: $id, after: $after) { status version cursor } }";
    let wait = Duration::from_secs(20);
    let mut socket = ws::connect(&s, "graphql-transport-ws").await;
    ws::init(&mut socket, &practice.auth()).await;
    ws::start_operation(&mut socket, "p", LIVE, json!({ "id": order["id"] })).await;
    let first = ws::collect_started(&mut socket, "p", wait, 1).await;
    let first = &first[0]["payload"]["data"]["orderUpdated"];
    assert_eq!(first["status"], "SUBMITTED", "{first}");
    let cursor = first["cursor"].as_str().expect("a cursor").to_string();
    socket.close(None).await.ok();

    // While the practice is away the lab receives the order and puts it on hold.
    let o = ORDERS.moved(&s, &lab, &order, "RECEIVED", json!({})).await;
    let o = ORDERS
        .moved(
            &s,
            &lab,
            &o,
            "ON_HOLD",
            json!({ "question": "Which tint?" }),
        )
        .await;

    let mut back = ws::connect(&s, "graphql-transport-ws").await;
    ws::init(&mut back, &practice.auth()).await;
    ws::start_operation(
        &mut back,
        "p",
        LIVE,
        json!({ "id": order["id"], "after": cursor }),
    )
    .await;
    let missed = ws::collect_started(&mut back, "p", wait, 2).await;
    ORDERS
        .moved(
            &s,
            &practice,
            &o,
            "CANCELLED",
            json!({ "reason": "changed mind" }),
        )
        .await;
    let live = ws::collect_started(&mut back, "p", wait, usize::MAX).await;
    let updates: Vec<&Value> = missed
        .iter()
        .chain(&live)
        .filter(|m| m["type"] == "next")
        .map(|m| &m["payload"]["data"]["orderUpdated"])
        .collect();
    let statuses: Vec<&str> = updates
        .iter()
        .map(|u| u["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["RECEIVED", "ON_HOLD", "CANCELLED"],
        "{updates:?}"
    );
    // (`<event cursor>:<version>`, opaque to clients.)
    let seq = |c: &str| c.split_once(':').unwrap().0.parse::<i64>().unwrap();
    let cursors: Vec<i64> = updates
        .iter()
        .map(|u| seq(u["cursor"].as_str().unwrap()))
        .collect();
    assert!(cursors[0] > seq(&cursor), "{cursors:?}");
    assert!(cursors.windows(2).all(|p| p[0] < p[1]), "{cursors:?}");
    assert_eq!(live.last().unwrap()["type"], "complete", "{live:?}");
    s.finish().await;
}
