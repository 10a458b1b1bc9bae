//! One execution of an event for every socket it goes to. A subscription whose result
//! depends on the event alone (`events`) offers each event before it is executed
//! (`ils_kernel::events::SharedDelivery`); the protections extension then looks the result
//! up here by event, document (with its variables) and visibility (company, admin), and
//! executes only when no subscription with the same key has done so already. With 1,000
//! sockets of one company subscribed with the same document, an event is executed once and
//! copied 999 times, instead of being resolved, measured and reordered 1,000 times.
//!
//! The key holds everything the result can depend on: the event, the document and
//! variables (which fields, aliases and directives), and the visibility class the event
//! passed through (`Bus::visible_stream` lets through only the events addressed to the
//! subscriber's company, admins-only ones only to admins). A result is never shared
//! between companies, so even a field that came to depend on the company could not leak.

use async_graphql::Response;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
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

/// The results of the last events executed, shared by every subscription of the schema.
/// Holds at most `CAPACITY` results, dropping the oldest first (a result is wanted only
/// while its event is being fanned out, a few milliseconds).
#[derive(Default)]
pub struct SharedResponses(Mutex<Inner>);

#[derive(Default)]
struct Inner {
    results: HashMap<Key, Response>,
    /// Keys in the order they were filed.
    order: VecDeque<Key>,
}

const CAPACITY: usize = 256;

impl SharedResponses {
    /// A copy of the result filed under `key`.
    pub fn get(&self, key: &Key) -> Option<Response> {
        let inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        inner.results.get(key).map(copy)
    }

    /// Files a copy of `response` under `key` (the first one filed stays).
    pub fn put(&self, key: Key, response: &Response) {
        let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if inner.results.contains_key(&key) {
            return;
        }
        while inner.order.len() >= CAPACITY {
            if let Some(old) = inner.order.pop_front() {
                inner.results.remove(&old);
            }
        }
        inner.order.push_back(key.clone());
        inner.results.insert(key, copy(response));
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

    #[test]
    fn results_are_filed_by_the_whole_key_and_the_oldest_go_first() {
        let shared = SharedResponses::default();
        let k = |event: Uuid, company: Uuid, admin: bool| Key {
            event,
            document: "subscription { events { id } }".into(),
            company,
            admin,
        };
        let (e, a, b) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        shared.put(k(e, a, false), &Response::new(Value::from("for a")));
        assert_eq!(
            shared.get(&k(e, a, false)).unwrap().data,
            Value::from("for a")
        );
        assert!(shared.get(&k(e, b, false)).is_none(), "another company");
        assert!(shared.get(&k(e, a, true)).is_none(), "an admin");
        assert!(
            shared.get(&k(Uuid::now_v7(), a, false)).is_none(),
            "another event"
        );
        for _ in 0..CAPACITY {
            shared.put(k(Uuid::now_v7(), a, false), &Response::new(Value::Null));
        }
        assert!(
            shared.get(&k(e, a, false)).is_none(),
            "the oldest was dropped"
        );
    }
}
