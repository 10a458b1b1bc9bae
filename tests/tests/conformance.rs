//! Protocol conformance, checked with the tools clients use, against a development server:
//! the graphql-http audit (the GraphQL-over-HTTP specification's conformance suite) must
//! pass every MUST and SHOULD audit (and every MAY audit, as it does), and the graphql-ws client (graphql-transport-ws, with
//! raw frames for the close codes the client never provokes) must see every check pass.
//! Needs Node and `npm ci` in clients/conformance; `.ci/run` provides them and sets
//! ILS_REQUIRE_CONFORMANCE=1 so that a missing set-up fails instead of skipping.

use ils_tests::{TestServer, email};
use std::path::{Path, PathBuf};

/// clients/conformance, when its npm packages are installed.
fn conformance_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../clients/conformance");
    if dir.join("node_modules/graphql-http").exists()
        && dir.join("node_modules/graphql-ws").exists()
    {
        return Some(dir);
    }
    assert!(
        std::env::var("ILS_REQUIRE_CONFORMANCE").is_err(),
        "ILS_REQUIRE_CONFORMANCE is set but clients/conformance/node_modules is missing"
    );
    eprintln!("conformance test not run: needs `npm ci` in clients/conformance");
    None
}

/// Runs `script` with node in `dir`; returns its output, asserting it succeeded.
async fn node(dir: &Path, script: &str, env: &[(&str, String)]) -> String {
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(script).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), cmd.output())
        .await
        .expect("node finished within 120 s")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Short enough to show whole: one line per level or check, and what failed.
    eprintln!("{script}:\n{stdout}{stderr}");
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_http_audit_passes_every_audit() {
    let Some(dir) = conformance_dir() else {
        return;
    };
    let s = TestServer::start().await;
    let out = node(
        &dir,
        "http-audit.mjs",
        &[("ILS_GRAPHQL_URL", s.url("/graphql"))],
    )
    .await;
    // The audit's counts, so that an audit that stopped running is noticed too.
    assert!(out.contains("MUST 13/13"), "{out}");
    assert!(out.contains("SHOULD 23/23"), "{out}");
    assert!(out.contains("MAY 25/25"), "{out}");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_ws_client_and_raw_frames_follow_graphql_transport_ws() {
    let Some(dir) = conformance_dir() else {
        return;
    };
    let s = TestServer::start().await;
    let admin = s
        .sign_up("Conformance Optics", "ECP", &email("conformance"))
        .await;
    let out = node(
        &dir,
        "ws-protocol.mjs",
        &[
            ("ILS_GRAPHQL_URL", s.url("/graphql")),
            (
                "ILS_WS_URL",
                s.url("/graphql/ws").replacen("http://", "ws://", 1),
            ),
            ("ILS_ACCESS_TOKEN", admin.access.clone()),
        ],
    )
    .await;
    assert!(out.contains("graphql-transport-ws 11/11"), "{out}");
    s.finish().await;
}
