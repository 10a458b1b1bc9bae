//! One execution of an event for every socket it goes to. A subscription whose result
//! depends on the event alone (`events`) offers each event before it is executed
//! (`ils_kernel::events::SharedDelivery`); the request pipeline (`extension.rs`) then
//! looks the result up here by event, document (with its variables) and visibility
//! (company, admin), and executes only when no subscription with the same key has done so
//! already. With 1,000
//! sockets of one company subscribed with the same document, an event is executed once and
//! copied 999 times, instead of being resolved, measured and reordered 1,000 times.
//!
//! The key holds everything the result can depend on: the event, the document and
//! variables (which fields, aliases and directives), and the visibility class the event
//! passed through (`Bus::visible_stream` lets through only the events addressed to the
//! subscriber's company, admins-only ones only to admins). A result is never shared
//! between companies, so even a field that came to depend on the company could not leak.

use async_graphql::Response;
use ils_kernel::coalesce::Coalesce;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use uuid::Uuid;

/// What one shared result is filed under.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Key {
    pub event: Uuid,
    /// The document and its variables, as the client sent them.
    pub document: Arc<str>,
    pub company: Uuid,
    pub admin: bool,
}

/// The results of the last events executed, shared by every subscription of the schema:
/// the first subscription to reach an event executes it and the others that reach it
/// meanwhile wait for that execution (sockets of one company get an event at the same
/// moment, so without waiting they would all execute it). Holds the last `CAPACITY` keys
/// (a result is wanted while its event is being fanned out, a few milliseconds).
pub struct SharedResponses(Coalesce<Key, Arc<Response>>);

impl Default for SharedResponses {
    fn default() -> Self {
        SharedResponses(Coalesce::new(CAPACITY))
    }
}

const CAPACITY: usize = 256;

impl SharedResponses {
    /// The result filed under `key`, executed by `execute` if no subscription has executed
    /// it (or is executing it); and whether it was shared rather than executed here.
    pub async fn get_or_execute<F, Fut>(&self, key: Key, execute: F) -> (Response, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Response>,
    {
        let executed = AtomicBool::new(false);
        let shared = self
            .0
            .get_or_try(key, || async {
                executed.store(true, Ordering::Relaxed);
                Ok::<_, Infallible>(Arc::new(execute().await))
            })
            .await;
        let response = match shared {
            Ok(r) => copy(&r),
            Err(never) => match never {},
        };
        (response, !executed.load(Ordering::Relaxed))
    }
}

/// A copy of a response (async-graphql's `Response` is not `Clone`).
fn copy(r: &Response) -> Response {
    let mut c = Response::new(r.data.clone());
    c.extensions = r.extensions.clone();
    c.cache_control = r.cache_control;
    c.errors = r.errors.clone();
    c.http_headers = r.http_headers.clone();
    c
}

/// The key of a document and its variables; `None` unless the document is one subscription
/// operation selecting one root field (the only shape whose every execution is one event
/// of one stream: two root fields are two streams, each with its own part of the result).
pub fn document_key(
    doc: &async_graphql::parser::types::ExecutableDocument,
    query: &str,
    variables: &async_graphql::Variables,
) -> Option<Arc<str>> {
    use async_graphql::parser::types::{OperationType, Selection};
    let mut ops = doc.operations.iter();
    let (_, op) = ops.next()?;
    let single = ops.next().is_none()
        && op.node.ty == OperationType::Subscription
        && matches!(
            op.node.selection_set.node.items.as_slice(),
            [one] if matches!(one.node, Selection::Field(_))
        );
    if !single {
        return None;
    }
    let variables = serde_json::to_string(variables).ok()?;
    Some(format!("{query}\u{0}{variables}").into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;
    use async_graphql::{Value, Variables};

    fn key(doc: &str) -> Option<Arc<str>> {
        document_key(&parse_query(doc).unwrap(), doc, &Variables::default())
    }

    #[test]
    fn only_one_subscription_field_is_shared() {
        assert!(key("subscription { events { id } }").is_some());
        assert!(key("subscription S($t: [String!]) { events(types: $t) { id data } }").is_some());
        assert!(key("subscription { events { id } a: events { type } }").is_none());
        assert!(key("subscription { ... on Subscription { events { id } } }").is_none());
        assert!(key("query { me { roles } }").is_none());
        assert!(key("subscription A { events { id } } subscription B { events { id } }").is_none());
        // Variables are part of the key.
        let doc = "subscription($t: [String!]) { events(types: $t) { id } }";
        let parsed = parse_query(doc).unwrap();
        let vars = |t: &str| Variables::from_json(serde_json::json!({ "t": [t] }));
        assert_ne!(
            document_key(&parsed, doc, &vars("order.*")),
            document_key(&parsed, doc, &vars("user.*"))
        );
    }

    #[tokio::test]
    async fn results_are_filed_by_the_whole_key_and_executed_once_per_key() {
        let shared = SharedResponses::default();
        let k = |event: Uuid, company: Uuid, admin: bool| Key {
            event,
            document: "subscription { events { id } }".into(),
            company,
            admin,
        };
        let (e, a, b) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let run = |v: &'static str| move || async move { Response::new(Value::from(v)) };
        let (r, was_shared) = shared.get_or_execute(k(e, a, false), run("for a")).await;
        assert_eq!((r.data, was_shared), (Value::from("for a"), false));
        let (r, was_shared) = shared.get_or_execute(k(e, a, false), run("again")).await;
        assert_eq!((r.data, was_shared), (Value::from("for a"), true));
        for (other, why) in [
            (k(e, b, false), "another company"),
            (k(e, a, true), "an admin"),
            (k(Uuid::now_v7(), a, false), "another event"),
        ] {
            let (r, was_shared) = shared.get_or_execute(other, run("own")).await;
            assert_eq!((r.data, was_shared), (Value::from("own"), false), "{why}");
        }
        // Concurrent askers of one key wait for the one execution.
        let key = k(Uuid::now_v7(), a, false);
        let slow = || async {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Response::new(Value::from("once"))
        };
        let results = futures_util::future::join_all(
            (0..5).map(|_| shared.get_or_execute(key.clone(), slow)),
        )
        .await;
        assert_eq!(
            results.iter().filter(|(_, s)| !s).count(),
            1,
            "one execution"
        );
        assert!(results.iter().all(|(r, _)| r.data == Value::from("once")));
    }
}
