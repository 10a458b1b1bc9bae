//! graphql-codegen, as a frontend team runs it, against a default server: it reads the
//! schema through introspection, types the playground's example operations, and maps
//! every scalar to a real TypeScript type (`strictScalars`: an unmapped scalar fails).
//! Needs Node and `npm ci` in clients/codegen; `.ci/run` provides them and sets
//! ILS_REQUIRE_CODEGEN=1 so that a missing set-up fails instead of skipping.

use ils_tests::TestServer;
use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codegen_types_every_scalar_from_a_default_server() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("clients/codegen");
    let cli = dir.join("node_modules/.bin/graphql-codegen");
    if !cli.exists() {
        assert!(
            std::env::var("ILS_REQUIRE_CODEGEN").is_err(),
            "ILS_REQUIRE_CODEGEN is set but clients/codegen/node_modules is missing"
        );
        eprintln!("codegen test not run: needs `npm ci` in clients/codegen");
        return;
    }
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
