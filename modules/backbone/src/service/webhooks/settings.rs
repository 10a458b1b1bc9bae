//! How deliveries are made: the HTTP client and the retry policy.

use super::ssrf::PublicOnly;
use std::sync::Arc;
use std::time::Duration;

/// How deliveries are made; shared by the GraphQL layer (URL checks) and the jobs.
#[derive(Clone)]
pub struct WebhookSettings {
    pub client: reqwest::Client,
    pub max_attempts: i32,
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Loopback, private and link-local targets allowed (development, tests).
    pub allow_private: bool,
}

impl WebhookSettings {
    pub fn new(
        timeout: Duration,
        max_attempts: i32,
        retry_base: Duration,
        retry_max: Duration,
        allow_private: bool,
    ) -> Result<WebhookSettings, String> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            // HTTP(S)_PROXY must not route deliveries around the address checks.
            .no_proxy()
            .user_agent("ILS-Webhooks/1");
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(WebhookSettings {
            client: builder
                .build()
                .map_err(|e| format!("webhook client: {e}"))?,
            max_attempts: max_attempts.max(1),
            retry_base,
            retry_max,
            allow_private,
        })
    }
}
