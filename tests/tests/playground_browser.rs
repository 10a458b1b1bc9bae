//! The playground in a real browser, on the demo data: headless Chromium opens
//! /playground, waits for the docs explorer to list `Query`, then runs every example tab
//! in the order shown, as it stands (the page logs in as each tab says and fills its
//! variables from earlier answers), and fails on any GraphQL error, console error or
//! request to another host (see playground/test/browser.mjs).
//! Needs Node, `npm ci` in playground/ and Chromium; `.ci/run` provides them and sets
//! ILS_REQUIRE_BROWSER=1 so that a missing browser fails instead of skipping.

use ils_tests::TestServer;
use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_playground_example_runs_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("playground/test/browser.mjs");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ready = root
        .join("playground/node_modules/playwright-core")
        .exists()
        && Path::new(&chromium).exists();
    if !ready {
        assert!(
            std::env::var("ILS_REQUIRE_BROWSER").is_err(),
            "ILS_REQUIRE_BROWSER is set but Chromium ({chromium}) or playground/node_modules is missing"
        );
        eprintln!("playground browser test not run: needs {chromium} and `npm ci` in playground/");
        return;
    }
    let s = TestServer::start_with(|c| c.seed_demo = true).await;
    let out = tokio::process::Command::new("node")
        .arg(&script)
        .arg(s.url(""))
        .env("CHROMIUM", &chromium)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser test failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("playground browser test: ok"), "{stdout}");
    println!("{}", stdout.trim());
    s.finish().await;
}
