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

/// `ILS_OPERATIONS`: how first-party callers may send query text (persisted operations).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationsMode {
    /// Any text runs.
    Off,
    /// Any text runs; text no published list holds is logged.
    LogUnknown,
    /// Text runs only when it matches a published document.
    Safelist,
    /// Only documents by ID run.
    RequireId,
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
    /// How long a request waits for a database connection (or for the database to accept
    /// one) before it is answered SERVICE_UNAVAILABLE (HTTP 503).
    pub db_acquire_timeout_secs: u64,
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
    /// `ILS_OPERATIONS`; unset: `off`.
    pub operations: Option<OperationsMode>,
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
    /// How long published events are kept for subscribers resuming with `after:`.
    pub event_retention_days: u64,
    /// The longest a request or the dispatcher waits on one Redis command (or on connecting
    /// to it) before treating Redis as away.
    pub redis_timeout_ms: u64,
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
    /// `ILS_PUBLIC_URL`: where people reach this server (`https://ils.example.com`), for
    /// links in mail; unset: `http://` and the listening address.
    pub public_url: Option<String>,
    /// Open WebSockets per company in this process.
    pub ws_max_per_company: usize,
    /// Sign-ups one client address may attempt per hour.
    pub sign_ups_per_address: u64,
    /// `ILS_RATE_LIMITS`: whether requests draw on rate and cost budgets (README, "Fair
    /// use"); on by default.
    pub rate_limits: bool,
    /// Requests a minute one anonymous client address may send.
    pub anonymous_requests_per_minute: u64,
    /// Cost points (query complexity) a minute one anonymous client address may spend.
    pub anonymous_cost_per_minute: u64,
    /// `ILS_TRUSTED_PROXIES`: the proxies (addresses or networks, comma-separated) whose
    /// `X-Forwarded-For` names the client (`crate::forwarded`); none by default.
    #[serde(deserialize_with = "list_or_commas")]
    pub trusted_proxies: Vec<String>,
    /// `ILS_CORS_ORIGINS`: browser origins allowed to call the API from another site
    /// (comma-separated, e.g. `https://app.example.com,http://localhost:5173`); none by
    /// default, and `*` is refused in production.
    #[serde(deserialize_with = "list_or_commas")]
    pub cors_origins: Vec<String>,
    /// `ILS_METRICS_LISTEN`: serve `/metrics` on this address only (not on `listen`).
    pub metrics_listen: Option<SocketAddr>,
    /// `ILS_METRICS_TOKEN`: `/metrics` on the main address asks for this bearer token.
    pub metrics_token: Option<String>,
    /// `ILS_AI_PROVIDERS`: the assistant's model providers in the order tried
    /// (`anthropic:claude-sonnet-4-5,openai:gpt-4o-mini,builtin`); `builtin` alone (the
    /// default) needs no key and no network.
    pub ai_providers: String,
    /// `ILS_AI_PRICES`: `model=input/output` in USD per million tokens, comma-separated,
    /// added to (or replacing) the built-in price table.
    #[serde(deserialize_with = "list_or_commas")]
    pub ai_prices: Vec<String>,
    /// Each company's monthly assistant budget in USD (a company may set a lower one).
    pub ai_monthly_cap_usd: f64,
    /// The built-in assistant answers the questions it recognises before any model.
    pub ai_builtin_first: bool,
    /// A provider's timeout when its entry names none.
    pub ai_timeout_ms: u64,
    /// The most tokens a model may write in one round of an answer.
    pub ai_max_output_tokens: u32,
    pub ai_openai_base_url: String,
    pub ai_openai_api_key: Option<String>,
    pub ai_anthropic_base_url: String,
    pub ai_anthropic_api_key: Option<String>,
}

/// A list given either as a list (TOML) or as one comma-separated string (environment).
fn list_or_commas<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Either::deserialize(d)? {
        Either::List(l) => l,
        Either::Text(t) => t
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// Every setting, as its environment variable, with what it does: `ils --help` prints
/// this table and a unit test keeps it equal to the fields of `Config`. In `ils.toml` a
/// setting's key is the variable's name without `ILS_`, in lower case (`max_depth`);
/// `DATABASE_URL` and `REDIS_URL` are `database_url` and `redis_url`.
pub const VARIABLES: &[(&str, &str)] = &[
    (
        "ILS_LISTEN",
        "address to serve on (default 127.0.0.1:8080; PORT=n alone means 0.0.0.0:n)",
    ),
    (
        "DATABASE_URL",
        "sqlite://file?mode=rwc (default sqlite://ils.db?mode=rwc) or postgres://…",
    ),
    (
        "REDIS_URL",
        "redis://… for the shared bus, throttles and sockets; unset: in-process",
    ),
    (
        "ILS_REDIS_PREFIX",
        "prefix of every Redis key (default ils)",
    ),
    ("ILS_ENV", "development (default) or production"),
    (
        "ILS_DATA_DIR",
        "folder for files the server keeps (default .ils)",
    ),
    (
        "ILS_JWT_SECRET",
        "token signing secret, 32+ characters (random-looking in production); required in production",
    ),
    ("ILS_JWT_ISSUER", "token issuer (default ils)"),
    ("ILS_JWT_AUDIENCE", "token audience (default ils-api)"),
    (
        "ILS_ACCESS_TOKEN_TTL_SECS",
        "access token lifetime (default 900)",
    ),
    (
        "ILS_REFRESH_TOKEN_TTL_SECS",
        "refresh token lifetime (default 30 days)",
    ),
    (
        "ILS_DB_APP_ROLE",
        "PostgreSQL role guarded transactions run as",
    ),
    ("ILS_DB_MAX_CONNECTIONS", "database pool size (default 10)"),
    (
        "ILS_DB_ACQUIRE_TIMEOUT_SECS",
        "longest wait for a database connection before 503 (default 2)",
    ),
    (
        "ILS_SEED_DEMO",
        "seed demo companies into an empty database (development; default true)",
    ),
    (
        "ILS_MAX_DEPTH",
        "deepest query (default 12; introspection has its own limit of 20)",
    ),
    (
        "ILS_MAX_COMPLEXITY",
        "most fields a query may select (default 1000)",
    ),
    ("ILS_MAX_ALIASES", "most aliases in a document (default 30)"),
    (
        "ILS_MAX_DIRECTIVES",
        "most directives in a document (default 50)",
    ),
    ("ILS_MAX_BODY_BYTES", "largest request body (default 1 MiB)"),
    (
        "ILS_MAX_UPLOAD_BYTES",
        "largest multipart upload (default 16 MiB)",
    ),
    (
        "ILS_FILES_URL",
        "file store: file:///path or memory:///; default DATA_DIR/files",
    ),
    (
        "ILS_MAX_BATCH",
        "most operations in a batched request; 0 refuses batches (default)",
    ),
    (
        "ILS_INTROSPECTION",
        "auto (default: not for anonymous callers in production), on, off",
    ),
    (
        "ILS_OPERATIONS",
        "query text from signed-in users and anonymous callers: off (default), log_unknown, safelist, require_id",
    ),
    ("ILS_REQUEST_TIMEOUT_SECS", "longest request (default 30)"),
    (
        "ILS_HEADER_READ_TIMEOUT_SECS",
        "longest wait for request headers (default 10)",
    ),
    (
        "ILS_SHUTDOWN_GRACE_SECS",
        "time given to running work at shutdown (default 20)",
    ),
    ("ILS_LOG_FORMAT", "text (default) or json"),
    (
        "ILS_WORKERS",
        "jobs run at once by this process; 0: none here (default 8)",
    ),
    (
        "ILS_JOB_POLL_MS",
        "how often idle workers look for due jobs (default 1000)",
    ),
    (
        "ILS_JOB_LEASE_SECS",
        "how long a claimed job is held (default 120)",
    ),
    (
        "ILS_EVENT_RETENTION_DAYS",
        "how long events are kept for subscribers resuming with `after:` (default 7)",
    ),
    (
        "ILS_REDIS_TIMEOUT_MS",
        "longest wait for one Redis command or connection (default 500)",
    ),
    (
        "ILS_WEBHOOK_TIMEOUT_MS",
        "webhook request timeout (default 10000)",
    ),
    (
        "ILS_WEBHOOK_MAX_ATTEMPTS",
        "attempts per webhook delivery (default 14)",
    ),
    (
        "ILS_WEBHOOK_RETRY_BASE_MS",
        "first webhook retry delay, doubling (default 20000)",
    ),
    (
        "ILS_WEBHOOK_RETRY_MAX_MS",
        "longest webhook retry delay (default 6 h)",
    ),
    (
        "ILS_WEBHOOK_ALLOW_PRIVATE",
        "allow private webhook targets in production (default false)",
    ),
    (
        "ILS_SMTP_URL",
        "smtp://user:pass@host:587 or smtps://…; unset: mail kept in DATA_DIR/mail",
    ),
    (
        "ILS_MAIL_FROM",
        "sender of mail (default ILS <no-reply@ils.example>)",
    ),
    (
        "ILS_PUBLIC_URL",
        "where people reach this server, for links in mail (development default: http:// and ILS_LISTEN)",
    ),
    (
        "ILS_WS_MAX_PER_COMPANY",
        "open WebSockets per company and process (default 100)",
    ),
    (
        "ILS_RATE_LIMITS",
        "rate and cost budgets per key, user, company and anonymous address (default true)",
    ),
    (
        "ILS_ANONYMOUS_REQUESTS_PER_MINUTE",
        "requests a minute per anonymous client address (default 120)",
    ),
    (
        "ILS_ANONYMOUS_COST_PER_MINUTE",
        "cost points (query complexity) a minute per anonymous client address (default 12000)",
    ),
    (
        "ILS_SIGN_UPS_PER_ADDRESS",
        "sign-ups one client address may attempt per hour (default 10)",
    ),
    (
        "ILS_TRUSTED_PROXIES",
        "proxies whose X-Forwarded-For names the client: addresses or networks, comma-separated (default none)",
    ),
    (
        "ILS_CORS_ORIGINS",
        "comma-separated browser origins allowed cross-site; none by default",
    ),
    ("ILS_METRICS_LISTEN", "serve /metrics only on this address"),
    (
        "ILS_METRICS_TOKEN",
        "bearer token /metrics asks for on the main address",
    ),
    (
        "ILS_AI_PROVIDERS",
        "assistant model providers in order, e.g. anthropic:claude-sonnet-4-5,openai:gpt-4o-mini,builtin (default builtin: no model, no network)",
    ),
    (
        "ILS_AI_PRICES",
        "extra model prices, model=input/output in USD per million tokens, comma-separated",
    ),
    (
        "ILS_AI_MONTHLY_CAP_USD",
        "each company's monthly assistant budget in USD (default 50)",
    ),
    (
        "ILS_AI_BUILTIN_FIRST",
        "the built-in assistant answers what it recognises before any model (default true)",
    ),
    (
        "ILS_AI_TIMEOUT_MS",
        "a model provider's timeout unless its entry sets one (default 30000)",
    ),
    (
        "ILS_AI_MAX_OUTPUT_TOKENS",
        "the most tokens a model may write in one round of an answer (default 1024)",
    ),
    (
        "ILS_AI_OPENAI_BASE_URL",
        "OpenAI-compatible base URL (default https://api.openai.com/v1; Ollama, vLLM, llama.cpp work too)",
    ),
    ("ILS_AI_OPENAI_API_KEY", "API key for the openai provider"),
    (
        "ILS_AI_ANTHROPIC_BASE_URL",
        "Anthropic base URL (default https://api.anthropic.com)",
    ),
    (
        "ILS_AI_ANTHROPIC_API_KEY",
        "API key for the anthropic provider",
    ),
];

/// `ILS_` variables that are not settings, read by the log filter and the tooling.
pub const OTHER_VARIABLES: &[(&str, &str)] = &[
    (
        "ILS_CONFIG",
        "the TOML file to read (default ils.toml when present)",
    ),
    ("ILS_LOG", "log filter, e.g. info,ils_api=debug"),
    (
        "PORT",
        "port to serve on, on all interfaces, when ILS_LISTEN is unset",
    ),
    (
        "ILS_REQUIRE_BROWSER",
        "test suite: fail, not skip, when the browser test cannot run",
    ),
    ("ILS_CI_CACHE", ".ci/run: where the build cache lives"),
    (
        "ILS_TEST_LLM_URL",
        "test suite: a local model server (llama-server) for the provider tests",
    ),
    ("ILS_TEST_LLM_MODEL", "test suite: that server's model name"),
    (
        "ILS_REQUIRE_LLM",
        "test suite: fail, not skip, when the local model server is absent",
    ),
];

/// The `ils.toml` key of a variable.
fn key_of(variable: &str) -> String {
    variable.trim_start_matches("ILS_").to_ascii_lowercase()
}

/// The known name closest to `unknown`, for the error message.
fn closest<'a>(unknown: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .map(|k| (strsim::levenshtein(unknown, k), k))
        .filter(|(d, k)| *d <= (k.len() / 2).max(3))
        .min()
        .map(|(_, k)| k)
}

fn unknown(what: &str, name: &str, known: &[String]) -> ConfigError {
    match closest(name, known.iter().map(String::as_str)) {
        Some(k) => ConfigError(format!("unknown {what} {name}; did you mean {k}?")),
        None => ConfigError(format!(
            "unknown {what} {name}; `ils --help` lists the settings"
        )),
    }
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
            db_acquire_timeout_secs: 2,
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
            operations: None,
            request_timeout_secs: 30,
            header_read_timeout_secs: 10,
            shutdown_grace_secs: 20,
            log_format: LogFormat::Text,
            workers: 8,
            job_poll_ms: 1000,
            job_lease_secs: 120,
            event_retention_days: 7,
            redis_timeout_ms: 500,
            webhook_timeout_ms: 10_000,
            // 20 s doubling to 6 h: the 14th attempt comes about a day after the first.
            webhook_max_attempts: 14,
            webhook_retry_base_ms: 20_000,
            webhook_retry_max_ms: 6 * 3600 * 1000,
            webhook_allow_private: false,
            smtp_url: None,
            mail_from: "ILS <no-reply@ils.example>".into(),
            public_url: None,
            ws_max_per_company: 100,
            sign_ups_per_address: 10,
            rate_limits: true,
            anonymous_requests_per_minute: 120,
            anonymous_cost_per_minute: 12_000,
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            metrics_listen: None,
            metrics_token: None,
            ai_providers: "builtin".into(),
            ai_prices: vec![],
            ai_monthly_cap_usd: 50.0,
            ai_builtin_first: true,
            ai_timeout_ms: 30_000,
            ai_max_output_tokens: 1024,
            ai_openai_base_url: "https://api.openai.com/v1".into(),
            ai_openai_api_key: None,
            ai_anthropic_base_url: "https://api.anthropic.com".into(),
            ai_anthropic_api_key: None,
        }
    }
}

/// A configuration problem, reported as one line.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Where people reach this server: `ILS_PUBLIC_URL`; in development without it,
    /// `http://` and the listening address (127.0.0.1 for an unspecified one). `None` in
    /// production without it: behind a proxy or on another machine the listening address
    /// is no link, so mail names the path alone.
    pub fn public_url(&self) -> Option<String> {
        match &self.public_url {
            Some(u) => Some(u.trim_end_matches('/').to_owned()),
            None if self.env == Environment::Production => None,
            None => {
                let mut at = self.listen;
                if at.ip().is_unspecified() {
                    at.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                Some(format!("http://{at}"))
            }
        }
    }

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
        Self::refuse_unknown(&file, std::env::vars())?;
        let mut figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&file))
            .merge(Env::prefixed("ILS_").ignore(&["config", "log"]))
            .merge(Env::raw().only(&["DATABASE_URL", "REDIS_URL"]));
        // A platform's PORT (Heroku, Render, Cloud Run…) when nothing else names the address.
        if std::env::var_os("ILS_LISTEN").is_none()
            && !Figment::from(Toml::file(&file)).contains("listen")
            && let Ok(port) = std::env::var("PORT")
        {
            let port: u16 = port
                .trim()
                .parse()
                .map_err(|_| ConfigError(format!("PORT must be a port number, not {port:?}")))?;
            figment = figment.merge(Serialized::default(
                "listen",
                SocketAddr::from(([0, 0, 0, 0], port)),
            ));
        }
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError(e.to_string().replace('\n', " ")))?;
        config.validate()?;
        Ok(config)
    }

    /// Refuses keys of `file` and `ILS_*` variables that name no setting, with the
    /// closest known name: a misspelt setting must not be silently ignored.
    pub fn refuse_unknown(
        file: &std::path::Path,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        let variables: Vec<String> = VARIABLES
            .iter()
            .chain(OTHER_VARIABLES)
            .map(|(v, _)| v.to_string())
            .collect();
        for (name, _) in vars {
            if name.starts_with("ILS_") && !variables.contains(&name) {
                return Err(unknown("variable", &name, &variables));
            }
        }
        if file.exists() {
            let keys: Vec<String> = VARIABLES.iter().map(|(v, _)| key_of(v)).collect();
            let table: std::collections::BTreeMap<String, figment::value::Value> =
                Figment::from(Toml::file(file))
                    .extract()
                    .map_err(|e| ConfigError(format!("{}: {e}", file.display())))?;
            for key in table.keys() {
                if !keys.contains(key) {
                    return Err(unknown(&format!("key in {}:", file.display()), key, &keys));
                }
            }
        }
        Ok(())
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
            // Length alone lets `aaaa…` through; in production the secret must also look
            // random (development keeps any 32 characters, for local set-ups).
            if self.env == Environment::Production && secret_entropy_bits(s) < MIN_SECRET_BITS {
                return Err(ConfigError(format!(
                    "ILS_JWT_SECRET looks guessable in production (about {:.0} bits estimated, at \
                     least {MIN_SECRET_BITS:.0} needed): use random bytes, such as \
                     `openssl rand -base64 48`",
                    secret_entropy_bits(s)
                )));
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
        if let Some(u) = &self.public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(ConfigError(
                "ILS_PUBLIC_URL must start with http:// or https://".into(),
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
            (
                "ILS_EVENT_RETENTION_DAYS",
                self.event_retention_days as usize,
            ),
            ("ILS_REDIS_TIMEOUT_MS", self.redis_timeout_ms as usize),
            (
                "ILS_DB_ACQUIRE_TIMEOUT_SECS",
                self.db_acquire_timeout_secs as usize,
            ),
            ("ILS_WEBHOOK_TIMEOUT_MS", self.webhook_timeout_ms as usize),
            (
                "ILS_WEBHOOK_RETRY_BASE_MS",
                self.webhook_retry_base_ms as usize,
            ),
            ("ILS_WS_MAX_PER_COMPANY", self.ws_max_per_company),
            (
                "ILS_SIGN_UPS_PER_ADDRESS",
                self.sign_ups_per_address as usize,
            ),
            (
                "ILS_ANONYMOUS_REQUESTS_PER_MINUTE",
                self.anonymous_requests_per_minute as usize,
            ),
            (
                "ILS_ANONYMOUS_COST_PER_MINUTE",
                self.anonymous_cost_per_minute as usize,
            ),
        ] {
            if v == 0 {
                return Err(ConfigError(format!("{name} must be positive")));
            }
        }
        crate::forwarded::TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|e| ConfigError(format!("ILS_TRUSTED_PROXIES: {e}")))?;
        for origin in &self.cors_origins {
            if origin == "*" {
                if self.env == Environment::Production {
                    return Err(ConfigError(
                        "ILS_CORS_ORIGINS: `*` is refused in production; list the origins".into(),
                    ));
                }
                continue;
            }
            let ok = url::Url::parse(origin).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.path() == "/"
                    && u.query().is_none()
                    && !origin.ends_with('/')
            });
            if !ok {
                return Err(ConfigError(format!(
                    "ILS_CORS_ORIGINS: {origin:?} is not an origin (scheme://host[:port], no path)"
                )));
            }
        }
        if self.metrics_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(ConfigError(
                "ILS_METRICS_TOKEN must have at least 16 characters".into(),
            ));
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
    /// The persisted-operations mode for first-party traffic (`ILS_OPERATIONS`, `off`
    /// unless set).
    /// The assistant's settings.
    pub fn ai_settings(&self) -> Result<ils_ai::AiSettings, ConfigError> {
        let bad = |e: String| ConfigError(format!("assistant: {e}"));
        if !(self.ai_monthly_cap_usd >= 0.0 && self.ai_monthly_cap_usd < 1e9) {
            return Err(bad(
                "ILS_AI_MONTHLY_CAP_USD must be between 0 and 1e9".into()
            ));
        }
        Ok(ils_ai::AiSettings {
            providers: ils_ai::config::parse_providers(&self.ai_providers).map_err(bad)?,
            openai_base_url: self.ai_openai_base_url.clone(),
            openai_api_key: self.ai_openai_api_key.clone(),
            anthropic_base_url: self.ai_anthropic_base_url.clone(),
            anthropic_api_key: self.ai_anthropic_api_key.clone(),
            timeout: std::time::Duration::from_millis(self.ai_timeout_ms.max(1)),
            prices: ils_ai::config::PriceTable::with(&self.ai_prices).map_err(bad)?,
            monthly_cap_micros: (self.ai_monthly_cap_usd * 1_000_000.0).round() as i64,
            builtin_first: self.ai_builtin_first,
            max_output_tokens: self.ai_max_output_tokens.clamp(1, 100_000),
        })
    }

    pub fn operations_mode(&self) -> OperationsMode {
        self.operations.unwrap_or(OperationsMode::Off)
    }

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

/// The least estimated entropy, in bits, of a production signing secret. 32 random hex
/// digits (128 real bits) estimate at about 115; a repeated word far lower.
pub const MIN_SECRET_BITS: f64 = 96.0;

/// An estimate of a secret's entropy in bits: its Shannon entropy per character (from the
/// frequencies of its own characters) times its length, and 0 for a secret that is one
/// shorter pattern repeated (`abcabcabc…`). It cannot see that a phrase is a phrase, but it
/// refuses the weak secrets people type: one character, a short pattern, a word repeated.
pub fn secret_entropy_bits(secret: &str) -> f64 {
    let chars: Vec<char> = secret.chars().collect();
    let n = chars.len();
    if n == 0 {
        return 0.0;
    }
    let repeats = (1..=n / 2).any(|period| {
        n.is_multiple_of(period) && chars.chunks(period).all(|c| c == &chars[..period])
    });
    if repeats {
        return 0.0;
    }
    let mut counts = std::collections::HashMap::new();
    for c in &chars {
        *counts.entry(*c).or_insert(0usize) += 1;
    }
    let per_char: f64 = counts
        .values()
        .map(|&k| {
            let p = k as f64 / n as f64;
            -p * p.log2()
        })
        .sum();
    per_char * n as f64
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

    /// 48 random bytes in base64, as `openssl rand -base64 48` makes them.
    const STRONG_SECRET: &str = "q3Vb8T0nJ6yXw1mP4kZr9sLd2hGf7cNa5eUi0oQxRtYz3BvKj8WlMp6Hs1DgFaCe";

    #[test]
    fn a_production_secret_must_look_random() {
        let with = |secret: &str, env| Config {
            env,
            jwt_secret: Some(secret.into()),
            ..Config::default()
        };
        let prod = Environment::Production;
        for weak in [
            "a".repeat(32),
            "ab".repeat(16),
            "s".repeat(40),
            "passwordpasswordpasswordpassword".to_owned(),
            "0123456789".repeat(4),
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab".to_owned(),
        ] {
            let e = with(&weak, prod).validate().unwrap_err().to_string();
            assert!(e.contains("guessable"), "{weak}: {e}");
            // Development takes any 32 characters.
            assert!(with(&weak, Environment::Development).validate().is_ok());
        }
        assert!(with(STRONG_SECRET, prod).validate().is_ok());
        // 32 random hex digits (`openssl rand -hex 16`) pass.
        assert!(
            with("9f86d081884c7d659a2feaa0c55ad015", prod)
                .validate()
                .is_ok()
        );
        assert!(
            with("3b5e0a91c7d24f68e1a0b9c83d7f2e46", prod)
                .validate()
                .is_ok()
        );
        // Too short is refused before entropy is looked at.
        let e = with("Zx8#", prod).validate().unwrap_err().to_string();
        assert!(e.contains("at least 32"), "{e}");
        assert_eq!(secret_entropy_bits(""), 0.0);
        assert_eq!(secret_entropy_bits(&"xyz".repeat(20)), 0.0);
        assert!(secret_entropy_bits(STRONG_SECRET) > 200.0);
    }

    #[test]
    fn the_variables_table_names_every_setting() {
        let fields: Vec<String> = serde_json::to_value(Config::default())
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let mut listed: Vec<String> = VARIABLES.iter().map(|(v, _)| key_of(v)).collect();
        let mut fields = fields;
        fields.sort();
        listed.sort();
        assert_eq!(listed, fields);
    }

    #[test]
    fn unknown_variables_and_keys_are_refused_with_the_closest_name() {
        let none = std::path::Path::new("/nonexistent/ils.toml");
        let vars = |n: &str| vec![(n.to_owned(), "1".to_owned())].into_iter();
        let e = Config::refuse_unknown(none, vars("ILS_MAX_DEPHT")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "configuration error: unknown variable ILS_MAX_DEPHT; did you mean ILS_MAX_DEPTH?"
        );
        assert!(Config::refuse_unknown(none, vars("ILS_MAX_DEPTH")).is_ok());
        assert!(Config::refuse_unknown(none, vars("ILS_LOG")).is_ok());
        assert!(Config::refuse_unknown(none, vars("HOME")).is_ok());
        let e = Config::refuse_unknown(none, vars("ILS_ZZZZZZZZZZZZZZZZZZZZ")).unwrap_err();
        assert!(e.to_string().contains("ils --help"), "{e}");

        let dir = std::env::temp_dir().join(format!("ils-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ils.toml");
        std::fs::write(&file, "max_depth = 9\nworkerz = 2\n").unwrap();
        let e = Config::refuse_unknown(&file, std::iter::empty()).unwrap_err();
        assert!(e.to_string().contains("unknown key"), "{e}");
        assert!(
            e.to_string().ends_with("workerz; did you mean workers?"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn cors_origins_are_checked() {
        let with = |origins: &[&str], env| Config {
            cors_origins: origins.iter().map(|s| s.to_string()).collect(),
            env,
            jwt_secret: Some(STRONG_SECRET.into()),
            ..Config::default()
        };
        let dev = Environment::Development;
        let prod = Environment::Production;
        assert!(
            with(&["https://app.example.com", "http://localhost:5173"], prod)
                .validate()
                .is_ok()
        );
        assert!(with(&["*"], dev).validate().is_ok());
        assert!(
            with(&["*"], prod)
                .validate()
                .unwrap_err()
                .to_string()
                .contains("refused in production")
        );
        for bad in [
            "app.example.com",
            "https://app.example.com/",
            "https://a.com/path",
            "ftp://a.com",
        ] {
            assert!(with(&[bad], dev).validate().is_err(), "{bad}");
        }
    }
}
