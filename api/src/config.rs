//! Typed configuration, loaded once at start-up: defaults, then an optional TOML file
//! (`ILS_CONFIG`, or `ils.toml` when present), then environment variables. Nothing reads
//! the environment after this.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Production,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Introspection {
    /// On, except for anonymous callers in production.
    Auto,
    On,
    Off,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    /// `ILS_LISTEN`
    pub listen: SocketAddr,
    /// `DATABASE_URL`: `sqlite://…` or `postgres://…`
    pub database_url: String,
    /// `REDIS_URL`: unset means in-process.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key, so several deployments (or test runs) can share one Redis.
    pub redis_prefix: String,
    /// `ILS_ENV`
    pub env: Environment,
    /// Folder for files the server keeps (the development signing secret).
    pub data_dir: PathBuf,
    /// `ILS_JWT_SECRET`; generated and kept in `data_dir` in development when unset.
    pub jwt_secret: Option<String>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    /// The PostgreSQL role guarded transactions run as (created by the migrations).
    pub db_app_role: String,
    pub db_max_connections: u32,
    /// Seed demo companies on a fresh database (development only).
    pub seed_demo: bool,
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_directives: usize,
    pub max_body_bytes: usize,
    /// A multipart request (a file upload) may be this large.
    pub max_upload_bytes: usize,
    /// `ILS_FILES_URL`: where uploaded and generated files are kept (`file:///path`,
    /// `memory:///`); unset keeps them in `data_dir/files`.
    pub files_url: Option<String>,
    /// 0 refuses batched (array) requests.
    pub max_batch: usize,
    pub introspection: Introspection,
    pub request_timeout_secs: u64,
    pub header_read_timeout_secs: u64,
    pub shutdown_grace_secs: u64,
    pub log_format: LogFormat,
    /// Jobs run at once by this process; 0 runs no dispatcher, workers or scheduler here
    /// (`ils worker` processes do that work).
    pub workers: usize,
    /// How often idle workers look for due jobs when nothing wakes them.
    pub job_poll_ms: u64,
    /// How long a claimed job is held before another worker may take it over.
    pub job_lease_secs: u64,
    pub webhook_timeout_ms: u64,
    pub webhook_max_attempts: i32,
    /// First retry delay of a webhook delivery; doubles per attempt up to the maximum.
    pub webhook_retry_base_ms: u64,
    pub webhook_retry_max_ms: u64,
    /// Allow loopback, private and link-local webhook targets in production.
    pub webhook_allow_private: bool,
    /// `smtp://user:pass@host:587` or `smtps://…`; unset writes mail to `data_dir/mail`.
    pub smtp_url: Option<String>,
    pub mail_from: String,
    /// Open WebSockets per company in this process.
    pub ws_max_per_company: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".parse().expect("valid default address"),
            database_url: "sqlite://ils.db?mode=rwc".into(),
            redis_url: None,
            redis_prefix: "ils".into(),
            env: Environment::Development,
            data_dir: PathBuf::from(".ils"),
            jwt_secret: None,
            jwt_issuer: "ils".into(),
            jwt_audience: "ils-api".into(),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            db_app_role: ils_migration::rls::APP_ROLE.into(),
            db_max_connections: 10,
            seed_demo: true,
            max_depth: 12,
            max_complexity: 1000,
            max_aliases: 30,
            max_directives: 50,
            max_body_bytes: 1024 * 1024,
            max_upload_bytes: 16 * 1024 * 1024,
            files_url: None,
            max_batch: 0,
            introspection: Introspection::Auto,
            request_timeout_secs: 30,
            header_read_timeout_secs: 10,
            shutdown_grace_secs: 20,
            log_format: LogFormat::Text,
            workers: 8,
            job_poll_ms: 1000,
            job_lease_secs: 120,
            webhook_timeout_ms: 10_000,
            // 20 s doubling to 6 h: the 14th attempt comes about a day after the first.
            webhook_max_attempts: 14,
            webhook_retry_base_ms: 20_000,
            webhook_retry_max_ms: 6 * 3600 * 1000,
            webhook_allow_private: false,
            smtp_url: None,
            mail_from: "ILS <no-reply@ils.example>".into(),
            ws_max_per_company: 100,
        }
    }
}

/// A configuration problem, reported as one line.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

impl Config {
    pub fn load() -> Result<Config, ConfigError> {
        let file = std::env::var("ILS_CONFIG").ok().map(PathBuf::from);
        if let Some(f) = &file
            && !f.exists()
        {
            return Err(ConfigError(format!(
                "ILS_CONFIG names {}, which does not exist",
                f.display()
            )));
        }
        let file = file.unwrap_or_else(|| PathBuf::from("ils.toml"));
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("ILS_").ignore(&["config"]))
            .merge(Env::raw().only(&["DATABASE_URL", "REDIS_URL"]))
            .extract()
            .map_err(|e| ConfigError(e.to_string().replace('\n', " ")))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = self.database_url.as_str();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError(
                "DATABASE_URL must start with sqlite:, postgres:// or postgresql://".into(),
            ));
        }
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Err(ConfigError(
                "DATABASE_URL: an in-memory SQLite database cannot be shared by the request and \
                 background pools; use a file"
                    .into(),
            ));
        }
        if let Some(r) = &self.redis_url
            && !(r.starts_with("redis://") || r.starts_with("rediss://"))
        {
            return Err(ConfigError(
                "REDIS_URL must start with redis:// or rediss://".into(),
            ));
        }
        if let Some(s) = &self.jwt_secret {
            if s.len() < 32 {
                return Err(ConfigError(
                    "ILS_JWT_SECRET must have at least 32 characters".into(),
                ));
            }
        } else if self.env == Environment::Production {
            return Err(ConfigError(
                "ILS_JWT_SECRET is required when ILS_ENV=production".into(),
            ));
        }
        if self.access_token_ttl_secs == 0
            || self.refresh_token_ttl_secs <= self.access_token_ttl_secs
        {
            return Err(ConfigError(
                "token lifetimes must be positive, refresh longer than access".into(),
            ));
        }
        if let Some(s) = &self.smtp_url
            && !(s.starts_with("smtp://") || s.starts_with("smtps://"))
        {
            return Err(ConfigError(
                "ILS_SMTP_URL must start with smtp:// or smtps://".into(),
            ));
        }
        if self.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError(
                "ILS_MAIL_FROM must be a mail address such as `ILS <no-reply@example.com>`".into(),
            ));
        }
        if self.webhook_max_attempts < 1 {
            return Err(ConfigError(
                "ILS_WEBHOOK_MAX_ATTEMPTS must be positive".into(),
            ));
        }
        for (name, v) in [
            ("ILS_MAX_DEPTH", self.max_depth),
            ("ILS_MAX_COMPLEXITY", self.max_complexity),
            ("ILS_MAX_BODY_BYTES", self.max_body_bytes),
            ("ILS_MAX_UPLOAD_BYTES", self.max_upload_bytes),
            ("ILS_JOB_POLL_MS", self.job_poll_ms as usize),
            ("ILS_JOB_LEASE_SECS", self.job_lease_secs as usize),
            ("ILS_WEBHOOK_TIMEOUT_MS", self.webhook_timeout_ms as usize),
            (
                "ILS_WEBHOOK_RETRY_BASE_MS",
                self.webhook_retry_base_ms as usize,
            ),
            ("ILS_WS_MAX_PER_COMPANY", self.ws_max_per_company),
        ] {
            if v == 0 {
                return Err(ConfigError(format!("{name} must be positive")));
            }
        }
        if !self
            .db_app_role
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || self.db_app_role.is_empty()
        {
            return Err(ConfigError(
                "ILS_DB_APP_ROLE must be a plain identifier".into(),
            ));
        }
        Ok(())
    }

    /// The file store this configuration names.
    pub fn files(&self) -> Result<ils_kernel::files::Files, ConfigError> {
        match &self.files_url {
            Some(url) => ils_kernel::files::Files::from_url(url),
            None => ils_kernel::files::Files::local(&self.data_dir.join("files")),
        }
        .map_err(|e| match e {
            ils_kernel::AppError::Internal(detail) => ConfigError(detail),
            e => ConfigError(e.to_string()),
        })
    }

    /// Whether webhooks may target loopback, private and link-local addresses.
    pub fn webhooks_may_reach_private(&self) -> bool {
        self.env == Environment::Development || self.webhook_allow_private
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// The JWT signing secret: configured, or (development only) generated once and kept.
    pub fn signing_secret(&self) -> Result<Vec<u8>, ConfigError> {
        if let Some(s) = &self.jwt_secret {
            return Ok(s.as_bytes().to_vec());
        }
        let path = self.data_dir.join("jwt-secret");
        if let Ok(existing) = std::fs::read_to_string(&path)
            && existing.trim().len() >= 32
        {
            return Ok(existing.trim().as_bytes().to_vec());
        }
        let secret = ils_tenancy::tokens::random_secret();
        std::fs::create_dir_all(&self.data_dir)
            .and_then(|_| write_private(&path, &secret))
            .map_err(|e| {
                ConfigError(format!(
                    "cannot keep the signing secret in {}: {e}",
                    path.display()
                ))
            })?;
        Ok(secret.into_bytes())
    }
}

fn write_private(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(content.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_production_needs_a_secret() {
        assert!(Config::default().validate().is_ok());
        let prod = Config {
            env: Environment::Production,
            ..Config::default()
        };
        assert!(
            prod.validate()
                .unwrap_err()
                .to_string()
                .contains("ILS_JWT_SECRET")
        );
        let bad = Config {
            database_url: "mysql://x".into(),
            ..Config::default()
        };
        assert!(bad.validate().is_err());
    }
}
