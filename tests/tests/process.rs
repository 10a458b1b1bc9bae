//! The `ils` binary as an operator runs it: configuration errors, the schema command,
//! and `serve` with its embedded SQLite default, demo data and graceful SIGTERM.

use serde_json::{Value, json};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const ILS: &str = env!("CARGO_BIN_EXE_ils-under-test");

/// The binary with an empty environment (no ILS_*, DATABASE_URL or REDIS_URL from the
/// caller) in `dir`.
fn ils(dir: &tempfile::TempDir) -> Command {
    let mut cmd = Command::new(ILS);
    cmd.env_clear()
        .current_dir(dir.path())
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Runs the binary with `vars` in a fresh folder; returns exit status, stdout and stderr.
async fn run(args: &[&str], vars: &[(&str, &str)]) -> (ExitStatus, String, String) {
    run_in(&tempfile::tempdir().unwrap(), args, vars).await
}

async fn assert_config_error(vars: &[(&str, &str)], mentions: &str) {
    let (status, stdout, stderr) = run(&[], vars).await;
    assert_eq!(
        status.code(),
        Some(2),
        "{vars:?}: exit {status}; stderr: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{vars:?}: expected one line, got: {stderr}");
    assert!(
        lines[0].starts_with("ils: configuration error:"),
        "{vars:?}: {stderr}"
    );
    assert!(lines[0].contains(mentions), "{vars:?}: {stderr}");
    for word in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(word), "{vars:?}: {stderr}");
    }
    assert!(
        !stdout.contains("listening"),
        "{vars:?}: it started: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_without_a_jwt_secret_exits_2() {
    assert_config_error(&[("ILS_ENV", "production")], "ILS_JWT_SECRET").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_with_a_guessable_jwt_secret_exits_2() {
    // Long enough, but one letter: refused in production, whatever its length.
    for weak in ["a".repeat(32), "secret".repeat(8)] {
        assert_config_error(
            &[("ILS_ENV", "production"), ("ILS_JWT_SECRET", &weak)],
            "guessable",
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_database_url_exits_2() {
    assert_config_error(&[("DATABASE_URL", "mysql://x")], "DATABASE_URL").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_configuration_errors_exit_2() {
    assert_config_error(&[("ILS_JWT_SECRET", "short")], "ILS_JWT_SECRET").await;
    assert_config_error(&[("REDIS_URL", "http://localhost:6379")], "REDIS_URL").await;
    assert_config_error(&[("ILS_CONFIG", "/nonexistent/ils.toml")], "ILS_CONFIG").await;
    assert_config_error(&[("ILS_MAX_DEPTH", "0")], "ILS_MAX_DEPTH").await;
    // A value of the wrong type: still one line (figment's message is multi-line).
    assert_config_error(&[("ILS_MAX_DEPTH", "deep")], "").await;
    // Every subcommand that needs the configuration checks it.
    let (status, _, stderr) = run(&["migrate"], &[("DATABASE_URL", "mysql://x")]).await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("ils: configuration error:"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_command_prints_the_checked_in_sdl() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let checked_in = std::fs::read_to_string(path).expect("schema.graphql exists");
    // `schema` needs no configuration: it works even with a broken one.
    let (status, stdout, stderr) = run(&["schema"], &[("DATABASE_URL", "mysql://x")]).await;
    assert!(status.success(), "exit {status}: {stderr}");
    assert!(stdout.contains("type Query {"), "{stdout}");
    assert!(
        stdout.trim_end_matches('\n') == checked_in.trim_end_matches('\n'),
        "schema.graphql is out of date: regenerate it with \
         `cargo run -q -p ils-api -- schema > schema.graphql`"
    );
}

async fn wait_for_exit(child: &mut tokio::process::Child, limit: Duration) -> Option<ExitStatus> {
    tokio::time::timeout(limit, child.wait())
        .await
        .ok()
        .map(|r| r.expect("wait for the child"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_uses_sqlite_seeds_demo_data_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = ils_tests::process::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let stderr_path = dir.path().join("stderr.log");
    let mut cmd = ils(&dir);
    cmd.arg("serve")
        .env("ILS_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    let mut child = cmd.spawn().expect("ils serve started");
    let pid = child.id().expect("a pid");

    let stdout = Arc::new(Mutex::new(String::new()));
    let reader = {
        let stdout = stdout.clone();
        let pipe = child.stdout.take().unwrap();
        tokio::spawn(async move {
            let mut lines = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut s = stdout.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        })
    };
    let logs = || std::fs::read_to_string(&stderr_path).unwrap_or_default();

    ils_tests::process::wait_until_up(&mut child, &base, logs).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    // The banner follows right after the listener is up; wait for its last line.
    let banner = ils_tests::eventually(
        "the start-up banner with the demo logins",
        Duration::from_secs(10),
        || {
            let banner = stdout.lock().unwrap().clone();
            let result = if banner.contains("brightside-demo-2026") {
                Ok(banner)
            } else {
                Err(banner)
            };
            async move { result }
        },
    )
    .await;
    assert!(banner.contains("/playground"), "{banner}");
    assert!(banner.contains(&format!("127.0.0.1:{port}")), "{banner}");
    assert!(banner.contains("admin@brightside.example"), "{banner}");
    assert!(banner.contains("brightside-demo-2026"), "{banner}");

    // The embedded default: a SQLite file and the development secret in the working folder.
    assert!(
        dir.path().join("ils.db").exists(),
        "no ils.db in the working folder"
    );
    assert!(
        dir.path().join(".ils").join("jwt-secret").exists(),
        "no development signing secret in .ils/"
    );

    let gql = |token: Option<&str>, query: &str, variables: Value| {
        let mut req = http
            .post(format!("{base}/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let resp = req.send().await.expect("request sent");
            assert_eq!(resp.status().as_u16(), 200);
            resp.json::<Value>().await.expect("JSON")
        }
    };
    let body = gql(
        None,
        ils_tests::LOG_IN,
        json!({ "email": "admin@brightside.example", "password": "brightside-demo-2026" }),
    )
    .await;
    let token = body["data"]["logIn"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("demo login failed: {body}"))
        .to_owned();
    let body = gql(
        Some(&token),
        "{ me { user { email } company { name type status } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["data"]["me"]["company"]["name"], "Brightside Optometry",
        "{body}"
    );
    assert_eq!(body["data"]["me"]["company"]["status"], "ACTIVE", "{body}");
    assert_eq!(
        body["data"]["me"]["user"]["email"], "admin@brightside.example",
        "{body}"
    );

    // The playground of a development server lists the demo logins.
    let html = http
        .get(format!("{base}/playground"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("admin@brightside.example"), "{html}");

    // Refused requests are logged too, each with its request id and status.
    let refused = [
        (http.put(format!("{base}/graphql")), "log-probe-405", 405),
        (
            http.post(format!("{base}/graphql"))
                .header("content-type", "application/json")
                .body(vec![b' '; 2 * 1024 * 1024]),
            "log-probe-413",
            413,
        ),
        (
            http.post(format!("{base}/graphql"))
                .header("content-type", "application/json")
                .body("{not json"),
            "log-probe-400",
            400,
        ),
        (
            http.post(format!("{base}/graphql"))
                .header("accept", "application/graphql-response+json")
                .header("x-api-key", "ils_nonsense")
                .json(&json!({ "query": "{ __typename }" })),
            "log-probe-401",
            401,
        ),
    ];
    for (req, id, status) in refused {
        let resp = req.header("x-request-id", id).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{id}");
    }
    let log = ils_tests::eventually("refused requests logged", Duration::from_secs(10), || {
        let log = logs();
        let missing: Vec<&str> = ["405", "413", "400", "401"]
            .into_iter()
            .filter(|code| {
                !log.lines().any(|l| {
                    l.contains(&format!("request_id=log-probe-{code}"))
                        && l.contains(&format!("status={code}"))
                })
            })
            .collect();
        let result = if missing.is_empty() {
            Ok(log)
        } else {
            Err(format!("{missing:?}\n{log}"))
        };
        async move { result }
    })
    .await;
    assert!(!log.contains("ils_nonsense"), "an API key reached the log");

    let killed = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .expect("kill ran");
    assert!(killed.success());
    let status = wait_for_exit(&mut child, Duration::from_secs(30)).await;
    let Some(status) = status else {
        child.kill().await.ok();
        panic!("still running 30 s after SIGTERM; stderr:\n{}", logs());
    };
    assert!(
        status.success(),
        "exit after SIGTERM: {status}; stderr:\n{}",
        logs()
    );
    reader.await.ok();
    assert!(
        http.get(format!("{base}/healthz")).send().await.is_err(),
        "still answering after exit"
    );
    assert!(!logs().contains("panicked"), "{}", logs());

    // Each GraphQL request is logged with its request id and operation; secrets never are.
    let log = logs();
    assert!(
        log.lines()
            .any(|l| l.contains("request_id=") && l.contains("operation=")),
        "{log}"
    );
    assert!(
        !log.contains("brightside-demo-2026"),
        "a password reached the log:\n{log}"
    );
    assert!(
        !log.contains(&token),
        "an access token reached the log:\n{log}"
    );
}

/// Runs the binary in `dir` (kept between calls) with `vars`; returns exit status,
/// stdout and stderr.
async fn run_in(
    dir: &tempfile::TempDir,
    args: &[&str],
    vars: &[(&str, &str)],
) -> (ExitStatus, String, String) {
    run_with_input(dir, args, vars, "").await
}

/// `run_in`, with `input` on standard input.
async fn run_with_input(
    dir: &tempfile::TempDir,
    args: &[&str],
    vars: &[(&str, &str)],
    input: &str,
) -> (ExitStatus, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut cmd = ils(dir);
    cmd.args(args)
        .envs(vars.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the binary ran");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the binary finished within 60 s")
        .expect("the binary ran");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_seed_and_create_platform_admin_commands() {
    let dir = tempfile::tempdir().unwrap();
    let (status, stdout, stderr) = run_in(&dir, &["migrate"], &[]).await;
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("migrations applied"), "{stdout}");
    assert!(dir.path().join("ils.db").exists());

    let (status, stdout, stderr) = run_in(&dir, &["seed"], &[]).await;
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("demo data seeded"), "{stdout}");
    let (status, stdout, _) = run_in(&dir, &["seed"], &[]).await;
    assert!(status.success());
    assert!(
        stdout.contains("nothing seeded"),
        "seeding twice must not duplicate: {stdout}"
    );

    // The password comes from standard input…
    let args = ["create-platform-admin", "--email", "ops@ils.example"];
    let (status, stdout, stderr) = run_with_input(&dir, &args, &[], "Operator-Pass-77\n").await;
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("ops@ils.example"), "{stdout}");
    assert!(!stdout.contains("Operator-Pass-77"), "{stdout}");
    let (status, _, stderr) = run_with_input(&dir, &args, &[], "Operator-Pass-77\n").await;
    assert!(!status.success(), "the same email twice must fail");
    assert!(stderr.contains("already exists"), "{stderr}");
    let weak = ["create-platform-admin", "--email", "weak@ils.example"];
    let (status, _, stderr) = run_with_input(&dir, &weak, &[], "short\n").await;
    assert!(!status.success());
    assert!(stderr.contains("at least 10"), "{stderr}");
    let (status, _, stderr) = run_in(&dir, &weak, &[]).await;
    assert!(!status.success(), "no password on stdin");
    assert!(stderr.contains("no password given"), "{stderr}");

    // …or from a file; never from the command line.
    let file = dir.path().join("admin-password");
    std::fs::write(&file, "File-Pass-8888\n").unwrap();
    let (status, stdout, stderr) = run_in(
        &dir,
        &[
            "create-platform-admin",
            "--email",
            "file@ils.example",
            "--password-file",
            file.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("file@ils.example"), "{stdout}");
    let (status, _, stderr) = run_in(
        &dir,
        &[
            "create-platform-admin",
            "--email",
            "x@ils.example",
            "--password",
            "Xx-123456789",
        ],
        &[],
    )
    .await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--password"), "{stderr}");

    // Demo data (known passwords) is never seeded into production.
    let (status, stdout, stderr) = run_in(
        &dir,
        &["seed"],
        &[
            ("ILS_ENV", "production"),
            ("ILS_JWT_SECRET", ils_tests::JWT_SECRET),
        ],
    )
    .await;
    assert_eq!(status.code(), Some(2), "{stdout} {stderr}");
    assert!(
        stderr.contains("refused when ILS_ENV=production"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_settings_are_refused_with_the_closest_name() {
    assert_config_error(&[("ILS_MAX_DEPHT", "9")], "did you mean ILS_MAX_DEPTH?").await;
    assert_config_error(
        &[("ILS_CORS_ORIGIN", "https://a.example")],
        "ILS_CORS_ORIGINS",
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ils.toml"), "max_depth = 9\nworkerz = 2\n").unwrap();
    let (status, stdout, stderr) = run_in(&dir, &[], &[]).await;
    assert_eq!(status.code(), Some(2), "{stdout} {stderr}");
    assert!(
        stderr.contains("workerz; did you mean workers?"),
        "{stderr}"
    );
    assert!(!stdout.contains("listening"), "{stdout}");

    // --help lists every setting.
    let (status, stdout, _) = run(&["--help"], &[]).await;
    assert!(status.success());
    for name in [
        "ILS_LISTEN",
        "DATABASE_URL",
        "ILS_CORS_ORIGINS",
        "ILS_METRICS_TOKEN",
        "PORT",
    ] {
        assert!(stdout.contains(name), "--help lacks {name}: {stdout}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_postgres_is_one_line_naming_host_and_cause() {
    let started = std::time::Instant::now();
    let (status, stdout, stderr) = run(
        &[],
        &[("DATABASE_URL", "postgres://postgres@127.0.0.1:1/test")],
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert!(!status.success(), "{stdout}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("ils: cannot connect to PostgreSQL at 127.0.0.1:1: "),
        "{stderr}"
    );
    assert!(lines[0].to_lowercase().contains("refused"), "{stderr}");
    assert!(!stderr.contains("pool timed out"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_is_honoured_when_ils_listen_is_unset() {
    let dir = tempfile::tempdir().unwrap();
    let port = ils_tests::process::free_port();
    let mut child = ils(&dir)
        .env("PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("a first line within 60 s")
        .unwrap()
        .unwrap_or_default();
    assert_eq!(first, format!("ILS is listening on http://0.0.0.0:{port}"));
    let base = format!("http://127.0.0.1:{port}");
    ils_tests::process::wait_until_up(&mut child, &base, String::new).await;
    child.kill().await.ok();
}
