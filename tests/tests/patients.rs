//! Patients are the practice's health data: only the practice reads or writes them, by
//! any path, and every read is in its audit log.

use ils_tests::{Auth, Session, TestServer, assert_bad_input, email, nodes};
use serde_json::{Value, json};

const CREATE: &str =
    "mutation($input: CreatePatientInput!) { createPatient(input: $input) { patient {
    id firstName lastName dateOfBirth email phone externalRef } } }";
const UPDATE: &str = "mutation($input: UpdatePatientInput!) { updatePatient(input: $input) {
    patient { id firstName lastName externalRef } } }";
const LIST: &str = "query($filter: PatientFilter) { patients(filter: $filter, first: 50) {
    edges { node { id firstName lastName externalRef } } } }";
const ONE: &str = "query($id: ID!) { patient(id: $id) { id firstName } }";
const NODE: &str =
    "query($id: ID!) { node(id: $id) { id ... on Patient { firstName dateOfBirth } } }";
const READS: &str = "{ auditLog(filter: { operation: \"patient.read\" }, first: 100) {
    edges { node { operation targetIds actorKind } } } }";

fn ada_input() -> Value {
    json!({ "firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1985-12-10",
            "email": "ada@example.com", "phone": "+44 20 7946 0000", "externalRef": "PMS-1042" })
}

async fn create(s: &TestServer, who: &Session, input: Value) -> Value {
    s.ok(&who.auth(), CREATE, json!({ "input": input })).await["createPatient"]["patient"].clone()
}

async fn audited_reads(s: &TestServer, admin: &Session) -> Vec<Vec<String>> {
    let log = s.ok(&admin.auth(), READS, json!({})).await;
    nodes(&log["auditLog"])
        .iter()
        .map(|e| {
            e["targetIds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_practice_keeps_its_patients_and_every_read_is_audited() {
    let s = TestServer::start().await;
    let practice = s.sign_up("Audit Optics", "ECP", &email("pat")).await;
    let ada = create(&s, &practice, ada_input()).await;
    assert_eq!(ada["dateOfBirth"], "1985-12-10");
    assert_eq!(ada["externalRef"], "PMS-1042");
    let grace = create(
        &s,
        &practice,
        json!({ "firstName": "Grace", "lastName": "Hopper", "externalRef": "PMS-7" }),
    )
    .await;
    assert!(
        audited_reads(&s, &practice).await.is_empty(),
        "creating is not reading"
    );

    // Search, by name or reference, any case.
    let found = s
        .ok(
            &practice.auth(),
            LIST,
            json!({ "filter": { "text": "lovelace" } }),
        )
        .await;
    assert_eq!(nodes(&found["patients"]).len(), 1);
    let found = s
        .ok(
            &practice.auth(),
            LIST,
            json!({ "filter": { "text": "pms 7" } }),
        )
        .await;
    assert_eq!(nodes(&found["patients"])[0]["id"], grace["id"]);
    let all = s.ok(&practice.auth(), LIST, json!({})).await;
    assert_eq!(nodes(&all["patients"]).len(), 2);

    let one = s
        .ok(&practice.auth(), ONE, json!({ "id": ada["id"] }))
        .await;
    assert_eq!(one["patient"]["firstName"], "Ada");
    let node = s
        .ok(&practice.auth(), NODE, json!({ "id": ada["id"] }))
        .await;
    assert_eq!(node["node"]["dateOfBirth"], "1985-12-10");

    let updated = s
        .ok(
            &practice.auth(),
            UPDATE,
            json!({ "input": { "id": grace["id"], "firstName": "Grace", "lastName": "Hopper", "externalRef": "PMS-8" } }),
        )
        .await;
    assert_eq!(updated["updatePatient"]["patient"]["externalRef"], "PMS-8");

    // Four reads with patients in them, each naming what it returned, oldest first.
    let (a, g) = (
        ada["id"].as_str().unwrap().to_owned(),
        grace["id"].as_str().unwrap().to_owned(),
    );
    let mut reads = audited_reads(&s, &practice).await;
    for r in &mut reads {
        r.sort();
    }
    let mut both = vec![a.clone(), g.clone()];
    both.sort();
    assert_eq!(
        reads,
        vec![
            vec![a.clone()],
            vec![g.clone()],
            both,
            vec![a.clone()],
            vec![a]
        ]
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patient_input_is_checked() {
    let s = TestServer::start().await;
    let practice = s.sign_up("Careful Optics", "ECP", &email("chk")).await;
    for (change, field) in [
        (json!({ "firstName": " " }), "firstName"),
        (json!({ "email": "not-an-address" }), "email"),
        (json!({ "dateOfBirth": "2999-01-01" }), "dateOfBirth"),
        (json!({ "phone": "call me" }), "phone"),
    ] {
        let mut input = ada_input();
        for (k, v) in change.as_object().unwrap() {
            input[k] = v.clone();
        }
        let (_, body) = s
            .post(&practice.auth(), CREATE, json!({ "input": input }))
            .await;
        assert_bad_input(&body["errors"][0], &["input", field]);
    }
    // Every problem at once, one error each.
    let (_, body) = s
        .post(
            &practice.auth(),
            CREATE,
            json!({ "input": { "firstName": " ", "lastName": "", "email": "nope",
                               "dateOfBirth": "1850-01-01", "phone": "call me" } }),
        )
        .await;
    let mut fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("errors: {body}"))
        .iter()
        .map(|e| {
            assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{e}");
            e["extensions"]["field"].as_str().unwrap()
        })
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "input.dateOfBirth",
            "input.email",
            "input.firstName",
            "input.lastName",
            "input.phone"
        ],
        "{body}"
    );
    let list = s.ok(&practice.auth(), LIST, json!({})).await;
    assert!(nodes(&list["patients"]).is_empty(), "nothing was written");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_other_company_reaches_a_practices_patients_by_any_path() {
    let s = TestServer::start().await;
    let practice = s.sign_up("Owner Optics", "ECP", &email("own")).await;
    let other = s.sign_up("Other Optics", "ECP", &email("oth")).await;
    let lab = s.sign_up("Some Lab", "LAB", &email("lab")).await;
    let ada = create(&s, &practice, ada_input()).await;
    let id = &ada["id"];

    let list = s.ok(&other.auth(), LIST, json!({})).await;
    assert!(nodes(&list["patients"]).is_empty());
    let one = s.ok(&other.auth(), ONE, json!({ "id": id })).await;
    assert_eq!(one["patient"], Value::Null);
    let node = s.ok(&other.auth(), NODE, json!({ "id": id })).await;
    assert_eq!(node["node"], Value::Null);
    let nodes_q = s
        .ok(
            &other.auth(),
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [id] }),
        )
        .await;
    assert_eq!(nodes_q["nodes"], json!([null]));
    let code = s
        .error_code(
            &other.auth(),
            UPDATE,
            json!({ "input": { "id": id, "firstName": "X", "lastName": "Y" } }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    // Labs and suppliers keep no patient records at all.
    assert_eq!(
        s.error_code(&lab.auth(), LIST, json!({})).await,
        "FORBIDDEN"
    );
    assert_eq!(
        s.error_code(&lab.auth(), CREATE, json!({ "input": ada_input() }))
            .await,
        "FORBIDDEN"
    );
    let node = s.ok(&lab.auth(), NODE, json!({ "id": id })).await;
    assert_eq!(node["node"], Value::Null);
    assert_eq!(
        s.error_code(&Auth::None, LIST, json!({})).await,
        "UNAUTHENTICATED"
    );

    // Nothing was read, so nothing is in the owner's log; the owner's record is intact.
    assert!(audited_reads(&s, &practice).await.is_empty());
    let one = s.ok(&practice.auth(), ONE, json!({ "id": id })).await;
    assert_eq!(one["patient"]["firstName"], "Ada");
    s.finish().await;
}

const PRESCRIBE: &str =
    "mutation($input: CreatePrescriptionInput!) { createPrescription(input: $input) {
    prescription { id patient { id } issuedOn prescriber
    rx { right { sphere cylinder axis add } left { sphere cylinder axis add } binocularPd }
    minusCyl { right { sphere cylinder axis } left { sphere cylinder axis } } } } }";
const RECORD: &str = "query($p: ID!) { patientRecord(patientId: $p) {
    patient { id firstName } prescriptions { id rx { right { sphere } } } } }";
const PRESCRIPTION_NODE: &str = "query($id: ID!) { node(id: $id) { id
    ... on Prescription { issuedOn prescriber patient { id } rx { right { sphere } } } } }";

/// The fields of every error of a response, sorted; each must be BAD_USER_INPUT.
fn bad_fields(body: &Value) -> Vec<String> {
    let mut fields: Vec<String> = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("expected errors, got {body}"))
        .iter()
        .map(|e| {
            assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{e}");
            e["extensions"]["field"].as_str().unwrap().to_owned()
        })
        .collect();
    fields.sort();
    fields
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prescriptions_are_checked_kept_in_minus_cylinder_form_and_read_with_an_audit() {
    let s = TestServer::start().await;
    let practice = s.sign_up("Rx Optics", "ECP", &email("rx")).await;
    let other = s.sign_up("Nosy Optics", "ECP", &email("nosy")).await;
    let ada = create(&s, &practice, ada_input()).await;
    // docs/domain.md's example: -3.00 +2.00 x30 is -1.00 -2.00 x120 in minus-cyl form.
    let rx = json!({
        "right": { "sphere": "-3.00", "cylinder": "+2.00", "axis": 30, "add": "2.00" },
        "left": { "sphere": "-1.75", "cylinder": "-0.50", "axis": 10, "add": "2.00" },
        "binocularPd": "63.5", "issuedOn": "2026-01-15", "prescriber": "Dr Iris Lens"
    });
    let made = s
        .ok(
            &practice.auth(),
            PRESCRIBE,
            json!({ "input": { "patientId": ada["id"], "rx": rx } }),
        )
        .await["createPrescription"]["prescription"]
        .clone();
    assert_eq!(made["patient"]["id"], ada["id"]);
    assert_eq!(made["issuedOn"], "2026-01-15");
    assert_eq!(made["rx"]["right"]["cylinder"], "2");
    assert_eq!(
        made["minusCyl"]["right"],
        json!({ "sphere": "-1", "cylinder": "-2", "axis": 120 })
    );
    assert_eq!(
        made["minusCyl"]["left"],
        json!({ "sphere": "-1.75", "cylinder": "-0.5", "axis": 10 })
    );

    // Off the grid, an axis without a cylinder: refused on the field, nothing kept.
    for (eye, field) in [
        (json!({ "sphere": "-1.10" }), "sphere"),
        (json!({ "sphere": "-1.00", "axis": 90 }), "axis"),
        (json!({ "sphere": "-1.00", "cylinder": "-0.75" }), "axis"),
    ] {
        let (_, body) = s
            .post(
                &practice.auth(),
                PRESCRIBE,
                json!({ "input": { "patientId": ada["id"],
                                   "rx": { "right": eye, "left": { "sphere": "0.00" } } } }),
            )
            .await;
        assert_bad_input(&body["errors"][0], &["input", "rx", "right", field]);
    }

    let record = s
        .ok(&practice.auth(), RECORD, json!({ "p": ada["id"] }))
        .await;
    let kept = record["patientRecord"]["prescriptions"].as_array().unwrap();
    assert_eq!(kept.len(), 1, "{record}");
    let reads = audited_reads(&s, &practice).await;
    assert_eq!(
        reads,
        vec![
            // Reading the patient of the new prescription (`prescription { patient }`).
            vec![ada["id"].as_str().unwrap().to_owned()],
            vec![
                ada["id"].as_str().unwrap().to_owned(),
                made["id"].as_str().unwrap().to_owned()
            ]
        ]
    );

    // Another practice: no record, no prescribing for someone else's patient.
    let theirs = s.ok(&other.auth(), RECORD, json!({ "p": ada["id"] })).await;
    assert_eq!(theirs["patientRecord"], Value::Null);
    let code = s
        .error_code(
            &other.auth(),
            PRESCRIBE,
            json!({ "input": { "patientId": ada["id"], "rx": rx } }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    s.finish().await;
}

/// A prescription with several problems gets one BAD_USER_INPUT error per problem, each at
/// its path in the input, all in the same response; nothing is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prescription_reports_every_problem_at_once() {
    let s = TestServer::start().await;
    let practice = s.sign_up("Many Optics", "ECP", &email("many")).await;
    let ada = create(&s, &practice, ada_input()).await;
    let bad = json!({
        // Off the 0.25 grid; a cylinder without an axis; an add out of range.
        "right": { "sphere": "-1.10", "cylinder": "-0.75", "add": "9.00" },
        // An axis without a cylinder; a prism without its base.
        "left": { "sphere": "-1.00", "axis": 90, "prismHorizontal": "1.00" },
        "binocularPd": "12.0",
        "issuedOn": "2026-01-15",
        "expiresOn": "2025-01-15"
    });
    let (_, body) = s
        .post(
            &practice.auth(),
            PRESCRIBE,
            json!({ "input": { "patientId": ada["id"], "rx": bad } }),
        )
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(
        bad_fields(&body),
        [
            "input.rx.binocularPd",
            "input.rx.expiresOn",
            "input.rx.left.axis",
            "input.rx.left.prismHorizontalBase",
            "input.rx.right.add",
            "input.rx.right.axis",
            "input.rx.right.sphere",
        ],
        "{body}"
    );
    // A malformed patient ID is one more problem of the same input, reported with the rest.
    let (_, body) = s
        .post(
            &practice.auth(),
            PRESCRIBE,
            json!({ "input": { "patientId": "not-an-id",
                               "rx": { "right": { "sphere": "-1.10" }, "left": { "sphere": "0.00" } } } }),
        )
        .await;
    assert_eq!(
        bad_fields(&body),
        ["input.patientId", "input.rx.right.sphere"],
        "{body}"
    );
    let record = s
        .ok(&practice.auth(), RECORD, json!({ "p": ada["id"] }))
        .await;
    assert_eq!(
        record["patientRecord"]["prescriptions"],
        json!([]),
        "nothing was kept"
    );
    s.finish().await;
}

/// Issue 16: three problems are three errors, each BAD_USER_INPUT at its own field with
/// its own message (as `submitOrder` reports), never one error "and 2 more problems". A
/// binocular PD that disagrees with the monos is one of them; a prescription without PDs
/// is kept (they are required when an order is submitted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_prescription_problems_are_three_errors_each_at_its_field() {
    let s = TestServer::start().await;
    let practice = s.sign_up("Three Optics", "ECP", &email("three")).await;
    let ada = create(&s, &practice, ada_input()).await;
    let bad = json!({
        // Off the 0.25 grid; an axis without a cylinder; a binocular PD 3 mm from the monos.
        "right": { "sphere": "-1.10", "distancePd": "31.5" },
        "left": { "sphere": "-1.00", "axis": 90, "distancePd": "32.0" },
        "binocularPd": "66.5"
    });
    let (_, body) = s
        .post(
            &practice.auth(),
            PRESCRIBE,
            json!({ "input": { "patientId": ada["id"], "rx": bad } }),
        )
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    let errors = body["errors"].as_array().expect("errors");
    let mut got: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| {
            assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{e}");
            assert!(e["extensions"].get("problems").is_none(), "{e}");
            let message = e["message"].as_str().unwrap();
            assert!(!message.contains("more problem"), "{e}");
            (e["extensions"]["field"].as_str().unwrap(), message)
        })
        .collect();
    got.sort();
    let fields: Vec<&str> = got.iter().map(|(f, _)| *f).collect();
    assert_eq!(
        fields,
        [
            "input.rx.binocularPd",
            "input.rx.left.axis",
            "input.rx.left.distancePd",
            "input.rx.right.distancePd",
            "input.rx.right.sphere",
        ],
        "{body}"
    );
    assert_eq!(
        got[0].1,
        "66.5 mm differs by more than 1 mm from right.distancePd + left.distancePd \
         (31.5 + 32.0 = 63.5 mm)"
    );
    assert_eq!(got[1].1, "only with a cylinder other than 0", "{body}");

    // Without any PD (measured later, at dispensing) it is kept.
    let made = s
        .ok(
            &practice.auth(),
            PRESCRIBE,
            json!({ "input": { "patientId": ada["id"],
                               "rx": { "right": { "sphere": "-1.00" }, "left": { "sphere": "-1.25" } } } }),
        )
        .await;
    assert!(
        made["createPrescription"]["prescription"]["id"].is_string(),
        "{made}"
    );
    s.finish().await;
}

/// A prescription loads through `node(id:)` for its practice (audited like the record),
/// and is null for any other company.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prescription_is_a_node_of_its_practice_only() {
    let s = TestServer::start().await;
    let practice = s.sign_up("Node Optics", "ECP", &email("node")).await;
    let other = s.sign_up("Other Optics", "ECP", &email("other")).await;
    let lab = s.sign_up("Node Lab", "LAB", &email("nodelab")).await;
    let ada = create(&s, &practice, ada_input()).await;
    let made = s
        .ok(
            &practice.auth(),
            "mutation($input: CreatePrescriptionInput!) { createPrescription(input: $input) {
                prescription { id } } }",
            json!({ "input": { "patientId": ada["id"], "rx": {
                "right": { "sphere": "-2.00" }, "left": { "sphere": "-2.25" },
                "issuedOn": "2026-02-01", "prescriber": "Dr Node" } } }),
        )
        .await["createPrescription"]["prescription"]
        .clone();
    let id = &made["id"];

    let node = s
        .ok(&practice.auth(), PRESCRIPTION_NODE, json!({ "id": id }))
        .await;
    assert_eq!(node["node"]["id"], *id, "{node}");
    assert_eq!(node["node"]["issuedOn"], "2026-02-01", "{node}");
    assert_eq!(node["node"]["prescriber"], "Dr Node", "{node}");
    assert_eq!(node["node"]["patient"]["id"], ada["id"], "{node}");
    assert_eq!(node["node"]["rx"]["right"]["sphere"], "-2", "{node}");
    let (p, a) = (
        ada["id"].as_str().unwrap().to_owned(),
        id.as_str().unwrap().to_owned(),
    );
    assert_eq!(
        audited_reads(&s, &practice).await,
        vec![vec![a.clone()], vec![p]],
        "the prescription and its patient, each read audited"
    );

    for outsider in [&other, &lab] {
        let node = s
            .ok(&outsider.auth(), PRESCRIPTION_NODE, json!({ "id": id }))
            .await;
        assert_eq!(node["node"], Value::Null, "{node}");
        let nodes_q = s
            .ok(
                &outsider.auth(),
                "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                json!({ "ids": [id] }),
            )
            .await;
        assert_eq!(nodes_q["nodes"], json!([null]), "{nodes_q}");
    }
    assert_eq!(
        audited_reads(&s, &practice).await.len(),
        2,
        "no read by others"
    );
    s.finish().await;
}
