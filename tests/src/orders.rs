//! Lens orders as the order tests drive them: a practice connected to a lab, and the
//! operations on an order (draft, update, submit, move, read), each answering with the
//! order as the test file's own fragment `O` selects it.

use crate::{Session, TestServer, email, listed_company};
use serde_json::{Value, json};

/// The order operations of one test file: every one selects the order through `fields`,
/// a `fragment O on LensOrder { ... }` with what that file checks.
#[derive(Clone, Copy, Debug)]
pub struct Orders {
    fields: &'static str,
}

impl Orders {
    pub const fn new(fields: &'static str) -> Orders {
        Orders { fields }
    }

    /// `op` (which spreads `...O`) with the fragment appended.
    pub fn q(&self, op: &str) -> String {
        format!("{op} {}", self.fields)
    }

    /// `createOrderDraft` of `input`; returns the draft.
    pub async fn draft(&self, s: &TestServer, who: &Session, input: Value) -> Value {
        s.ok(
            &who.auth(),
            &self.q(
                "mutation($i: CreateOrderDraftInput!) { createOrderDraft(input: $i) { order { ...O } } }",
            ),
            json!({ "i": input }),
        )
        .await["createOrderDraft"]["order"]
            .clone()
    }

    /// `updateOrderDraft` of `order` at `version` with `input` (the job's fields); returns
    /// the HTTP status and the body (the order at `data.updateOrderDraft.order`).
    pub async fn update(
        &self,
        s: &TestServer,
        who: &Session,
        order: &Value,
        version: i64,
        input: Value,
    ) -> (u16, Value) {
        let mut input = input;
        input["id"] = order["id"].clone();
        input["version"] = json!(version);
        s.post(
            &who.auth(),
            &self.q(
                "mutation($i: UpdateOrderDraftInput!) { updateOrderDraft(input: $i) { order { ...O } } }",
            ),
            json!({ "i": input }),
        )
        .await
    }

    /// `submitOrder` of `order` to `lab`; returns the HTTP status and the body (the order at
    /// `data.submitOrder.order`).
    pub async fn submit(
        &self,
        s: &TestServer,
        who: &Session,
        order: &Value,
        lab: &Session,
    ) -> (u16, Value) {
        s.post(
            &who.auth(),
            &self
                .q("mutation($i: SubmitOrderInput!) { submitOrder(input: $i) { order { ...O } } }"),
            json!({ "i": { "id": order["id"], "labId": lab.company_id } }),
        )
        .await
    }

    /// `submit`, which must succeed; returns the SUBMITTED order.
    pub async fn submitted(
        &self,
        s: &TestServer,
        who: &Session,
        order: &Value,
        lab: &Session,
    ) -> Value {
        let (_, body) = self.submit(s, who, order, lab).await;
        assert!(body.get("errors").is_none(), "submit: {body}");
        let order = body["data"]["submitOrder"]["order"].clone();
        assert_eq!(order["status"], "SUBMITTED", "{body}");
        order
    }

    /// `moveOrder` of `order` (at its version) to `to`, with the other `MoveOrderInput`
    /// fields in `extra` (an object); returns the HTTP status and the body (the order at
    /// `data.moveOrder.order`).
    pub async fn mv(
        &self,
        s: &TestServer,
        who: &Session,
        order: &Value,
        to: &str,
        extra: Value,
    ) -> (u16, Value) {
        let mut input = json!({ "id": order["id"], "version": order["version"], "to": to });
        for (k, v) in extra.as_object().expect("extra move fields as an object") {
            input[k] = v.clone();
        }
        s.post(
            &who.auth(),
            &self.q("mutation($i: MoveOrderInput!) { moveOrder(input: $i) { order { ...O } } }"),
            json!({ "i": input }),
        )
        .await
    }

    /// `mv`, which must succeed; returns the moved order.
    pub async fn moved(
        &self,
        s: &TestServer,
        who: &Session,
        order: &Value,
        to: &str,
        extra: Value,
    ) -> Value {
        let (_, body) = self.mv(s, who, order, to, extra).await;
        assert!(body.get("errors").is_none(), "{to}: {body}");
        body["data"]["moveOrder"]["order"].clone()
    }

    /// `order` (RECEIVED) through one production stage (SURFACING) to QUALITY_CHECK, moved
    /// by its `lab`; returns the order in QUALITY_CHECK, ready to ship.
    pub async fn through_production(&self, s: &TestServer, lab: &Session, order: &Value) -> Value {
        let order = self
            .moved(
                s,
                lab,
                order,
                "IN_PRODUCTION",
                json!({ "stage": "SURFACING" }),
            )
            .await;
        self.moved(s, lab, &order, "QUALITY_CHECK", json!({})).await
    }

    /// The order `id` as `who` reads it (null when they cannot).
    pub async fn read(&self, s: &TestServer, who: &Session, id: &Value) -> Value {
        s.ok(
            &who.auth(),
            &self.q("query($id: ID!) { order(id: $id) { ...O } }"),
            json!({ "id": id }),
        )
        .await["order"]
            .clone()
    }
}

/// A practice ("`name` Optics") actively connected to a listed, approved lab ("`name` Lens
/// Lab"); returns the platform admin, the practice and the lab.
pub async fn connected(s: &TestServer, name: &str) -> (Session, Session, Session) {
    let pa = s.platform_admin().await;
    let lab = listed_company(s, &pa, &format!("{name} Lens Lab"), "LAB", json!({})).await;
    let practice = s
        .sign_up(
            &format!("{name} Optics"),
            "ECP",
            &email(&name.to_lowercase()),
        )
        .await;
    crate::connect(s, &practice, &lab).await;
    (pa, practice, lab)
}

/// Companies that are no party to an order between a practice and its lab.
pub struct Outsiders {
    /// Another listed lab.
    pub lab: Session,
    /// A listed supplier.
    pub supplier: Session,
    /// Another practice.
    pub practice: Session,
}

/// Another listed lab ("Other Lab"), a listed supplier ("Some Supplier") and another
/// practice ("Other Optics"), the first two approved by the platform admin `pa`.
pub async fn outsiders(s: &TestServer, pa: &Session) -> Outsiders {
    Outsiders {
        lab: listed_company(s, pa, "Other Lab", "LAB", json!({})).await,
        supplier: listed_company(s, pa, "Some Supplier", "SUPPLIER", json!({})).await,
        practice: s.sign_up("Other Optics", "ECP", &email("other")).await,
    }
}
