//! A real webhook receiver for tests: a local HTTP server that records every request
//! (headers and raw body), answers with a scripted sequence of status codes, can hang on
//! its first requests (never answer), and checks ILS webhook signatures.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    /// Header names are lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (Null when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn event_id(&self) -> Option<&str> {
        self.header("x-ils-event-id")
    }

    /// Whether the signature verifies against `secret`.
    pub fn verifies(&self, secret: &str) -> bool {
        verify_signature(secret, &self.headers, &self.body)
    }
}

#[derive(Default)]
struct Script {
    /// Status codes for the next requests, in order; afterwards `then`.
    statuses: VecDeque<u16>,
    then: u16,
    /// How many of the next requests never get an answer.
    hang: usize,
}

struct Shared {
    received: Mutex<Vec<Received>>,
    script: Mutex<Script>,
    stop: CancellationToken,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Receiver {
    /// A receiver that answers 200 to everything.
    pub async fn start() -> Receiver {
        Self::scripted(&[], 200).await
    }

    /// Answers `statuses` in order, then `then` to every later request.
    pub async fn scripted(statuses: &[u16], then: u16) -> Receiver {
        let shared = Arc::new(Shared {
            received: Mutex::new(vec![]),
            script: Mutex::new(Script {
                statuses: statuses.iter().copied().collect(),
                then,
                hang: 0,
            }),
            stop: CancellationToken::new(),
        });
        let app = Router::new().fallback(receive).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("receiver binds");
        let addr = listener.local_addr().unwrap();
        let stop = shared.stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        Receiver { addr, shared }
    }

    /// The URL of `path` (starting with `/`) on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Replaces the script: `statuses` in order, then `then`.
    pub fn set_script(&self, statuses: &[u16], then: u16) {
        let mut s = self.shared.script.lock().unwrap();
        s.statuses = statuses.iter().copied().collect();
        s.then = then;
    }

    /// The next `n` requests are recorded but never answered.
    pub fn hang_first(&self, n: usize) {
        self.shared.script.lock().unwrap().hang = n;
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.shared.received.lock().unwrap().len()
    }

    /// The requests carrying event `event_id`.
    pub fn for_event(&self, event_id: &str) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.event_id() == Some(event_id))
            .collect()
    }

    /// Waits (up to `limit`) until `pred` holds for the requests so far; returns them.
    /// Panics with what arrived when it never does.
    pub async fn wait_until(
        &self,
        limit: Duration,
        what: &str,
        pred: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        crate::eventually(&format!("receiver: {what}"), limit, || {
            let got = self.requests();
            let result = if pred(&got) {
                Ok(got)
            } else {
                let bodies: Vec<String> = got
                    .iter()
                    .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                    .collect();
                Err(format!("{} requests: {bodies:?}", got.len()))
            };
            async move { result }
        })
        .await
    }

    /// Waits until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Received> {
        self.wait_until(limit, &format!("{n} requests"), |r| r.len() >= n)
            .await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.stop.cancel();
    }
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    shared.received.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        headers,
        body: body.to_vec(),
        at: Instant::now(),
    });
    let (hang, status) = {
        let mut s = shared.script.lock().unwrap();
        if s.hang > 0 {
            s.hang -= 1;
            (true, 0)
        } else {
            let then = s.then;
            (false, s.statuses.pop_front().unwrap_or(then))
        }
    };
    if hang {
        // Never answer (until the receiver stops).
        shared.stop.cancelled().await;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The signature ILS puts in `x-ils-signature` for `body` sent at unix time `t`.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks `x-ils-signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` (and that
/// `x-ils-timestamp`, when present, is the same `t`). Header names are matched
/// case-insensitively.
pub fn verify_signature(secret: &str, headers: &[(String, String)], body: &[u8]) -> bool {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    let Some(sig) = get("x-ils-signature") else {
        return false;
    };
    let mut t = None;
    let mut v1 = vec![];
    for part in sig.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.to_owned()),
            Some(("v1", v)) => v1.push(v.to_owned()),
            _ => {}
        }
    }
    let Some(t) = t else {
        return false;
    };
    if t.parse::<i64>().is_err() {
        return false;
    }
    if let Some(ts) = get("x-ils-timestamp")
        && ts != t
    {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    v1.iter().any(|hex_sig| {
        // Lowercase hex, as the scheme says.
        hex_sig
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
            && hex::decode(hex_sig)
                .map(|bytes| bytes[..] == expected[..])
                .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_round_trip_and_reject_tampering() {
        let body = br#"{"id":"x"}"#;
        let sig = sign("whsec_abc", 1_700_000_000, body);
        let h = |s: &str| vec![("X-ILS-Signature".to_owned(), s.to_owned())];
        assert!(verify_signature("whsec_abc", &h(&sig), body));
        assert!(!verify_signature("whsec_abd", &h(&sig), body));
        assert!(!verify_signature("whsec_abc", &h(&sig), br#"{"id":"y"}"#));
        let other_t = sig.replace("t=1700000000", "t=1700000001");
        assert!(!verify_signature("whsec_abc", &h(&other_t), body));
        assert!(!verify_signature("whsec_abc", &[], body));
        assert!(!verify_signature(
            "whsec_abc",
            &h(&sig.to_uppercase()),
            body
        ));
    }
}
