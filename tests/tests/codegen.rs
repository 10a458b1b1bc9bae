//! graphql-codegen, as a frontend team runs it, against a default server: it reads the
//! schema through introspection, types the playground's example operations, and maps
//! every scalar to a real TypeScript type (`strictScalars`: an unmapped scalar fails).
//! Needs Node and `npm ci` in clients/codegen; `.ci/run` provides them and sets
//! ILS_REQUIRE_CODEGEN=1 so that a missing set-up fails instead of skipping.

use ils_tests::TestServer;
use std::path::Path;

/// The repository, clients/codegen and its graphql-codegen command, when `package` is
/// installed there; None (the test does not run) otherwise, unless ILS_REQUIRE_CODEGEN.
fn codegen(package: &str) -> Option<(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("clients/codegen");
    let cli = dir.join("node_modules/.bin/graphql-codegen");
    if !cli.exists() || !dir.join("node_modules").join(package).exists() {
        assert!(
            std::env::var("ILS_REQUIRE_CODEGEN").is_err(),
            "ILS_REQUIRE_CODEGEN is set but clients/codegen/node_modules lacks {package}"
        );
        eprintln!("codegen test not run: needs `npm ci` in clients/codegen");
        return None;
    }
    Some((root, dir, cli))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codegen_types_every_scalar_from_a_default_server() {
    let Some((root, dir, cli)) = codegen("@graphql-codegen/cli") else {
        return;
    };
    let s = TestServer::start().await;
    let out_dir = tempfile::tempdir().unwrap();
    let config = std::fs::read_to_string(dir.join("codegen.yml")).unwrap();
    // The same configuration, writing into a temporary folder.
    let target = out_dir.path().join("graphql.ts");
    let config = config.replace("generated/graphql.ts", target.to_str().unwrap());
    let config_path = out_dir.path().join("codegen.yml");
    let config = config.replace(
        "../../playground/operations/*.graphql",
        root.join("playground/operations/*.graphql")
            .to_str()
            .unwrap(),
    );
    std::fs::write(&config_path, config).unwrap();
    let out = tokio::process::Command::new(&cli)
        .arg("--config")
        .arg(&config_path)
        .current_dir(&dir)
        .env("ILS_GRAPHQL_URL", s.url("/graphql"))
        .output()
        .await
        .expect("graphql-codegen runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "codegen failed:\n{stdout}\n{stderr}");
    let ts = std::fs::read_to_string(&target).expect("codegen wrote its file");

    // Every scalar has a real type, in and out.
    let start = ts.find("export type Scalars = {").expect("a Scalars type");
    let scalars = &ts[start..start + ts[start..].find("\n};").unwrap()];
    for line in scalars.lines().skip(1) {
        assert!(
            !line.contains("unknown") && !line.contains(": any"),
            "a scalar without a real type: {line}\n{scalars}"
        );
    }
    for (name, ty) in [
        ("DateTime", "string"),
        ("Date", "string"),
        ("Decimal", "string"),
        ("JSON", "JsonValue"),
    ] {
        assert!(
            scalars.contains(&format!("{name}: {{ input: {ty}; output: {ty}; }}")),
            "{name} is not {ty}:\n{scalars}"
        );
    }
    // The operations are typed: one result type per example tab.
    assert!(
        ts.contains("export type LogInMutation = "),
        "{}",
        &ts[..2000.min(ts.len())]
    );
    s.finish().await;
}

/// A value of the variable type `ty` good enough to run an operation: the ID-shaped and
/// enum-shaped ones are refused by the resolvers (NOT_FOUND, BAD_USER_INPUT), which is
/// still the operation running.
fn dummy(ty: &async_graphql::parser::types::Type) -> serde_json::Value {
    use async_graphql::parser::types::BaseType;
    match &ty.base {
        BaseType::List(inner) => serde_json::json!([dummy(inner)]),
        BaseType::Named(name) => match name.as_str() {
            "ID" => serde_json::json!("Tm90QVJlYWxJZDow"),
            "String" => serde_json::json!("x"),
            "Int" => serde_json::json!(1),
            "Float" => serde_json::json!(1.0),
            "Boolean" => serde_json::json!(false),
            "Date" => serde_json::json!("2026-01-01"),
            "DateTime" => serde_json::json!("2026-01-01T00:00:00Z"),
            "Decimal" => serde_json::json!("1.00"),
            _ => serde_json::Value::Null,
        },
    }
}

/// graphql-codegen's client preset with persisted documents (`clients/codegen/persisted.yml`),
/// as a partner application uses it: its persisted-documents.json is published as an
/// operation list, granted to a persisted-only key, and every operation runs by ID with
/// that key (the subscriptions over the WebSocket): each is admitted and executed, none is
/// refused for being unknown or for being text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_presets_persisted_documents_run_by_id() {
    use ils_tests::ws::{self, TRANSPORT_WS};
    use ils_tests::{Auth, email};
    use serde_json::{Value, json};
    let Some((root, dir, cli)) = codegen("@graphql-codegen/client-preset") else {
        return;
    };
    let s = TestServer::start().await;
    let out_dir = tempfile::tempdir().unwrap();
    let config = std::fs::read_to_string(dir.join("persisted.yml"))
        .unwrap()
        .replace(
            "generated/client/",
            &format!("{}/", out_dir.path().join("client").display()),
        )
        .replace(
            "../../playground/operations/*.graphql",
            root.join("playground/operations/*.graphql")
                .to_str()
                .unwrap(),
        );
    let config_path = out_dir.path().join("persisted.yml");
    std::fs::write(&config_path, config).unwrap();
    let out = tokio::process::Command::new(&cli)
        .arg("--config")
        .arg(&config_path)
        .current_dir(&dir)
        .env("ILS_GRAPHQL_URL", s.url("/graphql"))
        .output()
        .await
        .expect("graphql-codegen runs");
    assert!(
        out.status.success(),
        "codegen failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest =
        std::fs::read(out_dir.path().join("client/persisted-documents.json")).expect("written");
    let documents: serde_json::Map<String, Value> = serde_json::from_slice(&manifest).unwrap();
    let files = std::fs::read_dir(root.join("playground/operations"))
        .unwrap()
        .count();
    assert_eq!(documents.len(), files, "one document per example operation");

    // Published as the partner's list, granted to a persisted-only admin key.
    let admin = s.sign_up("Codegen Optics", "ECP", &email("preset")).await;
    let (status, body) = s
        .upload(
            &admin.auth(),
            "mutation($file: Upload!) { publishOperations(input: { list: \"codegen-app\", manifest: $file }) { version { documentCount } } }",
            "persisted-documents.json",
            &manifest,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["publishOperations"]["version"]["documentCount"], files,
        "{body}"
    );
    let made = s
        .ok(
            &admin.auth(),
            "mutation { createApiKey(input: { name: \"codegen app\", role: COMPANY_ADMIN, persistedOnly: true, operationLists: [\"codegen-app\"] }) { secret } }",
            json!({}),
        )
        .await;
    let key = Auth::ApiKey(made["createApiKey"]["secret"].as_str().unwrap().to_owned());

    let refused = |body: &Value| {
        body["errors"].as_array().into_iter().flatten().any(|e| {
            e["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
                || e["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("persisted operations only")
        })
    };
    let (mut ran, mut with_data, mut subscriptions) = (0, 0, 0);
    for (id, text) in &documents {
        let doc = async_graphql::parser::parse_query(text.as_str().unwrap()).unwrap();
        let (_, op) = doc.operations.iter().next().unwrap();
        let variables: serde_json::Map<String, Value> = op
            .node
            .variable_definitions
            .iter()
            .map(|v| (v.node.name.node.to_string(), dummy(&v.node.var_type.node)))
            .collect();
        if op.node.ty == async_graphql::parser::types::OperationType::Subscription {
            let mut socket = ws::connect(&s, TRANSPORT_WS).await;
            ws::init(&mut socket, &key).await;
            ws::send(
                &mut socket,
                json!({ "type": "subscribe", "id": "1", "payload": { "documentId": id, "variables": variables } }),
            )
            .await;
            // A live subscription says nothing until something happens: an error would
            // come at once.
            match ws::recv_within(&mut socket, std::time::Duration::from_millis(500)).await {
                Some(ws::Event::Json(msg)) => {
                    assert!(
                        !refused(&json!({ "errors": msg["payload"] })),
                        "{id}: {msg}"
                    );
                }
                Some(ws::Event::Closed(code)) => panic!("{id}: the socket closed ({code:?})"),
                None => {}
            }
            subscriptions += 1;
        } else {
            let (_, body) = s
                .post_body(&key, json!({ "documentId": id, "variables": variables }))
                .await;
            assert!(!refused(&body), "{id}: {body}");
            assert!(
                body.get("data").is_some() || body["errors"].is_array(),
                "{id}: {body}"
            );
            if body.get("errors").is_none() {
                with_data += 1;
            }
        }
        ran += 1;
    }
    println!(
        "{ran} operations by ID ({subscriptions} subscriptions over the WebSocket), {with_data} answered without errors (the rest were refused by their resolvers for the made-up variables)"
    );
    assert_eq!(ran, files);
    assert!(subscriptions >= 1, "the playground has a subscription");
    s.finish().await;
}
