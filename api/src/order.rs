//! Response keys in the order of the selection set. async-graphql resolves the fields of
//! a query's objects concurrently and writes each as it finishes, so two identical
//! requests could answer `{"me":…,"orders":…}` and `{"orders":…,"me":…}`. The GraphQL
//! specification asks for the order of the query ("Serialized Map Ordering"); clients
//! that compare responses, snapshot them or parse them as streams rely on it. This puts
//! every object of a response back in that order, once, after execution.
//!
//! The same walk knows each value's type from the schema, and writes every `Decimal` in
//! one canonical spelling (async-graphql writes a decimal with the scale it was stored
//! with: `12.50` and `12.5` for the same amount).

use async_graphql::parser::types::{
    Directive, ExecutableDocument, OperationDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::registry::Registry;
use async_graphql::{Name, Positioned, Value};

/// A selection set to walk, the type it selects on (when the schema knows it) and the
/// directives written on its operation or fragment.
pub type Root<'d> = (
    &'d SelectionSet,
    Option<&'d str>,
    &'d [Positioned<Directive>],
);

/// Where every walk of a document's inputs starts: each operation's selection set with its
/// root type, and each fragment's with its type condition (so a fragment is walked once,
/// from its definition), with the directives written on it.
pub fn roots<'d>(doc: &'d ExecutableDocument, registry: &'d Registry) -> Vec<Root<'d>> {
    let operations = doc.operations.iter().map(|(_, op)| {
        let root = match op.node.ty {
            OperationType::Query => Some(registry.query_type.as_str()),
            OperationType::Mutation => registry.mutation_type.as_deref(),
            OperationType::Subscription => registry.subscription_type.as_deref(),
        };
        (&op.node.selection_set.node, root, &op.node.directives[..])
    });
    let fragments = doc.fragments.values().map(|f| {
        let on = f.node.type_condition.node.on.node.as_str();
        (&f.node.selection_set.node, Some(on), &f.node.directives[..])
    });
    operations.chain(fragments).collect()
}

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

/// The schema's types, to know what a response value is (optional: without them the
/// response is only reordered).
pub type Types<'r> = Option<&'r async_graphql::registry::Registry>;

/// Reorders `data` (the response of `op`) to follow its selection set, and writes every
/// `Decimal` in canonical form (`crate::order::canonical_decimal`).
pub fn reorder(data: &mut Value, doc: &ExecutableDocument, op: &OperationDefinition, types: Types) {
    use async_graphql::parser::types::OperationType;
    let root = types.and_then(|r| match op.ty {
        OperationType::Query => Some(r.query_type.as_str()),
        OperationType::Mutation => r.mutation_type.as_deref(),
        OperationType::Subscription => r.subscription_type.as_deref(),
    });
    let plan = Plan::of(doc, &[(&op.selection_set.node, root)], types);
    plan.apply(data, doc, types);
}

/// A selection set and the type its fields are looked up in (when known).
type Scope<'d> = (&'d SelectionSet, Option<&'d str>);

/// How every object one selection answers is put in order: its response keys in the order
/// CollectFields meets them, each with what its value needs. A plan is made once per
/// selection, when a value first needs it, and serves every object of a list (a page of
/// 50 orders is planned once, not 50 times).
struct Plan<'d> {
    keys: Vec<(Name, Step<'d>)>,
}

enum Step<'d> {
    /// A leaf, or a `JSON` object (its keys are its own, left as they are, unwalked).
    Leave,
    /// A `Decimal` (or a list of them), written in canonical form.
    Decimal,
    /// An object (or a list of them) selected by these sets, planned on first use.
    Select(Vec<Scope<'d>>, std::cell::OnceCell<Plan<'d>>),
}

impl<'d> Plan<'d> {
    fn of(doc: &'d ExecutableDocument, sets: &[Scope<'d>], types: Types<'d>) -> Plan<'d> {
        // Every field selection of each key (a key may be selected in several fragments).
        let mut keys: Vec<(Name, Vec<Field<'d>>)> = Vec::new();
        for (set, ty) in sets {
            collect(set, *ty, doc, &mut keys, 0);
        }
        let keys = keys
            .into_iter()
            .map(|(key, fields)| {
                // Each selection's own type: one key may be selected on several types
                // (`... on A { x: amount } ... on B { x: note }`), and the runtime type of
                // the object is not known here.
                let typed: Vec<Option<&'d str>> = fields
                    .iter()
                    .map(|f| {
                        let r = types?;
                        let meta = r.types.get(f.parent?)?.field_by_name(f.name)?;
                        Some(async_graphql::registry::MetaTypeName::concrete_typename(
                            &meta.ty,
                        ))
                    })
                    .collect();
                // A value is rewritten as a decimal only when every selection of its key
                // that the schema knows is one: text that only looks like a number is left
                // as it was written.
                let known = || typed.iter().flatten();
                let step = if known().next().is_some() && known().all(|t| *t == "Decimal") {
                    Step::Decimal
                } else if fields.iter().any(|f| !f.selection_set.items.is_empty()) {
                    let subs = fields
                        .iter()
                        .zip(&typed)
                        .map(|(f, t)| (f.selection_set, *t))
                        .collect();
                    Step::Select(subs, std::cell::OnceCell::new())
                } else {
                    Step::Leave
                };
                (key, step)
            })
            .collect();
        Plan { keys }
    }

    fn apply(&self, value: &mut Value, doc: &'d ExecutableDocument, types: Types<'d>) {
        match value {
            Value::List(items) => {
                for item in items {
                    self.apply(item, doc, types);
                }
            }
            Value::Object(map) => {
                // An object that came out of execution already in order (on the page of
                // 50 orders, rebuilding every object was 8.7 % of the server's CPU) has its
                // values seen to in place; only one out of order is rebuilt.
                if self.in_order(map) {
                    let mut planned = self.keys.iter();
                    for (key, v) in map.iter_mut() {
                        if let Some((_, step)) = planned.by_ref().find(|(k, _)| k == key) {
                            self.step(step, v, doc, types);
                        }
                    }
                    return;
                }
                let mut old = std::mem::take(map);
                for (key, step) in &self.keys {
                    if let Some(mut v) = old.shift_remove(key) {
                        self.step(step, &mut v, doc, types);
                        map.insert(key.clone(), v);
                    }
                }
                // Anything not found in the document (nothing, in practice) keeps its
                // place after the rest.
                map.extend(old);
            }
            _ => {}
        }
    }

    fn step(&self, step: &Step<'d>, v: &mut Value, doc: &'d ExecutableDocument, types: Types<'d>) {
        match step {
            Step::Leave => {}
            Step::Decimal => canonical_decimals(v),
            Step::Select(subs, plan) => plan
                .get_or_init(|| Plan::of(doc, subs, types))
                .apply(v, doc, types),
        }
    }

    /// Whether the object's keys come in the plan's order (some may be missing: a field
    /// of a fragment on another type, or a skipped one).
    fn in_order(&self, map: &async_graphql::indexmap::IndexMap<Name, Value>) -> bool {
        let mut planned = self.keys.iter();
        map.keys()
            .all(|key| planned.by_ref().any(|(k, _)| k == key))
    }
}

/// One field selection: its name, the type it is looked up in, and its own selections.
struct Field<'d> {
    name: &'d str,
    parent: Option<&'d str>,
    selection_set: &'d SelectionSet,
}

/// A decimal in canonical form: no exponent, no trailing zeros, no negative zero
/// (`12.50` → `12.5`, `-0.000` → `0`, `3.0` → `3`). One value has one spelling, so
/// clients can compare and cache them as text.
pub fn canonical_decimal(text: &str) -> Option<String> {
    let d: rust_decimal::Decimal = text.parse().ok()?;
    Some(d.normalize().to_string())
}

fn canonical_decimals(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Some(c) = canonical_decimal(s) {
                *s = c;
            }
        }
        Value::List(items) => items.iter_mut().for_each(canonical_decimals),
        _ => {}
    }
}

/// Fragments nest at most this deep here; validation refuses cycles and the depth limits
/// bound real documents far below it.
const MAX_FRAGMENT_NESTING: usize = 64;

fn collect<'d>(
    set: &'d SelectionSet,
    parent: Option<&'d str>,
    doc: &'d ExecutableDocument,
    keys: &mut Vec<(Name, Vec<Field<'d>>)>,
    nesting: usize,
) {
    if nesting > MAX_FRAGMENT_NESTING {
        return;
    }
    for s in &set.items {
        match &s.node {
            Selection::Field(f) => {
                let key = f.node.response_key().node.clone();
                let field = Field {
                    name: f.node.name.node.as_str(),
                    parent,
                    selection_set: &f.node.selection_set.node,
                };
                match keys.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, fields)) => fields.push(field),
                    None => keys.push((key, vec![field])),
                }
            }
            Selection::InlineFragment(i) => {
                let on = i
                    .node
                    .type_condition
                    .as_ref()
                    .map(|t| t.node.on.node.as_str())
                    .or(parent);
                collect(&i.node.selection_set.node, on, doc, keys, nesting + 1)
            }
            Selection::FragmentSpread(spread) => {
                if let Some(frag) = doc.fragments.get(&spread.node.fragment_name.node) {
                    let on = Some(frag.node.type_condition.node.on.node.as_str());
                    collect(&frag.node.selection_set.node, on, doc, keys, nesting + 1);
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
        reorder(&mut data, &doc, op, None);
        assert_eq!(keys(&data), ["b", "orders"]);
        // async-graphql's Value serialises its objects in their order.
        let text = serde_json::to_string(&data).unwrap();
        assert_eq!(
            text,
            r#"{"b":{"z":2,"a":1,"m":{"q":2,"p":1}},"orders":{"edges":[{"node":{"y":3,"x":2,"w":1}},{"node":{"y":3,"x":2}}]}}"#
        );
    }

    /// A plan made for one item serves every item of a list, whatever keys the first
    /// item had: lists of lists, missing keys, a null sub-object, an empty list.
    #[test]
    fn one_plan_serves_every_item_of_a_list() {
        let doc = parse_query("{ rows { ... on A { a { q p } } ... on B { b c } } }").unwrap();
        let mut data = Value::from_json(serde_json::json!({
            "rows": [[{"a": null}], [{"c": 1, "b": 2, "a": {"p": 1, "q": 2}}], []]
        }))
        .unwrap();
        reorder(&mut data, &doc, operation(&doc, None).unwrap(), None);
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"rows":[[{"a":null}],[{"a":{"q":2,"p":1},"b":2,"c":1}],[]]}"#
        );
    }

    /// An object already in order (with keys missing) is kept as it is, and what it holds
    /// is still put in order; a key the document does not name sends it to be rebuilt.
    #[test]
    fn objects_in_order_are_walked_in_place() {
        let doc = parse_query("{ a b { q p } c d }").unwrap();
        let mut data = Value::from_json(serde_json::json!({
            "a": 1, "b": { "p": 1, "q": 2 }, "d": 4
        }))
        .unwrap();
        reorder(&mut data, &doc, operation(&doc, None).unwrap(), None);
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"a":1,"b":{"q":2,"p":1},"d":4}"#
        );
        let mut data = Value::from_json(serde_json::json!({ "x": 0, "d": 4, "a": 1 })).unwrap();
        reorder(&mut data, &doc, operation(&doc, None).unwrap(), None);
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"a":1,"d":4,"x":0}"#
        );
    }

    /// One response key selected on two types, a decimal on one and text on the other:
    /// the text is never rewritten, and each sub-selection is read on its own type.
    #[test]
    fn a_key_on_two_types_is_a_decimal_only_when_both_say_so() {
        use async_graphql::{Object, SimpleObject, Union};
        use rust_decimal::Decimal;
        #[derive(SimpleObject)]
        struct Inner {
            amount: Decimal,
        }
        #[derive(SimpleObject)]
        struct A {
            amount: Decimal,
            inner: Inner,
        }
        #[derive(SimpleObject)]
        struct B {
            note: String,
            inner: A,
        }
        #[derive(Union)]
        enum Row {
            A(A),
            B(B),
        }
        struct Query;
        #[Object]
        impl Query {
            async fn rows(&self) -> Vec<Row> {
                vec![]
            }
            async fn a(&self) -> Vec<A> {
                vec![]
            }
        }
        let mut r = Registry {
            query_type: "Query".into(),
            ..Registry::default()
        };
        <Query as async_graphql::OutputType>::create_type_info(&mut r);
        let doc = parse_query(
            "{ a { amount } rows { ... on A { x: amount y: inner { amount } } \
             ... on B { x: note y: inner { amount } } } }",
        )
        .unwrap();
        let mut data = Value::from_json(serde_json::json!({
            "a": [{ "amount": "2.50" }],
            "rows": [
                { "x": "12.50", "y": { "amount": "1.10" } },
                { "x": "7.0", "y": { "amount": "3.30" } }
            ]
        }))
        .unwrap();
        reorder(&mut data, &doc, operation(&doc, None).unwrap(), Some(&r));
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"a":[{"amount":"2.5"}],"rows":[{"x":"12.50","y":{"amount":"1.1"}},{"x":"7.0","y":{"amount":"3.3"}}]}"#
        );
    }

    #[test]
    fn decimals_have_one_spelling() {
        for (given, canonical) in [
            ("12.50", "12.5"),
            ("3.0", "3"),
            ("-0.000", "0"),
            ("100", "100"),
            ("0.0001", "0.0001"),
            ("-2.250", "-2.25"),
        ] {
            assert_eq!(
                canonical_decimal(given).as_deref(),
                Some(canonical),
                "{given}"
            );
        }
        assert_eq!(canonical_decimal("not a number"), None);
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
