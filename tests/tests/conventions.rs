//! The schema's conventions, checked mechanically on the SDL the code generates (the same
//! text as `schema.graphql`). `docs/conventions.md` explains each rule; a rule broken
//! here names every place that breaks it.

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{
    BaseType, FieldDefinition, InputValueDefinition, ServiceDocument, Type, TypeDefinition,
    TypeKind, TypeSystemDefinition,
};

fn schema() -> ServiceDocument {
    parse_schema(ils_api::schema::sdl()).expect("the SDL parses")
}

fn types(doc: &ServiceDocument) -> Vec<&TypeDefinition> {
    doc.definitions
        .iter()
        .filter_map(|d| match d {
            TypeSystemDefinition::Type(t) => Some(&t.node),
            _ => None,
        })
        .collect()
}

fn type_name(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(n) => n.as_str(),
        BaseType::List(inner) => type_name(inner),
    }
}

fn fields(t: &TypeDefinition) -> Vec<&FieldDefinition> {
    match &t.kind {
        TypeKind::Object(o) => o.fields.iter().map(|f| &f.node).collect(),
        TypeKind::Interface(i) => i.fields.iter().map(|f| &f.node).collect(),
        _ => vec![],
    }
}

fn input_fields(t: &TypeDefinition) -> Vec<&InputValueDefinition> {
    match &t.kind {
        TypeKind::InputObject(o) => o.fields.iter().map(|f| &f.node).collect(),
        _ => vec![],
    }
}

fn described(d: &Option<async_graphql::Positioned<String>>) -> bool {
    d.as_ref().is_some_and(|d| !d.node.trim().is_empty())
}

fn assert_none(rule: &str, broken: Vec<String>) {
    assert!(
        broken.is_empty(),
        "{rule}: {} place(s) break it:\n  {}",
        broken.len(),
        broken.join("\n  ")
    );
}

/// Every type, field, argument, input field and enum value has a description.
#[test]
fn everything_is_described() {
    let doc = schema();
    let mut total = 0usize;
    let mut missing = Vec::new();
    let mut check = |what: String, d: &Option<async_graphql::Positioned<String>>| {
        total += 1;
        if !described(d) {
            missing.push(what);
        }
    };
    for t in types(&doc) {
        let name = t.name.node.as_str();
        check(format!("type {name}"), &t.description);
        for f in fields(t) {
            check(format!("{name}.{}", f.name.node), &f.description);
            for a in &f.arguments {
                check(
                    format!("{name}.{}({})", f.name.node, a.node.name.node),
                    &a.node.description,
                );
            }
        }
        for f in input_fields(t) {
            check(format!("{name}.{}", f.name.node), &f.description);
        }
        if let TypeKind::Enum(e) = &t.kind {
            for v in &e.values {
                check(format!("{name}.{}", v.node.value.node), &v.node.description);
            }
        }
    }
    let coverage = 100.0 * (total - missing.len()) as f64 / total as f64;
    println!("descriptions: {coverage:.1} % of {total}");
    assert_none(
        &format!("described: every element described ({coverage:.1} % of {total})"),
        missing,
    );
}

/// Every mutation takes one argument, `input: …Input!` (or none), and returns a non-null
/// `…Payload`.
#[test]
fn mutations_take_one_input_and_return_a_payload() {
    let doc = schema();
    let mut broken = Vec::new();
    for t in types(&doc)
        .into_iter()
        .filter(|t| t.name.node == "Mutation")
    {
        for f in fields(t) {
            let name = f.name.node.as_str();
            let args: Vec<_> = f.arguments.iter().map(|a| &a.node).collect();
            let input_ok = args.is_empty()
                || (args.len() == 1
                    && args[0].name.node == "input"
                    && !args[0].ty.node.nullable
                    && type_name(&args[0].ty.node).ends_with("Input"));
            if !input_ok {
                broken.push(format!("{name}: arguments are not one `input: …Input!`"));
            }
            let ret = &f.ty.node;
            if ret.nullable || !type_name(ret).ends_with("Payload") {
                broken.push(format!("{name}: returns {ret}, not a non-null …Payload"));
            }
        }
    }
    assert_none("mutation: takes one input and returns a payload", broken);
}

/// `status`, never `state`; and status, category, kind and type fields are non-null.
#[test]
fn status_is_one_word_and_always_there() {
    let doc = schema();
    let mut broken = Vec::new();
    for t in types(&doc) {
        let tname = t.name.node.as_str();
        if tname.starts_with("__") {
            continue;
        }
        for f in fields(t) {
            let name = f.name.node.as_str();
            if name == "state" || name == "states" {
                broken.push(format!("{tname}.{name}: call it status"));
            }
            if ["status", "category", "kind", "type"].contains(&name) && f.ty.node.nullable {
                broken.push(format!("{tname}.{name}: nullable"));
            }
        }
        for f in input_fields(t) {
            let name = f.name.node.as_str();
            if name == "state" || name == "states" {
                broken.push(format!("{tname}.{name}: call it status"));
            }
        }
    }
    assert_none("status: one word and non-null", broken);
}

/// Every connection counts its items.
#[test]
fn every_connection_has_a_total_count() {
    let doc = schema();
    let mut broken = Vec::new();
    for t in types(&doc) {
        let name = t.name.node.as_str();
        let has = |field: &str| fields(t).iter().any(|f| f.name.node == field);
        if !(has("edges") && has("pageInfo")) {
            continue;
        }
        let ok = fields(t).iter().any(|f| {
            f.name.node == "totalCount" && type_name(&f.ty.node) == "Int" && !f.ty.node.nullable
        });
        if !ok {
            broken.push(name.to_owned());
        }
    }
    assert_none("total-count: every connection has totalCount: Int!", broken);
}

/// Every object with a global ID is a `Node` (and so loads through `node(id:)`).
#[test]
fn every_global_id_type_is_a_node() {
    let doc = schema();
    let mut broken = Vec::new();
    for t in types(&doc) {
        let TypeKind::Object(o) = &t.kind else {
            continue;
        };
        let has_id = o.fields.iter().any(|f| {
            f.node.name.node == "id"
                && type_name(&f.node.ty.node) == "ID"
                && !f.node.ty.node.nullable
        });
        let is_node = o.implements.iter().any(|i| i.node == "Node");
        if has_id && !is_node {
            broken.push(t.name.node.to_string());
        }
    }
    assert_none("node: every type with `id: ID!` implements Node", broken);
}

/// One filter naming: an argument called `filter` takes a `…Filter`, and a `…Filter`
/// argument is called `filter`.
#[test]
fn filters_have_one_name() {
    let doc = schema();
    let mut broken = Vec::new();
    for t in types(&doc) {
        for f in fields(t) {
            for a in &f.arguments {
                let (arg, ty) = (a.node.name.node.as_str(), type_name(&a.node.ty.node));
                if (arg == "filter") != ty.ends_with("Filter") {
                    broken.push(format!("{}.{}({arg}: {ty})", t.name.node, f.name.node));
                }
            }
        }
    }
    assert_none("filter: filters are `filter: …Filter`", broken);
}

/// No Rust type names reach clients: scalars are named for what they hold, and no
/// description mentions a Rust type.
#[test]
fn no_rust_names_in_the_schema() {
    let doc = schema();
    let mut broken = Vec::new();
    for t in types(&doc) {
        let name = t.name.node.as_str();
        if name.starts_with("Naive") || name.contains("Utc") {
            broken.push(format!("type {name}"));
        }
        let text = t
            .description
            .as_ref()
            .map(|d| d.node.as_str())
            .unwrap_or("");
        for rust in [
            "<Utc>",
            "NaiveDate",
            "chrono",
            "rust_decimal",
            "Option<",
            "Vec<",
        ] {
            if text.contains(rust) {
                broken.push(format!("description of {name} mentions {rust}"));
            }
        }
    }
    assert_none("rust-name: no Rust names", broken);
}

/// Amounts of money are `Money` (amount and currency), never a bare Decimal.
#[test]
fn money_is_money() {
    let doc = schema();
    let mut broken = Vec::new();
    for t in types(&doc) {
        let tname = t.name.node.as_str();
        if tname == "Money" || tname == "MoneyInput" {
            continue;
        }
        let all: Vec<(&str, &Type)> = fields(t)
            .into_iter()
            .map(|f| (f.name.node.as_str(), &f.ty.node))
            .chain(
                input_fields(t)
                    .into_iter()
                    .map(|f| (f.name.node.as_str(), &f.ty.node)),
            )
            .collect();
        for (name, ty) in all {
            let lower = name.to_lowercase();
            let money_name = ["price", "cost", "amount"]
                .iter()
                .any(|w| lower.contains(w));
            if money_name && type_name(ty) != "Money" && type_name(ty) != "MoneyInput" {
                broken.push(format!("{tname}.{name}: {ty}"));
            }
        }
    }
    assert_none("money: money is Money", broken);
}

/// A reference to an object the caller can read is that object, not a bare `…Id`.
#[test]
fn references_are_objects() {
    let doc = schema();
    let mut broken = Vec::new();
    for t in types(&doc) {
        let TypeKind::Object(_) = &t.kind else {
            continue;
        };
        let tname = t.name.node.as_str();
        if tname.ends_with("Payload") || tname.ends_with("Edge") {
            continue;
        }
        for f in fields(t) {
            let name = f.name.node.as_str();
            // An object the caller may not read (another company's record) stays an ID,
            // and the field's description says so.
            let explained = f.description.as_ref().is_some_and(|d| {
                let text = d.node.split_whitespace().collect::<Vec<_>>().join(" ");
                text.contains("An ID rather than") || text.contains("An ID, not")
            });
            if name != "id" && name.ends_with("Id") && type_name(&f.ty.node) == "ID" && !explained {
                broken.push(format!("{tname}.{name}"));
            }
        }
    }
    assert_none("reference: references are objects", broken);
}
