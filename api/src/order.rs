//! Response keys in the order of the selection set. async-graphql resolves the fields of
//! a query's objects concurrently and writes each as it finishes, so two identical
//! requests could answer `{"me":…,"orders":…}` and `{"orders":…,"me":…}`. The GraphQL
//! specification asks for the order of the query ("Serialized Map Ordering"); clients
//! that compare responses, snapshot them or parse them as streams rely on it. This puts
//! every object of a response back in that order, once, after execution.

use async_graphql::parser::types::{
    ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Value};

/// The operation a request runs: the named one, or the only one.
pub fn operation<'d>(
    doc: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<&'d OperationDefinition> {
    let mut ops = doc.operations.iter();
    match name {
        Some(n) => ops
            .find(|(op_name, _)| op_name.map(|o| o.as_str()) == Some(n))
            .map(|(_, op)| &op.node),
        None => {
            let first = ops.next()?;
            ops.next().is_none().then_some(&first.1.node)
        }
    }
}

/// Reorders `data` (the response of `op`) to follow its selection set.
pub fn reorder(data: &mut Value, doc: &ExecutableDocument, op: &OperationDefinition) {
    reorder_value(data, doc, &[&op.selection_set.node]);
}

fn reorder_value(value: &mut Value, doc: &ExecutableDocument, sets: &[&SelectionSet]) {
    match value {
        Value::List(items) => {
            for item in items {
                reorder_value(item, doc, sets);
            }
        }
        Value::Object(map) => {
            // The response keys in the order CollectFields meets them, with every field
            // selection of each key (a key may be selected in several fragments).
            let mut keys: Vec<(Name, Vec<&SelectionSet>)> = Vec::new();
            for set in sets {
                collect(set, doc, &mut keys, 0);
            }
            let mut old = std::mem::take(map);
            for (key, sub) in keys {
                if let Some(mut v) = old.shift_remove(&key) {
                    reorder_value(&mut v, doc, &sub);
                    map.insert(key, v);
                }
            }
            // Anything not found in the document (nothing, in practice) keeps its place
            // after the rest.
            map.extend(old);
        }
        _ => {}
    }
}

/// Fragments nest at most this deep here; validation refuses cycles and the depth limits
/// bound real documents far below it.
const MAX_FRAGMENT_NESTING: usize = 64;

fn collect<'d>(
    set: &'d SelectionSet,
    doc: &'d ExecutableDocument,
    keys: &mut Vec<(Name, Vec<&'d SelectionSet>)>,
    nesting: usize,
) {
    if nesting > MAX_FRAGMENT_NESTING {
        return;
    }
    for s in &set.items {
        match &s.node {
            Selection::Field(f) => {
                let key = f.node.response_key().node.clone();
                let sub = &f.node.selection_set.node;
                match keys.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, subs)) => subs.push(sub),
                    None => keys.push((key, vec![sub])),
                }
            }
            Selection::InlineFragment(i) => {
                collect(&i.node.selection_set.node, doc, keys, nesting + 1)
            }
            Selection::FragmentSpread(spread) => {
                if let Some(frag) = doc.fragments.get(&spread.node.fragment_name.node) {
                    collect(&frag.node.selection_set.node, doc, keys, nesting + 1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn keys(v: &Value) -> Vec<String> {
        match v {
            Value::Object(m) => m.keys().map(|k| k.to_string()).collect(),
            _ => vec![],
        }
    }

    #[test]
    fn objects_follow_the_selection_set_through_fragments_and_lists() {
        let doc = parse_query(
            "query Q { b: me { z a ...F } orders { edges { node { y ... on LensOrder { x w } } } } }
             fragment F on Me { m { q p } }",
        )
        .unwrap();
        let mut data = Value::from_json(serde_json::json!({
            "orders": { "edges": [ { "node": { "w": 1, "x": 2, "y": 3 } }, { "node": { "x": 2, "y": 3 } } ] },
            "b": { "m": { "p": 1, "q": 2 }, "a": 1, "z": 2 }
        }))
        .unwrap();
        let op = operation(&doc, Some("Q")).unwrap();
        reorder(&mut data, &doc, op);
        assert_eq!(keys(&data), ["b", "orders"]);
        // async-graphql's Value serialises its objects in their order.
        let text = serde_json::to_string(&data).unwrap();
        assert_eq!(
            text,
            r#"{"b":{"z":2,"a":1,"m":{"q":2,"p":1}},"orders":{"edges":[{"node":{"y":3,"x":2,"w":1}},{"node":{"y":3,"x":2}}]}}"#
        );
    }

    #[test]
    fn the_operation_is_the_named_or_the_only_one() {
        let doc = parse_query("query A { a } query B { b }").unwrap();
        assert!(operation(&doc, None).is_none());
        assert!(operation(&doc, Some("B")).is_some());
        assert!(operation(&doc, Some("C")).is_none());
        let doc = parse_query("{ a }").unwrap();
        assert!(operation(&doc, None).is_some());
    }
}
