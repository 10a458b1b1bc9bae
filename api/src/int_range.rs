//! `Int` is a 32-bit signed integer (GraphQL specification, "Int"): a value outside
//! -2147483648..2147483647 cannot be coerced, so a document or variables holding one are
//! invalid. async-graphql's validation accepts any 64-bit integer for `Int` and leaves the
//! range to each field's Rust type: an `i32` argument then fails during execution (a field
//! error with partial data, not a request error), and an `i64` input field takes
//! `2147483648` as if it were valid. This finds such values before execution, so they
//! are validation errors (`GRAPHQL_VALIDATION_FAILED`, 400 for
//! `application/graphql-response+json`) like every other invalid input literal.

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    Directive, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::registry::{MetaInputValue, MetaType, MetaTypeName, Registry};
use async_graphql::{Name, Pos, Positioned, ServerError, Value, Variables};

/// The most nesting of selection sets and input values walked; validation has refused
/// anything deeper already (`MAX_NESTING` of the request pipeline, `extension.rs`).
const MAX_NESTING: usize = 64;

/// Arguments as written, each variable in them standing as null: a variable's value is
/// checked against the variable's own type (`variable_values`), and null is in range.
/// (A macro: the parser's value type, which may hold variables, is not exported.)
macro_rules! literals {
    ($given:expr) => {
        $given
            .iter()
            .map(|(name, v)| {
                let value = v
                    .node
                    .clone()
                    .into_const_with(|_| Ok::<_, std::convert::Infallible>(Value::Null))
                    .unwrap_or(Value::Null);
                (name, value)
            })
            .collect::<Vec<_>>()
    };
}

/// Every out-of-range `Int` in `doc`: literal arguments (of fields and directives, inside
/// input objects and lists, in every operation and fragment), and the selected operation's
/// variables (the values sent, or their defaults).
pub fn out_of_range(
    registry: &Registry,
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> Vec<ServerError> {
    let mut found = Vec::new();
    for (set, parent, on) in crate::order::roots(doc, registry) {
        directives(registry, on, &mut found);
        selections(registry, set, parent, 0, &mut found);
    }
    if let Some(op) = crate::order::operation(doc, operation_name) {
        variable_values(registry, op, variables, &mut found);
    }
    found
}

fn variable_values(
    registry: &Registry,
    op: &OperationDefinition,
    variables: &Variables,
    found: &mut Vec<ServerError>,
) {
    for def in &op.variable_definitions {
        let name = &def.node.name.node;
        let ty = def.node.var_type.node.to_string();
        let Some(value) = variables
            .get(name)
            .or(def.node.default_value.as_ref().map(|d| &d.node))
        else {
            continue;
        };
        if let Some((path, n)) = check(registry, &ty, value, 0) {
            let at = if path.is_empty() {
                String::new()
            } else {
                format!(" at \"{}\"", path.join("."))
            };
            found.push(ServerError::new(
                format!(
                    "Variable \"${name}\" got invalid value{at}; Int cannot represent non 32-bit signed integer value: {n}"
                ),
                Some(def.pos),
            ));
        }
    }
}

fn selections(
    registry: &Registry,
    set: &SelectionSet,
    parent: Option<&str>,
    nesting: usize,
    found: &mut Vec<ServerError>,
) {
    if nesting > MAX_NESTING {
        return;
    }
    for s in &set.items {
        match &s.node {
            Selection::Field(f) => {
                let field = parent
                    .and_then(|p| registry.types.get(p))
                    .and_then(|t| t.field_by_name(f.node.name.node.as_str()));
                if let Some(field) = field {
                    arguments(registry, &field.args, literals!(f.node.arguments), found);
                }
                directives(registry, &f.node.directives, found);
                let inner = field.map(|m| MetaTypeName::concrete_typename(&m.ty));
                selections(
                    registry,
                    &f.node.selection_set.node,
                    inner,
                    nesting + 1,
                    found,
                );
            }
            Selection::InlineFragment(i) => {
                let on = i
                    .node
                    .type_condition
                    .as_ref()
                    .map(|t| t.node.on.node.as_str())
                    .or(parent);
                directives(registry, &i.node.directives, found);
                selections(registry, &i.node.selection_set.node, on, nesting + 1, found);
            }
            // Fragments are walked once each, from their definitions.
            Selection::FragmentSpread(spread) => {
                directives(registry, &spread.node.directives, found);
            }
        }
    }
}

fn directives(registry: &Registry, list: &[Positioned<Directive>], found: &mut Vec<ServerError>) {
    for d in list {
        if let Some(meta) = registry.directives.get(d.node.name.node.as_str()) {
            arguments(registry, &meta.args, literals!(d.node.arguments), found);
        }
    }
}

fn arguments(
    registry: &Registry,
    args: &IndexMap<String, MetaInputValue>,
    given: Vec<(&Positioned<Name>, Value)>,
    found: &mut Vec<ServerError>,
) {
    for (name, value) in given {
        let Some(arg) = args.get(name.node.as_str()) else {
            continue;
        };
        if let Some((path, n)) = check(registry, &arg.ty, &value, 0) {
            found.push(out_of_range_argument(&name.node, &path, &n, name.pos));
        }
    }
}

fn out_of_range_argument(name: &str, path: &[String], n: &str, pos: Pos) -> ServerError {
    let at = if path.is_empty() {
        String::new()
    } else {
        format!(" at \"{}\"", path.join("."))
    };
    ServerError::new(
        format!(
            "Invalid value for argument \"{name}\"{at}: Int cannot represent non 32-bit signed integer value: {n}"
        ),
        Some(pos),
    )
}

/// The first out-of-range `Int` in `value`, a value of the type `ty` (written as the
/// registry writes types: `[Int!]!`): its path inside the value and the number as written.
/// Other problems (a wrong type, a null for a non-null) are validation's; they are not
/// looked for here.
fn check(
    registry: &Registry,
    ty: &str,
    value: &Value,
    nesting: usize,
) -> Option<(Vec<String>, String)> {
    if nesting > MAX_NESTING {
        return None;
    }
    match MetaTypeName::create(ty) {
        MetaTypeName::NonNull(inner) => check(registry, inner, value, nesting + 1),
        MetaTypeName::List(inner) => match value {
            Value::List(items) => items.iter().enumerate().find_map(|(i, item)| {
                check(registry, inner, item, nesting + 1).map(|(mut path, n)| {
                    path.insert(0, i.to_string());
                    (path, n)
                })
            }),
            // A single value stands for a list of one.
            other => check(registry, inner, other, nesting + 1),
        },
        MetaTypeName::Named(name) => match (registry.types.get(name)?, value) {
            (MetaType::Scalar { .. }, Value::Number(n)) if name == "Int" => {
                let in_range = n.as_i64().is_some_and(|i| i32::try_from(i).is_ok());
                // A number that is no integer at all (2.5, or past i64) is validation's
                // own "expected type Int".
                (!in_range && n.as_i64().is_some()).then(|| (Vec::new(), n.to_string()))
            }
            (MetaType::InputObject { input_fields, .. }, Value::Object(fields)) => {
                fields.iter().find_map(|(key, v)| {
                    let field = input_fields.get(key.as_str())?;
                    check(registry, &field.ty, v, nesting + 1).map(|(mut path, n)| {
                        path.insert(0, key.to_string());
                        (path, n)
                    })
                })
            }
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{InputObject, Object};

    #[derive(InputObject)]
    struct Move {
        quantity: i64,
        tags: Option<Vec<i32>>,
    }

    struct Query;
    #[Object]
    impl Query {
        async fn page(&self, first: Option<i32>, _after: Option<String>) -> i32 {
            first.unwrap_or(0)
        }
        async fn child(&self) -> Query {
            Query
        }
    }
    struct Mutation;
    #[Object]
    impl Mutation {
        async fn post(&self, input: Move, counts: Option<Vec<i64>>) -> i64 {
            input.quantity + counts.map_or(0, |c| c.len() as i64)
        }
    }

    fn registry() -> Registry {
        let mut r = Registry {
            query_type: "Query".into(),
            mutation_type: Some("Mutation".into()),
            ..Registry::default()
        };
        <Query as async_graphql::OutputType>::create_type_info(&mut r);
        <Mutation as async_graphql::OutputType>::create_type_info(&mut r);
        r
    }

    fn problems(query: &str, variables: serde_json::Value) -> Vec<String> {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        out_of_range(&registry(), &doc, None, &Variables::from_json(variables))
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    #[test]
    fn literals_past_32_bits_are_found_wherever_they_are() {
        let none: Vec<String> = vec![];
        assert_eq!(
            problems("{ page(first: 2147483647) }", serde_json::json!({})),
            none
        );
        assert_eq!(
            problems("{ page(first: -2147483648) }", serde_json::json!({})),
            none
        );
        let p = problems("{ page(first: 2147483648) }", serde_json::json!({}));
        assert_eq!(
            p,
            [
                "Invalid value for argument \"first\": Int cannot represent non 32-bit signed integer value: 2147483648"
            ]
        );
        assert_eq!(
            problems(
                "{ child { page(first: -2147483649) } }",
                serde_json::json!({})
            )
            .len(),
            1
        );
        assert_eq!(
            problems(
                "query { ... on Query { page(first: 3000000000) } } ",
                serde_json::json!({})
            )
            .len(),
            1
        );
        assert_eq!(
            problems(
                "{ ...F } fragment F on Query { page(first: 3000000000) }",
                serde_json::json!({})
            )
            .len(),
            1
        );
        // An i64 input field and a list of them are still `Int`.
        let p = problems(
            "mutation { post(input: { quantity: 2147483648 }) }",
            serde_json::json!({}),
        );
        assert_eq!(
            p,
            [
                "Invalid value for argument \"input\" at \"quantity\": Int cannot represent non 32-bit signed integer value: 2147483648"
            ]
        );
        assert_eq!(
            problems(
                "mutation { post(input: { quantity: 1, tags: [1, 4294967296] }) }",
                serde_json::json!({})
            ),
            [
                "Invalid value for argument \"input\" at \"tags.1\": Int cannot represent non 32-bit signed integer value: 4294967296"
            ]
        );
        assert_eq!(
            problems(
                "mutation { post(input: { quantity: 1 }, counts: 9999999999) }",
                serde_json::json!({})
            )
            .len(),
            1
        );
        // Directives' arguments are looked at too (these are Boolean: nothing to find).
        assert_eq!(
            problems("{ page @skip(if: false) }", serde_json::json!({})),
            none
        );
    }

    #[test]
    fn variables_past_32_bits_are_found_in_values_and_defaults() {
        let none: Vec<String> = vec![];
        let q = "query($n: Int) { page(first: $n) }";
        assert_eq!(problems(q, serde_json::json!({ "n": 5 })), none);
        assert_eq!(
            problems(q, serde_json::json!({ "n": 2147483648u64 })),
            [
                "Variable \"$n\" got invalid value; Int cannot represent non 32-bit signed integer value: 2147483648"
            ]
        );
        assert_eq!(
            problems(
                "query($n: Int = -2147483649) { page(first: $n) }",
                serde_json::json!({})
            )
            .len(),
            1
        );
        let m = "mutation($m: Move!) { post(input: $m) }";
        assert_eq!(
            problems(m, serde_json::json!({ "m": { "quantity": 2147483648u64 } })),
            [
                "Variable \"$m\" got invalid value at \"quantity\"; Int cannot represent non 32-bit signed integer value: 2147483648"
            ]
        );
        assert_eq!(
            problems(m, serde_json::json!({ "m": { "quantity": 7 } })),
            none
        );
    }
}
