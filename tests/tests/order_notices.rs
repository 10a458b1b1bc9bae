//! What a practice hears about its orders without looking: an email to the person who
//! submitted an order whenever the lab does something the practice must know (and never
//! the patient's name), and due dates that follow the lab's own turnaround rules.

use chrono::{Datelike, NaiveDate, Weekday};
use ils_tests::mail::{Mail, all_mail};
use ils_tests::orders::{Orders, connected};
use ils_tests::progressive_draft;
use ils_tests::{
    Session, TestServer, assert_bad_input, eventually, listed_company, member_with_email,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

const FIELDS: &str = "fragment O on LensOrder { id orderNumber status version practiceId labId
    patient { id } patientRef patientName labJobNumber dueDate productionStage holdQuestion
    holdAnswer carrier trackingNumber rejectReason
    history { fromStatus toStatus actorCompanyId note } }";

const ORDERS: Orders = Orders::new(FIELDS);

fn single_vision_draft(patient_ref: &str) -> Value {
    json!({
        "patientRef": patient_ref,
        "rx": {
            "right": { "sphere": "-1.25", "cylinder": "-0.50", "axis": 90, "distancePd": "31.0" },
            "left": { "sphere": "-1.00", "cylinder": "-0.25", "axis": 80, "distancePd": "31.0" }
        },
        "lens": { "design": "SINGLE_VISION", "index": "1.60", "treatments": [] },
        "frame": { "a": "50", "b": "34", "dbl": "19", "ed": "53" }
    })
}

/// Lowercase, with `_` and `-` read as spaces (so ON_HOLD, On-hold and "on hold" match).
fn words_of(s: &str) -> String {
    s.to_lowercase().replace(['_', '-'], " ")
}

/// Waits for the mail about `order_number` whose subject names `status`, among the mail
/// not in `seen`; returns it.
async fn mail_about(
    dir: &Path,
    seen: &BTreeSet<PathBuf>,
    order_number: &str,
    status: &str,
) -> Mail {
    let word = words_of(status);
    eventually(
        &format!("a mail about {order_number} {status} in {}", dir.display()),
        WAIT,
        || {
            let fresh: Vec<Mail> = all_mail(dir)
                .into_iter()
                .filter(|m| !seen.contains(&m.path))
                .collect();
            let found = fresh
                .iter()
                .find(|m| m.subject.contains(order_number) && words_of(&m.subject).contains(&word))
                .cloned();
            let result = found.ok_or_else(|| {
                fresh
                    .iter()
                    .map(|m| format!("{} | {}", m.to, m.subject))
                    .collect::<Vec<_>>()
            });
            async move { result }
        },
    )
    .await
}

/// Waits until the job queue has nothing waiting or running (as the platform admin sees
/// it: every company's jobs and the platform's own).
async fn queue_idle(s: &TestServer, pa: &Session) {
    eventually("the job queue is idle", WAIT, || async {
        let stats = s
            .ok(&pa.auth(), "{ jobStats { status count } }", json!({}))
            .await;
        let busy: i64 = stats["jobStats"]
            .as_array()
            .expect("jobStats")
            .iter()
            .filter(|r| r["status"] == "QUEUED" || r["status"] == "RUNNING")
            .map(|r| r["count"].as_i64().unwrap())
            .sum();
        if busy == 0 { Ok(()) } else { Err(stats) }
    })
    .await;
}

/// The date as a practice might read it in a message.
fn date_forms(d: NaiveDate) -> Vec<String> {
    [
        "%Y-%m-%d",
        "%-d %B %Y",
        "%-d %b %Y",
        "%B %-d, %Y",
        "%d/%m/%Y",
    ]
    .iter()
    .map(|f| d.format(f).to_string())
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_practice_is_mailed_about_what_the_lab_does() {
    let s = TestServer::start_with(|c| c.job_poll_ms = 100).await;
    assert!(s.server.state.config.smtp_url.is_none());
    let mail_dir = s.mail_dir();
    let (pa, practice, lab) = connected(&s, "Notice").await;
    // The orders are drafted and submitted by a staff member, not the practice's admin:
    // the mail goes to whoever submitted.
    let (optician, optician_email) = member_with_email(&s, &practice, "STAFF").await;

    // The invitation mail is the only mail before any order; set it aside.
    eventually("the invitation mail", WAIT, || {
        let all = all_mail(&mail_dir);
        let ok = all.iter().any(|m| m.to.contains(&optician_email));
        let r = if ok { Ok(()) } else { Err(all) };
        async move { r }
    })
    .await;
    queue_idle(&s, &pa).await;
    let mut seen: BTreeSet<PathBuf> = all_mail(&mail_dir).into_iter().map(|m| m.path).collect();
    let before_orders = seen.clone();

    // A stored patient whose name the practice shares with the lab on these orders: even
    // so, it is never mailed.
    let patient = s
        .ok(
            &optician.auth(),
            "mutation { createPatient(input: { firstName: \"Philippa\", lastName: \"Quennell\", externalRef: \"PMS-4711\" }) { patient { id } } }",
            json!({}),
        )
        .await["createPatient"]["patient"]["id"]
        .clone();
    let from_patient = || {
        let mut input = progressive_draft("ignored");
        input.as_object_mut().unwrap().remove("patientRef");
        input["patientId"] = patient.clone();
        input["sharePatientName"] = json!(true);
        input
    };
    let check = |m: &Mail, number: &str| {
        assert!(
            m.to.contains(&optician_email),
            "mail to {} instead of the submitter {optician_email}: {}",
            m.to,
            m.text
        );
        assert!(m.subject.contains(number), "subject {:?}", m.subject);
        assert!(
            m.text.contains("PMS-4711"),
            "no patient reference in:\n{}",
            m.text
        );
        for name in ["Philippa", "Quennell"] {
            assert!(
                !m.text.contains(name),
                "the patient's name is in the mail:\n{}",
                m.text
            );
        }
    };

    // Submitted.
    let order = ORDERS.draft(&s, &optician, from_patient()).await;
    assert_eq!(order["patientRef"], "PMS-4711", "{order}");
    let number = order["orderNumber"].as_str().unwrap().to_owned();
    let order = ORDERS.submitted(&s, &optician, &order, &lab).await;
    let m = mail_about(&mail_dir, &seen, &number, "submitted").await;
    check(&m, &number);
    seen.insert(m.path);

    // Received by the lab: its job number and the due date.
    let order = ORDERS
        .moved(
            &s,
            &lab,
            &order,
            "RECEIVED",
            json!({ "labJobNumber": "LAB-77" }),
        )
        .await;
    let due: NaiveDate = order["dueDate"]
        .as_str()
        .expect("a due date")
        .parse()
        .unwrap();
    let m = mail_about(&mail_dir, &seen, &number, "received").await;
    check(&m, &number);
    assert!(m.text.contains("LAB-77"), "no lab job number:\n{}", m.text);
    assert!(
        date_forms(due).iter().any(|d| m.text.contains(d)),
        "no due date {due} in:\n{}",
        m.text
    );
    seen.insert(m.path);

    // On hold: the lab's question.
    let question = "Is the left PD really 32.0 mm or 33.0 mm?";
    let order = ORDERS
        .moved(&s, &lab, &order, "ON_HOLD", json!({ "question": question }))
        .await;
    let m = mail_about(&mail_dir, &seen, &number, "on hold").await;
    check(&m, &number);
    assert!(m.text.contains(question), "no question in:\n{}", m.text);
    seen.insert(m.path);

    // The practice answers (its own move: no mail); production and QC: no mail.
    let order = ORDERS
        .moved(
            &s,
            &optician,
            &order,
            "RECEIVED",
            json!({ "answer": "32.0 mm, measured twice" }),
        )
        .await;
    let order = ORDERS.through_production(&s, &lab, &order).await;

    // Shipped: the carrier and the tracking number.
    let order = ORDERS
        .moved(
            &s,
            &lab,
            &order,
            "SHIPPED",
            json!({ "carrier": "DPD Local", "trackingNumber": "15501234567890" }),
        )
        .await;
    let m = mail_about(&mail_dir, &seen, &number, "shipped").await;
    check(&m, &number);
    assert!(m.text.contains("DPD Local"), "no carrier in:\n{}", m.text);
    assert!(
        m.text.contains("15501234567890"),
        "no tracking number in:\n{}",
        m.text
    );
    seen.insert(m.path);

    // The practice's own moves: no mail.
    let order = ORDERS
        .moved(&s, &optician, &order, "ARRIVED", json!({}))
        .await;
    let order = ORDERS
        .moved(&s, &optician, &order, "DELIVERED", json!({}))
        .await;
    assert_eq!(order["status"], "DELIVERED");

    // A second order the lab rejects: its submission and the rejection with the reason.
    let second = ORDERS.draft(&s, &optician, from_patient()).await;
    let second_number = second["orderNumber"].as_str().unwrap().to_owned();
    assert_ne!(second_number, number);
    let second = ORDERS.submitted(&s, &optician, &second, &lab).await;
    let m = mail_about(&mail_dir, &seen, &second_number, "submitted").await;
    check(&m, &second_number);
    seen.insert(m.path);
    let reason = "The frame is too small for this prescription";
    let second = ORDERS
        .moved(&s, &lab, &second, "REJECTED", json!({ "reason": reason }))
        .await;
    assert_eq!(second["rejectReason"], reason, "{second}");
    let m = mail_about(&mail_dir, &seen, &second_number, "rejected").await;
    check(&m, &second_number);
    assert!(m.text.contains(reason), "no reason in:\n{}", m.text);
    seen.insert(m.path);

    // The rejection was the last event; once it is mailed and the queue has settled,
    // every event's mail would exist: exactly these six, one per mailing event.
    queue_idle(&s, &pa).await;
    let order_mail: Vec<Mail> = all_mail(&mail_dir)
        .into_iter()
        .filter(|m| !before_orders.contains(&m.path))
        .collect();
    let summary: Vec<String> = order_mail
        .iter()
        .map(|m| format!("{} | {}", m.to, m.subject))
        .collect();
    assert_eq!(order_mail.len(), 6, "{summary:#?}");
    let subjects_of = |n: &str| {
        let mut v: Vec<String> = order_mail
            .iter()
            .filter(|m| m.subject.contains(n))
            .map(|m| words_of(&m.subject))
            .collect();
        v.sort();
        v
    };
    let first = subjects_of(&number);
    assert_eq!(first.len(), 4, "{summary:#?}");
    for word in ["submitted", "received", "on hold", "shipped"] {
        assert_eq!(
            first.iter().filter(|s| s.contains(word)).count(),
            1,
            "{word}: {summary:#?}"
        );
    }
    let second_subjects = subjects_of(&second_number);
    assert_eq!(second_subjects.len(), 2, "{summary:#?}");
    for word in ["submitted", "rejected"] {
        assert_eq!(
            second_subjects.iter().filter(|s| s.contains(word)).count(),
            1,
            "{word}: {summary:#?}"
        );
    }
    for m in &order_mail {
        check(
            m,
            if m.subject.contains(&number) {
                &number
            } else {
                &second_number
            },
        );
    }
    s.finish().await;
}

// ---------------------------------------------------------------------------------------
// Turnaround.

const TURNAROUND: &str = "{ labTurnaround { baseDays tintDays
    designDays { design days } treatmentDays { treatment days } } }";
const UPDATE_TURNAROUND: &str =
    "mutation($i: UpdateLabTurnaroundInput!) { updateLabTurnaround(input: $i) { labTurnaround {
    baseDays tintDays designDays { design days } treatmentDays { treatment days } } } }";

/// A turnaround with its lists sorted (the API does not promise an order).
fn normalised(t: &Value) -> Value {
    let sorted = |list: &Value, key: &str| {
        let mut v: Vec<(String, i64)> = list
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {t}"))
            .iter()
            .map(|e| {
                (
                    e[key].as_str().unwrap().to_owned(),
                    e["days"].as_i64().unwrap(),
                )
            })
            .collect();
        v.sort();
        json!(v)
    };
    json!({
        "baseDays": t["baseDays"],
        "tintDays": t["tintDays"],
        "designDays": sorted(&t["designDays"], "design"),
        "treatmentDays": sorted(&t["treatmentDays"], "treatment"),
    })
}

/// `from` plus `n` working days (Saturdays and Sundays are not counted).
fn add_working_days(from: NaiveDate, n: u32) -> NaiveDate {
    let mut d = from;
    let mut left = n;
    while left > 0 {
        d = d.succ_opt().unwrap();
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    d
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// The lab receives `order` without a due date; returns the due date it got, checked to
/// be `n` working days after the day it was received (either side of a midnight UTC).
async fn received_due(s: &TestServer, lab: &Session, order: &Value, n: u32) -> NaiveDate {
    let before = today();
    let o = ORDERS.moved(s, lab, order, "RECEIVED", json!({})).await;
    let after = today();
    let due: NaiveDate = o["dueDate"]
        .as_str()
        .unwrap_or_else(|| panic!("no due date: {o}"))
        .parse()
        .unwrap();
    let expected = [add_working_days(before, n), add_working_days(after, n)];
    assert!(
        expected.contains(&due),
        "due {due}, expected {} ({n} working days from {before})",
        expected[0]
    );
    due
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lab_sets_its_own_turnaround_and_due_dates_follow_it() {
    let s = TestServer::start().await;
    let (_, practice, lab) = connected(&s, "Notice").await;
    let lab_staff = member_with_email(&s, &lab, "STAFF").await.0;
    let lab_manager = member_with_email(&s, &lab, "MANAGER").await.0;

    // The defaults, before any update; every member of the lab reads them.
    let defaults = json!({
        "baseDays": 3,
        "tintDays": 1,
        "designDays": [["BIFOCAL", 2], ["OFFICE", 2], ["PROGRESSIVE", 2], ["TRIFOCAL", 2]],
        "treatmentDays": [["ANTI_REFLECTIVE", 1], ["BLUE_FILTER", 1], ["PHOTOCHROMIC", 1], ["POLARISED", 1], ["TINT", 1]],
    });
    for who in [&lab, &lab_staff, &lab_manager] {
        let got = s.ok(&who.auth(), TURNAROUND, json!({})).await;
        assert_eq!(normalised(&got["labTurnaround"]), defaults, "{got}");
    }

    let valid = json!({
        "baseDays": 5,
        "designDays": [{ "design": "PROGRESSIVE", "days": 3 }],
        "treatmentDays": [
            { "treatment": "ANTI_REFLECTIVE", "days": 2 },
            { "treatment": "BLUE_FILTER", "days": 1 }
        ],
        "tintDays": 1
    });
    // Who may not: the lab's STAFF (update only), a practice (either).
    assert_eq!(
        s.error_code(&lab_staff.auth(), UPDATE_TURNAROUND, json!({ "i": valid }))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        s.error_code(&practice.auth(), UPDATE_TURNAROUND, json!({ "i": valid }))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        s.error_code(&practice.auth(), TURNAROUND, json!({})).await,
        "FORBIDDEN"
    );

    // What may not be: days outside 0..=60, a design or treatment listed twice.
    for (path, value) in [
        ("baseDays", json!(61)),
        ("baseDays", json!(-1)),
        ("tintDays", json!(61)),
        ("tintDays", json!(-1)),
        (
            "designDays",
            json!([{ "design": "PROGRESSIVE", "days": 61 }]),
        ),
        (
            "designDays",
            json!([{ "design": "PROGRESSIVE", "days": -1 }]),
        ),
        (
            "treatmentDays",
            json!([{ "treatment": "ANTI_REFLECTIVE", "days": 61 }]),
        ),
        (
            "treatmentDays",
            json!([{ "treatment": "ANTI_REFLECTIVE", "days": -1 }]),
        ),
        (
            "designDays",
            json!([{ "design": "PROGRESSIVE", "days": 3 }, { "design": "PROGRESSIVE", "days": 4 }]),
        ),
        (
            "treatmentDays",
            json!([{ "treatment": "BLUE_FILTER", "days": 1 }, { "treatment": "BLUE_FILTER", "days": 2 }]),
        ),
    ] {
        let mut input = valid.clone();
        input[path] = value.clone();
        let (_, body) = s
            .post(&lab.auth(), UPDATE_TURNAROUND, json!({ "i": input }))
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{path} = {value}: {body}"
        );
        // The field path names the input and the list or value at fault.
        let field = body["errors"][0]["extensions"]["field"]
            .as_str()
            .unwrap_or("");
        assert!(
            field == format!("input.{path}") || field.starts_with(&format!("input.{path}.")),
            "{body}"
        );
    }
    let unchanged = s.ok(&lab.auth(), TURNAROUND, json!({})).await;
    assert_eq!(
        normalised(&unchanged["labTurnaround"]),
        defaults,
        "a refused update changed nothing"
    );

    // The bounds themselves are fine.
    let mut edges = valid.clone();
    edges["baseDays"] = json!(0);
    edges["tintDays"] = json!(60);
    let set = s
        .ok(&lab.auth(), UPDATE_TURNAROUND, json!({ "i": edges }))
        .await;
    assert_eq!(
        (
            &set["updateLabTurnaround"]["labTurnaround"]["baseDays"],
            &set["updateLabTurnaround"]["labTurnaround"]["tintDays"]
        ),
        (&json!(0), &json!(60)),
        "{set}"
    );

    // A manager sets the lab's rules.
    let updated = s
        .ok(
            &lab_manager.auth(),
            UPDATE_TURNAROUND,
            json!({ "i": valid }),
        )
        .await["updateLabTurnaround"]["labTurnaround"]
        .clone();
    let now = normalised(&updated);
    assert_eq!(now["baseDays"], 5, "{updated}");
    assert_eq!(now["tintDays"], 1, "{updated}");
    let days_of = |list: &Value, name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|e| e[0] == name)
            .map(|e| e[1].clone())
    };
    assert_eq!(
        days_of(&now["designDays"], "PROGRESSIVE"),
        Some(json!(3)),
        "{updated}"
    );
    assert_eq!(
        days_of(&now["treatmentDays"], "ANTI_REFLECTIVE"),
        Some(json!(2)),
        "{updated}"
    );
    assert_eq!(
        days_of(&now["treatmentDays"], "BLUE_FILTER"),
        Some(json!(1)),
        "{updated}"
    );
    let read = s.ok(&lab.auth(), TURNAROUND, json!({})).await;
    assert_eq!(normalised(&read["labTurnaround"]), now, "{read}");

    // A tinted progressive with two treatments: 5 + 3 + max(2, 1) + 1 = 11 working days.
    let mut tinted = progressive_draft("REF-TAT-1");
    tinted["lens"]["treatments"] = json!(["ANTI_REFLECTIVE", "BLUE_FILTER"]);
    tinted["lens"]["tint"] = json!("Grey 50%");
    let o = ORDERS.draft(&s, &practice, tinted).await;
    let o = ORDERS.submitted(&s, &practice, &o, &lab).await;
    received_due(&s, &lab, &o, 11).await;

    // A single vision lens without treatments: the base days alone.
    let o = ORDERS
        .draft(&s, &practice, single_vision_draft("REF-TAT-2"))
        .await;
    let o = ORDERS.submitted(&s, &practice, &o, &lab).await;
    received_due(&s, &lab, &o, 5).await;

    // An explicit due date in the past is refused; today or later is taken as given.
    let o = ORDERS
        .draft(&s, &practice, progressive_draft("REF-TAT-3"))
        .await;
    let o = ORDERS.submitted(&s, &practice, &o, &lab).await;
    let yesterday = today().pred_opt().unwrap();
    let (_, body) = ORDERS
        .mv(
            &s,
            &lab,
            &o,
            "RECEIVED",
            json!({ "dueDate": yesterday.to_string() }),
        )
        .await;
    assert_bad_input(&body["errors"][0], &["input", "dueDate"]);
    let later = today() + chrono::Duration::days(30);
    let o = ORDERS
        .moved(
            &s,
            &lab,
            &o,
            "RECEIVED",
            json!({ "dueDate": later.to_string() }),
        )
        .await;
    assert_eq!(o["dueDate"], later.to_string(), "{o}");
    s.finish().await;
}

/// One lab's turnaround rules are its own: another lab keeps the defaults and its due
/// dates follow them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_labs_turnaround_is_not_another_labs() {
    let s = TestServer::start().await;
    let (pa, _, lab) = connected(&s, "Notice").await;
    let other = listed_company(&s, &pa, "Other Turnaround Lab", "LAB", json!({})).await;
    let before = s.ok(&other.auth(), TURNAROUND, json!({})).await;
    s.ok(
        &lab.auth(),
        UPDATE_TURNAROUND,
        json!({ "i": { "baseDays": 9, "designDays": [], "treatmentDays": [], "tintDays": 0 } }),
    )
    .await;
    let mine = s.ok(&lab.auth(), TURNAROUND, json!({})).await;
    assert_eq!(mine["labTurnaround"]["baseDays"], 9);
    let after = s.ok(&other.auth(), TURNAROUND, json!({})).await;
    assert_eq!(
        normalised(&after["labTurnaround"]),
        normalised(&before["labTurnaround"])
    );
    assert_eq!(after["labTurnaround"]["baseDays"], 3);
    s.finish().await;
}
