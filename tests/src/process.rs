//! The `ils` binary run as a child process (`ils serve` on a free port).

use std::time::Duration;

/// How long a started `ils serve` may take to answer `/healthz`.
pub const START_UP: Duration = Duration::from_secs(60);

/// A port nothing listens on now (for `ILS_LISTEN`).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Waits until the `ils serve` child at `base` (`http://127.0.0.1:port`) answers
/// `/healthz` with 200; panics with `logs()` (its stderr) when it exits first or is not up
/// within `START_UP`.
pub async fn wait_until_up(
    child: &mut tokio::process::Child,
    base: &str,
    logs: impl Fn() -> String,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let healthz = format!("{base}/healthz");
    crate::eventually("ils serve answers /healthz", START_UP, || {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("ils serve exited early ({status}); stderr:\n{}", logs());
        }
        let probe = http.get(&healthz).send();
        let logs = logs();
        async move {
            match probe.await {
                Ok(r) if r.status().as_u16() == 200 => Ok(()),
                Ok(r) => Err(format!("status {}; stderr:\n{logs}", r.status())),
                Err(e) => Err(format!("{e}; stderr:\n{logs}")),
            }
        }
    })
    .await;
}
