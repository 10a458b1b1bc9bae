use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;

/// Written by `@apollo/generate-persisted-query-manifest` from the playground's operations
/// (see the README beside it).
const APOLLO: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/operations/apollo-persisted-query-manifest.json"
));

/// Written by graphql-codegen's client preset from the playground's operations.
const CODEGEN: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/operations/codegen-persisted-documents.json"
));

fn playground() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../playground/operations")
}

/// The playground's operation names, read from the files themselves.
fn playground_names() -> BTreeSet<String> {
    let documents = from_folder(&playground()).expect("the playground's operations are good");
    documents
        .into_iter()
        .map(|d| d.name.expect("named"))
        .collect()
}

fn problems(bytes: &[u8]) -> Vec<Problem> {
    parse(bytes).expect_err("should be refused")
}

fn messages(problems: &[Problem]) -> Vec<&str> {
    problems.iter().map(|p| p.message.as_str()).collect()
}

/// A `{id: body}` map whose IDs are right.
fn map_of(bodies: &[&str]) -> Vec<u8> {
    let map: serde_json::Map<String, Value> = bodies
        .iter()
        .map(|b| (format!("sha256:{}", sha256_hex(b)), json!(b)))
        .collect();
    serde_json::to_vec(&Value::Object(map)).unwrap()
}

// ---- the fixtures written by real tools ----

#[test]
fn reads_apollos_manifest_of_the_playground() {
    let documents = parse(APOLLO.as_bytes()).expect("Apollo's manifest is accepted");
    let names = playground_names();
    assert_eq!(documents.len(), names.len());
    for d in &documents {
        assert_eq!(d.id, sha256_hex(&d.body));
        // Apollo Client's document transform, applied by the generator: the stored body is
        // not the file's text, and the ID is the hash of what is stored.
        assert!(d.body.contains("__typename"), "{:?}", d.name);
    }
    let got: BTreeSet<String> = documents.into_iter().filter_map(|d| d.name).collect();
    assert_eq!(got, names);
}

#[test]
fn reads_codegens_persisted_documents_of_the_playground() {
    let documents = parse(CODEGEN.as_bytes()).expect("codegen's map is accepted");
    let names = playground_names();
    assert_eq!(documents.len(), names.len());
    let keys: Vec<String> = match serde_json::from_str::<Value>(CODEGEN).unwrap() {
        Value::Object(map) => map.keys().cloned().collect(),
        _ => unreachable!(),
    };
    for key in &keys {
        // The preset's default: SHA-256, as GraphQL-over-HTTP's `sha256:<hex>`.
        assert!(key.starts_with("sha256:"), "{key}");
    }
    for d in &documents {
        assert_eq!(d.id, sha256_hex(&d.body));
        assert!(keys.contains(&format!("sha256:{}", d.id)));
    }
    let got: BTreeSet<String> = documents.into_iter().filter_map(|d| d.name).collect();
    assert_eq!(got, names);
}

#[test]
fn refuses_apollos_manifest_with_one_body_changed() {
    let mut manifest: Value = serde_json::from_str(APOLLO).unwrap();
    let operation = &mut manifest["operations"][5];
    let id = operation["id"].as_str().unwrap().to_owned();
    let name = operation["name"].as_str().unwrap().to_owned();
    let body = operation["body"]
        .as_str()
        .unwrap()
        .replacen('{', "{ tampered", 1);
    operation["body"] = json!(body);
    let found = problems(&serde_json::to_vec(&manifest).unwrap());
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].id.as_deref(), Some(id.as_str()));
    assert_eq!(found[0].name.as_deref(), Some(name.as_str()));
    assert!(found[0].message.contains("SHA-256"), "{}", found[0].message);
}

#[test]
fn refuses_codegens_map_with_one_body_changed() {
    let mut map: Value = serde_json::from_str(CODEGEN).unwrap();
    let map = map.as_object_mut().unwrap();
    let key = map.keys().nth(7).unwrap().clone();
    let body = map[&key].as_str().unwrap().replacen('{', "{ tampered", 1);
    map[&key] = json!(body);
    let found = problems(&serde_json::to_vec(&map).unwrap());
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].id, parse_id(&key));
    assert!(found[0].message.contains("SHA-256"), "{}", found[0].message);
}

#[test]
fn reads_the_playground_folder() {
    let documents = from_folder(&playground()).expect("accepted");
    let mut files: Vec<PathBuf> = std::fs::read_dir(playground())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .collect();
    files.sort();
    assert_eq!(documents.len(), files.len());
    for (d, file) in documents.iter().zip(&files) {
        let text = std::fs::read_to_string(file).unwrap();
        assert_eq!(d.body, text);
        assert_eq!(d.id, sha256_hex(&text));
        assert!(d.name.is_some(), "{file:?}");
    }
    assert_eq!(documents[0].name.as_deref(), Some("SignUp"));
    // The published text and what the generators made of it are different documents.
    let apollo = parse(APOLLO.as_bytes()).unwrap();
    assert!(
        apollo
            .iter()
            .all(|a| documents.iter().all(|d| d.id != a.id))
    );
}

#[test]
fn every_playground_operation_has_a_canonical_form() {
    let documents = from_folder(&playground()).unwrap();
    let apollo = parse(APOLLO.as_bytes()).unwrap();
    let codegen = parse(CODEGEN.as_bytes()).unwrap();
    for d in documents.iter().chain(&apollo).chain(&codegen) {
        let form = canonical(&d.body).unwrap_or_else(|| panic!("{:?}", d.name));
        assert_eq!(canonical(&form).as_deref(), Some(form.as_str()));
    }
}

// ---- formats ----

#[test]
fn reads_a_graphql_text_as_one_document() {
    let text = "# the whole file is the document\nquery Me { me { id } }\n";
    let documents = parse(text.as_bytes()).unwrap();
    assert_eq!(
        documents,
        [Document {
            id: sha256_hex(text),
            body: text.into(),
            name: Some("Me".into()),
        }]
    );
    // A shorthand query starts with `{` and is still GraphQL, not JSON.
    let shorthand = parse(b"{ me { id } }").unwrap();
    assert_eq!(shorthand[0].name, None);
    // The byte order mark is part of the text hashed.
    let bom = "\u{feff}query A { a }";
    assert_eq!(parse(bom.as_bytes()).unwrap()[0].id, sha256_hex(bom));
}

#[test]
fn names_the_first_named_operation() {
    let text = "fragment F on Q { a } query B { ...F } mutation A { b }";
    assert_eq!(
        parse(text.as_bytes()).unwrap()[0].name.as_deref(),
        Some("B")
    );
}

#[test]
fn reads_bare_and_prefixed_ids_in_any_case() {
    let body = "query A { a }";
    let hex = sha256_hex(body);
    for key in [
        hex.clone(),
        hex.to_uppercase(),
        format!("sha256:{hex}"),
        format!("SHA256:{}", hex.to_uppercase()),
    ] {
        let bytes = serde_json::to_vec(&json!({ key.clone(): body })).unwrap();
        let documents = parse(&bytes).unwrap_or_else(|p| panic!("{key}: {p:?}"));
        assert_eq!(documents[0].id, hex);
    }
}

#[test]
fn keeps_the_manifests_order_and_one_copy_of_a_repeated_document() {
    let (a, b) = ("query A { a }", "query B { b }");
    let id = |body: &str| sha256_hex(body);
    // Written by hand: serde_json's own map could not hold a key twice.
    let text = format!(
        r#"{{"{}": "{b}", "{}": "{a}", "sha256:{}": "{b}"}}"#,
        id(b),
        id(a),
        id(b)
    );
    let documents = parse(text.as_bytes()).unwrap();
    let names: Vec<_> = documents.iter().map(|d| d.name.as_deref()).collect();
    assert_eq!(names, [Some("B"), Some("A")]);
}

#[test]
fn parse_id_accepts_only_sha256_ids() {
    let hex = "ab".repeat(32);
    assert_eq!(parse_id(&hex), Some(hex.clone()));
    assert_eq!(
        parse_id(&format!("sha256:{}", hex.to_uppercase())),
        Some(hex.clone())
    );
    for bad in [
        String::new(),
        "sha256:".into(),
        "ab".repeat(31),
        "ab".repeat(33),
        format!("sha1:{hex}"),
        format!("sha256:{}", "ab".repeat(20)),
        format!("{}zz", "ab".repeat(31)),
        format!(" {hex}"),
        "é".repeat(32),
    ] {
        assert_eq!(parse_id(&bad), None, "{bad:?}");
    }
}

// ---- problems ----

#[test]
fn refuses_an_empty_manifest() {
    for empty in [&b""[..], b" \n\t", "\u{feff}".as_bytes(), b"{}", b"{ }"] {
        let found = problems(empty);
        assert_eq!(found.len(), 1, "{empty:?}: {found:?}");
        assert!(found[0].message.contains("empty") || found[0].message.contains("no documents"));
    }
    let apollo = json!({"format": APOLLO_FORMAT, "version": 1, "operations": []});
    assert_eq!(
        messages(&problems(&serde_json::to_vec(&apollo).unwrap())),
        ["the manifest holds no documents"]
    );
}

#[test]
fn refuses_what_is_not_a_manifest() {
    assert_eq!(
        messages(&problems(b"\xff\xfe")),
        ["the manifest is not UTF-8 text"]
    );
    for bad in [&b"[1, 2]"[..], br#"{"a": }"#, br#"{"x": "y""#] {
        let found = problems(bad);
        assert!(found[0].message.starts_with("not a manifest"), "{found:?}");
    }
    let other = json!({"format": "something-else", "version": 1, "operations": []});
    assert!(
        problems(&serde_json::to_vec(&other).unwrap())[0]
            .message
            .contains("format")
    );
    let v2 = json!({"format": APOLLO_FORMAT, "version": 2, "operations": []});
    assert!(
        problems(&serde_json::to_vec(&v2).unwrap())[0]
            .message
            .contains("version 2")
    );
    let no_list = json!({"format": APOLLO_FORMAT, "version": 1});
    assert!(
        problems(&serde_json::to_vec(&no_list).unwrap())[0]
            .message
            .contains("operations")
    );
}

#[test]
fn refuses_an_id_that_is_not_the_bodys_hash() {
    let body = "query A { a }";
    let wrong = sha256_hex("query A { b }");
    let found = problems(&serde_json::to_vec(&json!({ wrong.clone(): body })).unwrap());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id.as_deref(), Some(wrong.as_str()));
    assert!(found[0].message.contains(&sha256_hex(body)));
    // Not an ID at all (Relay's default MD5, say).
    let found = problems(br#"{"0cc175b9c0f1b6a831c399e269772661": "query A { a }"}"#);
    assert_eq!(
        found[0].id.as_deref(),
        Some("0cc175b9c0f1b6a831c399e269772661")
    );
    assert!(found[0].message.contains("not a SHA-256 document ID"));
}

#[test]
fn refuses_an_id_listed_twice_with_different_bodies() {
    let (a, b) = ("query A { a }", "query B { b }");
    let text = format!(r#"{{"{0}": "{a}", "{0}": "{b}"}}"#, sha256_hex(a));
    let found = problems(text.as_bytes());
    assert!(found.iter().all(|p| p.id == Some(sha256_hex(a))));
    assert!(
        messages(&found).iter().any(|m| m.contains("listed twice")),
        "{found:?}"
    );
}

#[test]
fn refuses_a_body_that_does_not_parse() {
    let found = problems(&map_of(&["query A { a"]));
    assert!(
        found[0].message.starts_with("not a GraphQL document"),
        "{found:?}"
    );
    // Fragments alone are no operation.
    let found = problems(&map_of(&["fragment F on Q { a }"]));
    assert!(
        found[0].message.starts_with("not a GraphQL document"),
        "{found:?}"
    );
    assert_eq!(
        problems(b"query A { a")[0].id,
        Some(sha256_hex("query A { a"))
    );
}

#[test]
fn refuses_an_anonymous_operation_beside_others() {
    let found = problems(&map_of(&["query A { a } { b }"]));
    assert!(found[0].message.contains("without a name"), "{found:?}");
}

#[test]
fn refuses_a_name_the_body_does_not_have() {
    let body = "query A { a }";
    let manifest = json!({"format": APOLLO_FORMAT, "version": 1, "operations": [
        {"id": sha256_hex(body), "name": "B", "type": "query", "body": body},
    ]});
    let found = problems(&serde_json::to_vec(&manifest).unwrap());
    assert_eq!(found[0].name.as_deref(), Some("B"));
    assert!(found[0].message.contains("no operation named \"B\""));
}

#[test]
fn refuses_apollo_operations_without_an_id_or_body() {
    let manifest = json!({"format": APOLLO_FORMAT, "version": 1, "operations": [
        {"id": "x", "name": "A"}, {"body": "query B { b }"}, 7,
    ]});
    let found = problems(&serde_json::to_vec(&manifest).unwrap());
    assert_eq!(
        messages(&found),
        [
            "operations[0] needs a string `id` and `body` (and `name`, if any)",
            "operations[1] needs a string `id` and `body` (and `name`, if any)",
            "operations[2] is not an object",
        ]
    );
    assert_eq!(found[0].name.as_deref(), Some("A"));
}

#[test]
fn refuses_a_body_over_100_kb() {
    let big = format!("query A {{ a }}\n#{}", "x".repeat(MAX_BODY_BYTES));
    let found = problems(&map_of(&[&big]));
    assert_eq!(found.len(), 1);
    assert!(found[0].message.contains("at most 102400"), "{found:?}");
    let just = format!("query A {{ a }}\n#{}", "x".repeat(MAX_BODY_BYTES - 15));
    assert_eq!(just.len(), MAX_BODY_BYTES);
    assert!(parse(&map_of(&[&just])).is_ok());
}

#[test]
fn refuses_more_than_10_000_documents() {
    let bodies: Vec<String> = (0..=MAX_DOCUMENTS)
        .map(|i| format!("query Q{i} {{ a }}"))
        .collect();
    let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
    let found = problems(&map_of(&bodies));
    assert_eq!(
        messages(&found),
        ["the manifest holds 10001 documents; at most 10000 are accepted"]
    );
    assert_eq!(
        parse(&map_of(&bodies[..MAX_DOCUMENTS])).unwrap().len(),
        MAX_DOCUMENTS
    );
}

#[test]
fn lists_every_problem() {
    let good = "query A { a }";
    let text = format!(
        r#"{{"{}": "{good}", "{}": "query B {{ b", "nope": "query C {{ c }}", "{}": 1}}"#,
        sha256_hex(good),
        sha256_hex("query B { b"),
        sha256_hex("query D { d }"),
    );
    let found = problems(text.as_bytes());
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found[0].id, Some(sha256_hex("query D { d }")));
    assert_eq!(found[0].message, "the document is not a JSON string");
    assert_eq!(found[1].id, Some(sha256_hex("query B { b")));
    assert_eq!(found[2].id.as_deref(), Some("nope"));
    assert_eq!(
        found[2].to_string(),
        "nope: not a SHA-256 document ID (64 hex digits, optionally after `sha256:`)"
    );
}

// ---- folders ----

#[test]
fn reads_a_folder_recursively_in_path_order() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("b.graphql", "query B { b }");
    write("a/z.graphql", "query Z { z }");
    write("a/notes.md", "not GraphQL");
    write("c.gql", "query C { c }");
    let documents = from_folder(dir.path()).unwrap();
    let names: Vec<_> = documents.iter().map(|d| d.name.as_deref()).collect();
    assert_eq!(names, [Some("Z"), Some("B")]);
    assert_eq!(documents[0].id, sha256_hex("query Z { z }"));
}

#[test]
fn names_the_file_of_each_problem() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("good.graphql"), "query A { a }").unwrap();
    std::fs::write(dir.path().join("sub/bad.graphql"), "query B { b").unwrap();
    std::fs::write(dir.path().join("sub/two.graphql"), "query C { c } { d }").unwrap();
    std::fs::write(dir.path().join("latin1.graphql"), b"# caf\xe9\n{ a }").unwrap();
    let found = from_folder(dir.path()).expect_err("refused");
    let files: Vec<_> = found.iter().map(|p| p.name.as_deref().unwrap()).collect();
    let sep = std::path::MAIN_SEPARATOR;
    assert_eq!(
        files,
        [
            "latin1.graphql".to_owned(),
            format!("sub{sep}bad.graphql"),
            format!("sub{sep}two.graphql"),
        ]
    );
    assert_eq!(found[0].message, "the file is not UTF-8 text");
    assert_eq!(found[1].id, Some(sha256_hex("query B { b")));
}

#[test]
fn refuses_a_folder_without_graphql_files() {
    let dir = tempfile::tempdir().unwrap();
    let found = from_folder(dir.path()).expect_err("refused");
    assert!(found[0].message.starts_with("no .graphql file under"));
    let found = from_folder(&dir.path().join("missing")).expect_err("refused");
    assert!(found[0].message.starts_with("cannot be read"), "{found:?}");
}

// ---- the canonical form ----

fn same(a: &str, b: &str) {
    assert_eq!(
        canonical(a),
        canonical(b),
        "{a:?} and {b:?} should be the same"
    );
    assert!(canonical(a).is_some(), "{a:?}");
}

fn different(a: &str, b: &str) {
    let (ca, cb) = (canonical(a), canonical(b));
    assert!(ca.is_some() && cb.is_some(), "{a:?} / {b:?}");
    assert_ne!(ca, cb, "{a:?} and {b:?} should differ");
}

#[test]
fn canonical_form_is_tokens_joined_by_spaces() {
    assert_eq!(
        canonical("query A($id: ID!) {\n  node(id: $id) { ...on X { a } }\n}").as_deref(),
        Some("query A ( $ id : ID ! ) { node ( id : $ id ) { ... on X { a } } }")
    );
}

#[test]
fn canonical_form_ignores_layout_commas_comments_and_the_bom() {
    let one = "query A($x: Int = 1, $y: [String!]) { a(x: $x, y: $y) { b c } }";
    same(
        one,
        "\u{feff}# the A query\nquery   A(\n  $x: Int = 1\n  $y: [String!] # why\n) {\r\n\ta(x: $x y: $y) {\n b, c,,\n }\n}\n",
    );
    same(one, "query A($x:Int=1$y:[String!]){a(x:$x y:$y){b c}}");
}

#[test]
fn canonical_form_ignores_the_order_of_definitions() {
    same(
        "query A { ...F } fragment F on T { x } fragment G on T { y }",
        "fragment G on T { y }\nfragment F on T { x }\n\nquery A { ...F }",
    );
    // A shorthand query is a definition like any other.
    same(
        "{ ...F } fragment F on T { x }",
        "fragment F on T { x } { ...F }",
    );
    // Braces in the header (an input object as a default or a directive argument) do not
    // end the definition.
    same(
        "query A($i: In = {a: {b: 1}}) @d(v: {c: 2}) { f(i: $i) } fragment F on T { x }",
        "fragment F on T { x } query A($i: In = {a: {b: 1}}) @d(v: {c: 2}) { f(i: $i) }",
    );
}

#[test]
fn canonical_form_keeps_everything_else() {
    let base = r#"query A { a: f(n: 1, s: "x y") { b c } }"#;
    // A changed field, alias, argument name, argument value or string.
    different(base, r#"query A { a: f(n: 1, s: "x y") { b d } }"#);
    different(base, r#"query A { z: f(n: 1, s: "x y") { b c } }"#);
    different(base, r#"query A { f(n: 1, s: "x y") { b c } }"#);
    different(base, r#"query A { a: f(m: 1, s: "x y") { b c } }"#);
    different(base, r#"query A { a: f(n: 2, s: "x y") { b c } }"#);
    different(base, r#"query A { a: f(n: 1, s: "x z") { b c } }"#);
    // Whitespace and commas inside a string are its content.
    different(base, r#"query A { a: f(n: 1, s: "x  y") { b c } }"#);
    different(base, r#"query A { a: f(n: 1, s: "x, y") { b c } }"#);
    // The order of fields and arguments, and the operation's name.
    different(base, r#"query A { a: f(n: 1, s: "x y") { c b } }"#);
    different(base, r#"query A { a: f(s: "x y", n: 1) { b c } }"#);
    different(base, r#"query B { a: f(n: 1, s: "x y") { b c } }"#);
    // The spelling of a value.
    different(r#"{ f(s: "A") }"#, r#"{ f(s: "\u0041") }"#);
    different("{ f(n: 1.0) }", "{ f(n: 1.00) }");
}

#[test]
fn canonical_form_keeps_block_strings_as_written() {
    let block = "{ f(s: \"\"\"\n  one,  # not a comment\n    two\n\"\"\") }";
    same(
        block,
        &format!("# a comment\n{}", block.replace("{ f(", "{f (")),
    );
    different(block, &block.replace("    two", "  two"));
    different(block, &block.replace("one,", "one"));
    different(block, &block.replace("# not", "#not"));
    let form = canonical(block).unwrap();
    assert!(form.contains("\"\"\"\n  one,  # not a comment\n    two\n\"\"\""));
}

#[test]
fn canonical_form_is_its_own_form() {
    let text = "fragment F on T { x(s: \"\"\"a\n b\"\"\") }\nquery A { ...F b: y(n: -1.5e3) }";
    let form = canonical(text).unwrap();
    assert_eq!(canonical(&form), Some(form));
}

#[test]
fn canonical_form_refuses_what_does_not_lex_or_nest() {
    for bad in [
        "",
        "# only a comment",
        "query A",
        "query A { a",
        "query A { a } }",
        "query A { a ) }",
        "query A { a(x: [1) }",
        "query A { a } query B",
        "query A { a(s: \"open) }",
        "query A { a ? b }",
        "query A { a(n: 01) }",
        "query A { .. }",
    ] {
        assert_eq!(canonical(bad), None, "{bad:?}");
    }
}
