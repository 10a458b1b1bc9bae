//! The black-box test harness. Every test gets its own database (a fresh SQLite file, or
//! a fresh PostgreSQL database when `TEST_DATABASE_URL` names a server), its own Redis key
//! namespace when `TEST_REDIS_URL` is set, and a real server on a free port.
#![allow(clippy::disallowed_methods)] // tests inspect the database below the guard on purpose

pub mod imports;
pub mod mail;
pub mod model_server;
pub mod orders;
pub mod private;
pub mod process;
pub mod receiver;
pub mod ws;

use ils_api::config::Config;
use ils_api::server::{self, RunningServer};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use std::time::Duration;

pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";
pub const PASSWORD: &str = "Correct-Horse-42";

/// Which database backend this run tests.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

pub fn redis_url() -> Option<String> {
    std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A fresh, empty database for one test; returns its URL.
pub async fn fresh_database(dir: &tempfile::TempDir) -> String {
    match postgres_admin_url() {
        Some(admin) => {
            let name = format!("ils_t_{}", uuid::Uuid::new_v4().simple());
            let conn = Database::connect(&admin)
                .await
                .expect("TEST_DATABASE_URL reachable");
            conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            conn.close().await.ok();
            replace_db_name(&admin, &name)
        }
        None => format!("sqlite://{}?mode=rwc", dir.path().join("ils.db").display()),
    }
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map(|(b, q)| (b, Some(q)))
        .unwrap_or((url, None));
    let cut = base.rfind('/').expect("database URL has a path");
    let mut out = format!("{}/{}", &base[..cut], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// The configuration tests start from: quiet, no demo data, known secret, free port.
pub fn test_config(database_url: String, dir: &tempfile::TempDir) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url,
        redis_url: redis_url(),
        redis_prefix: format!("ils-test-{}", uuid::Uuid::new_v4().simple()),
        data_dir: dir.path().join("data"),
        jwt_secret: Some(JWT_SECRET.into()),
        seed_demo: false,
        db_max_connections: 5,
        // Tests sign many companies up from one address.
        sign_ups_per_address: 10_000,
        // Tests send requests as fast as the machine allows; the rate limits have tests
        // of their own (`fair_use.rs`), which turn them on.
        rate_limits: false,
        ..Config::default()
    }
}

pub struct TestServer {
    pub server: RunningServer,
    pub database_url: String,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = fresh_database(&dir).await;
        Self::start_at(database_url, dir, adjust).await
    }

    /// A server on a database the test prepared itself.
    pub async fn start_at(
        database_url: String,
        dir: tempfile::TempDir,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        let mut config = test_config(database_url.clone(), &dir);
        adjust(&mut config);
        mail::add_folder(&database_url, config.data_dir.join("mail"));
        let server = server::start(config).await.expect("server starts");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        TestServer {
            server,
            database_url,
            http,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres")
    }

    /// A UUID as an SQL literal of this test's database, for rows written below the
    /// guard: SQLite keeps UUIDs as 16-byte blobs, PostgreSQL as uuid.
    pub fn sql_uuid(&self, u: uuid::Uuid) -> String {
        if self.is_postgres() {
            format!("'{u}'")
        } else {
            format!("X'{}'", u.simple())
        }
    }

    /// Writes a sales history below the guard, as if a product had sold for months:
    /// `units[i]` as the units `who`'s company sold of `product` at `location` (global IDs)
    /// `i + 1` days before today (yesterday first; no row for 0).
    pub async fn backdate_demand(
        &self,
        who: &Session,
        product: &Value,
        location: &Value,
        units: &[i64],
    ) {
        use sea_orm::ConnectionTrait;
        let uuid = |v: &Value| {
            ils_kernel::id::decode_any(v.as_str().expect("a global ID"))
                .expect("a global ID")
                .1
        };
        let today = chrono::Utc::now().date_naive();
        let values: Vec<String> = units
            .iter()
            .enumerate()
            .filter(|(_, u)| **u != 0)
            .map(|(i, u)| {
                format!(
                    "({}, {}, {}, {}, '{}', {u})",
                    self.sql_uuid(uuid::Uuid::now_v7()),
                    self.sql_uuid(company_uuid(who)),
                    self.sql_uuid(uuid(product)),
                    self.sql_uuid(uuid(location)),
                    today - chrono::Duration::days(i as i64 + 1),
                )
            })
            .collect();
        if values.is_empty() {
            return;
        }
        let system = if self.is_postgres() {
            "SELECT set_config('app.system', 'on', false); "
        } else {
            ""
        };
        self.owner_connection()
            .await
            .execute_unprepared(&format!(
                "{system}INSERT INTO demand_daily (id, company_id, product_id, location_id, day, units) VALUES {}",
                values.join(", ")
            ))
            .await
            .expect("the history is written");
    }

    /// SQL statements the server has sent so far.
    pub fn statements(&self) -> u64 {
        self.server.statements.get()
    }

    /// A connection to this test's database as its owner (below the guard and RLS).
    pub async fn owner_connection(&self) -> DatabaseConnection {
        Database::connect(&self.database_url)
            .await
            .expect("database reachable")
    }

    /// POST a GraphQL operation as JSON; returns the HTTP status and the JSON body.
    pub async fn post(&self, auth: &Auth, query: &str, variables: Value) -> (u16, Value) {
        let req = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        let resp = auth.apply(req).send().await.expect("request sent");
        let status = resp.status().as_u16();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// POSTs `body` (any GraphQL request object: `documentId`, `extensions`…) as JSON
    /// with `auth`; returns the HTTP status and the JSON body.
    pub async fn post_body(&self, auth: &Auth, body: Value) -> (u16, Value) {
        let req = self.http.post(self.url("/graphql")).json(&body);
        let resp = auth.apply(req).send().await.expect("request sent");
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap_or(Value::Null))
    }

    /// The `data` of a successful operation; panics with the errors otherwise.
    pub async fn ok(&self, auth: &Auth, query: &str, variables: Value) -> Value {
        let (status, body) = self.post(auth, query, variables).await;
        assert!(
            body.get("errors").is_none() && status == 200,
            "expected success, got {status}: {body}"
        );
        body["data"].clone()
    }

    /// The first error of `query`, which must fail with no data.
    pub async fn error(&self, auth: &Auth, query: &str, variables: Value) -> Value {
        let (_, body) = self.post(auth, query, variables).await;
        assert!(
            body["errors"][0].is_object(),
            "expected an error, got {body}"
        );
        assert!(
            body["data"].is_null()
                || body["data"]
                    .as_object()
                    .is_some_and(|d| d.values().all(Value::is_null)),
            "an error with data: {body}"
        );
        body["errors"][0].clone()
    }

    /// The first error's `extensions.code` (panics when there is none).
    pub async fn error_code(&self, auth: &Auth, query: &str, variables: Value) -> String {
        let (_, body) = self.post(auth, query, variables).await;
        first_code(&body).unwrap_or_else(|| panic!("expected an error, got {body}"))
    }

    /// Signs up a company as a person would: `signUp`, the token from the mail it sends,
    /// then `confirmSignUp`; then puts it on the full plan, so that what a test does is
    /// not held to the free plan's limits (the plans have their own tests, which use
    /// `sign_up_free`). Returns the new admin's session.
    pub async fn sign_up(&self, company: &str, kind: &str, email: &str) -> Session {
        let session = self.sign_up_free(company, kind, email).await;
        on_full_plan(self, &session).await;
        session
    }

    /// `sign_up`, the company left on the plan it starts on (a practice: FREE_ECP).
    pub async fn sign_up_free(&self, company: &str, kind: &str, email: &str) -> Session {
        let data = self
            .ok(&Auth::None, SIGN_UP, sign_up_input(company, kind, email))
            .await;
        // The address as the server keeps it (lower case), where the mail went.
        let to = data["signUp"]["email"].as_str().unwrap_or_default();
        assert!(to.eq_ignore_ascii_case(email.trim()), "{data}");
        let token = self.sign_up_token(to).await;
        self.confirm_sign_up(&token).await
    }

    /// Creates a company and its admin directly, with no sign-up mail (as the demo data
    /// and the benchmark do): for tests that count a company's jobs or mail.
    pub async fn register(&self, company: &str, kind: &str, email: &str) -> Session {
        let state = &self.server.state;
        ils_tenancy::service::auth::register(
            &state.db,
            &state.tokens,
            ils_tenancy::service::auth::SignUp {
                company_name: company.into(),
                company_type: ils_tenancy::model::CompanyType::parse(kind).expect("a company type"),
                email: email.into(),
                password: PASSWORD.into(),
                first_name: "Test".into(),
                last_name: "Admin".into(),
            },
        )
        .await
        .expect("company registered");
        let session = self.log_in(email, PASSWORD).await;
        on_full_plan(self, &session).await;
        session
    }

    /// Trades a sign-up token for the new company's admin session.
    pub async fn confirm_sign_up(&self, token: &str) -> Session {
        let data = self
            .ok(&Auth::None, CONFIRM_SIGN_UP, json!({ "token": token }))
            .await;
        Session::from_payload(&data["confirmSignUp"])
    }

    /// The newest sign-up token mailed to `email`.
    pub async fn sign_up_token(&self, email: &str) -> String {
        let mail = self
            .mails_to(email)
            .await
            .into_iter()
            .find(|m| m.subject == SIGN_UP_SUBJECT)
            .unwrap_or_else(|| panic!("no sign-up mail to {email}"));
        token_in(&mail.body).unwrap_or_else(|| panic!("no token in {mail:?}"))
    }

    /// Every message to `to`, sent or still queued (`mail::mailbox`), by any server of
    /// this test's database.
    pub async fn mails_to(&self, to: &str) -> Vec<mail::Mail> {
        mail::mailbox(
            &self.database_url,
            &mail::folders_of(&self.database_url),
            to,
        )
        .await
    }

    /// Asserts nobody can log in as `email` and nothing was mailed to it: a sign-up for it
    /// never ran.
    pub async fn assert_no_account(&self, email: &str) {
        let mailed = self.mails_to(email).await;
        assert!(mailed.is_empty(), "mail to {email}: {mailed:?}");
        self.assert_account_missing(email).await;
    }

    /// Asserts nobody can log in as `email`.
    pub async fn assert_account_missing(&self, email: &str) {
        let code = self
            .error_code(
                &Auth::None,
                TINY_LOG_IN,
                json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert_eq!(code, "UNAUTHENTICATED", "an account for {email} exists");
    }

    /// Asserts `email` can log in with the test password.
    pub async fn assert_account(&self, email: &str) {
        let data = self
            .ok(
                &Auth::None,
                TINY_LOG_IN,
                json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert!(data["logIn"]["accessToken"].is_string(), "{data}");
    }

    pub async fn log_in(&self, email: &str, password: &str) -> Session {
        let data = self
            .ok(
                &Auth::None,
                LOG_IN,
                json!({ "email": email, "password": password }),
            )
            .await;
        Session::from_payload(&data["logIn"])
    }

    /// Creates a platform admin (as `ils create-platform-admin` does) and logs in.
    pub async fn platform_admin(&self) -> Session {
        let email = format!("pa-{}@ils.example", uuid::Uuid::new_v4().simple());
        ils_api::seed::create_platform_admin(
            &self.server.state.db,
            &email,
            PASSWORD,
            "Plat",
            "Form",
        )
        .await
        .expect("platform admin created");
        self.log_in(&email, PASSWORD).await
    }

    /// Stops the server and, on PostgreSQL, drops the test database.
    pub async fn finish(self) {
        let url = self.database_url.clone();
        self.server.stop().await;
        drop_database(&url).await;
    }
}

/// Drops a test database made by `fresh_database` (PostgreSQL; a SQLite file goes with its
/// temporary folder).
pub async fn drop_database(url: &str) {
    if let Some(admin) = postgres_admin_url() {
        let name = url
            .rsplit('/')
            .next()
            .unwrap_or("")
            .split('?')
            .next()
            .unwrap_or("")
            .to_owned();
        if let Ok(conn) = Database::connect(&admin).await {
            let _ = conn
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

/// Asserts `err` is BAD_USER_INPUT naming `field` (its path's parts; `extensions.field`
/// is their dotted join).
pub fn assert_bad_input(err: &Value, field: &[&str]) {
    assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{err}");
    assert_eq!(err["extensions"]["field"], json!(field.join(".")), "{err}");
}

/// A Decimal scalar (a string such as "2.75", "0.4500" or "-11.0000") in ten-thousandths,
/// so decimals compare exactly whatever their written scale.
pub fn units(v: &Value) -> i128 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("a Decimal string, got {v}"));
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let frac = frac.trim_end_matches('0');
    assert!(frac.len() <= 4, "more than 4 decimal places: {s}");
    let n: i128 = format!("{int}{frac:0<4}")
        .parse()
        .unwrap_or_else(|_| panic!("not a decimal: {s}"));
    if negative { -n } else { n }
}

/// `"2.75"` in ten-thousandths.
pub fn dec(s: &str) -> i128 {
    units(&json!(s))
}

pub fn first_code(body: &Value) -> Option<String> {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_owned)
}

/// The variables of `SIGN_UP` for a new company and its admin (password `PASSWORD`).
pub fn sign_up_input(company: &str, kind: &str, email: &str) -> Value {
    json!({ "input": {
        "companyName": company, "companyType": kind, "email": email,
        "password": PASSWORD, "firstName": "Test", "lastName": "Admin"
    }})
}

/// A log-in small enough (depth 2, complexity 2) to pass the lowered limits some tests use.
pub const TINY_LOG_IN: &str = "mutation($email: String!, $password: String!) { logIn(input: { email: $email, password: $password }) { accessToken } }";

pub const SIGN_UP: &str =
    "mutation($input: SignUpInput!) { signUp(input: $input) { email expiresIn } }";
/// A sign-up confirmation small enough (depth 2, complexity 2) for the lowered limits.
pub const TINY_CONFIRM_SIGN_UP: &str =
    "mutation($token: String!) { confirmSignUp(input: { token: $token }) { accessToken } }";
/// The subject of the mail that carries a sign-up token.
pub const SIGN_UP_SUBJECT: &str = "Confirm your ILS sign-up";
/// The subject of the notice to an address that already has an account.
pub const SIGN_UP_TAKEN_SUBJECT: &str = "Someone tried to sign up to ILS with your address";
pub const CONFIRM_SIGN_UP: &str =
    "mutation($token: String!) { confirmSignUp(input: { token: $token }) {
    accessToken refreshToken expiresIn user { id email } company { id name type status plan } } }";

/// Signs a company up through the server at `base` (its database at `database_url`, its
/// mail folder `mail_dir`), as
/// a person would: `signUp`, the token from the mail, `confirmSignUp`. Returns the
/// `confirmSignUp` payload.
pub async fn sign_up_at(
    base: &str,
    database_url: &str,
    mail_dir: &std::path::Path,
    company: &str,
    email: &str,
) -> Value {
    let http = reqwest::Client::new();
    let post = |query: &'static str, variables: Value| {
        let req = http
            .post(format!("{base}/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        async move {
            let body: Value = req.send().await.expect("sent").json().await.expect("JSON");
            assert!(body.get("errors").is_none(), "{query}: {body}");
            body["data"].clone()
        }
    };
    let to = post(SIGN_UP, sign_up_input(company, "ECP", email)).await["signUp"]["email"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mail = mail::mailbox(database_url, &[mail_dir.to_owned()], &to)
        .await
        .into_iter()
        .find(|m| m.subject == SIGN_UP_SUBJECT)
        .unwrap_or_else(|| panic!("no sign-up mail to {to}"));
    let token = token_in(&mail.body).unwrap_or_else(|| panic!("no token in {mail:?}"));
    let signed = post(CONFIRM_SIGN_UP, json!({ "token": token })).await["confirmSignUp"].clone();
    // On the full plan, as `TestServer::sign_up` puts its companies.
    let id = signed["company"]["id"].as_str().expect("a company");
    let (_, company) = ils_kernel::id::decode_any(id).expect("a global id");
    full_plan_in(database_url, company).await;
    signed
}

/// The token in a mail's body: the line after the one that names it (`...token:`), as
/// the sign-up and invitation mails write it.
pub fn token_in(text: &str) -> Option<String> {
    let mut lines = text.lines().map(str::trim);
    lines.find(|l| l.ends_with("token:"))?;
    lines.find(|l| !l.is_empty()).map(str::to_owned)
}
pub const LOG_IN: &str =
    "mutation($email: String!, $password: String!) { logIn(input: { email: $email, password: $password }) {
    accessToken refreshToken expiresIn user { id email } company { id name type status plan } } }";

/// A signed-in session, as the client keeps it.
#[derive(Clone, Debug)]
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub user_id: String,
    pub company_id: Option<String>,
    pub company_status: Option<String>,
}

impl Session {
    pub fn from_payload(p: &Value) -> Session {
        Session {
            access: p["accessToken"].as_str().expect("accessToken").to_owned(),
            refresh: p["refreshToken"].as_str().expect("refreshToken").to_owned(),
            user_id: p["user"]["id"].as_str().expect("user id").to_owned(),
            company_id: p["company"]["id"].as_str().map(str::to_owned),
            company_status: p["company"]["status"].as_str().map(str::to_owned),
        }
    }

    pub fn auth(&self) -> Auth {
        Auth::Bearer(self.access.clone())
    }
}

/// The credential a request carries.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Bearer(String),
    ApiKey(String),
    /// A raw Authorization header value.
    Raw(String),
}

impl Auth {
    pub fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::None => req,
            Auth::Bearer(t) => req.header("authorization", format!("Bearer {t}")),
            Auth::ApiKey(k) => req.header("x-api-key", k),
            Auth::Raw(v) => req.header("authorization", v),
        }
    }

    /// The same credential as a `connection_init` payload.
    pub fn init_payload(&self) -> Value {
        match self {
            Auth::None => json!({}),
            Auth::Bearer(t) => json!({ "Authorization": format!("Bearer {t}") }),
            Auth::ApiKey(k) => json!({ "X-Api-Key": k }),
            Auth::Raw(v) => json!({ "Authorization": v }),
        }
    }
}

/// The row ID inside a GraphQL ID (`Type:uuid`, base64url).
pub fn uuid_of(global_id: &str) -> uuid::Uuid {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(global_id)
        .expect("a GraphQL ID is base64url");
    let raw = String::from_utf8(raw).expect("a GraphQL ID is UTF-8");
    let (_, id) = raw.split_once(':').expect("a GraphQL ID is Type:id");
    uuid::Uuid::parse_str(id).expect("a GraphQL ID holds a UUID")
}

/// A unique email for one test.
pub fn email(tag: &str) -> String {
    format!("{tag}-{}@test.example", uuid::Uuid::new_v4().simple())
}

/// Polls `check` every 100 ms until it returns `Ok`, and returns that value. After
/// `timeout` it panics naming `what` and showing the last `Err` (what was there instead).
pub async fn eventually<F, Fut, T, E>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{what}: not within {timeout:?}; last seen: {last:?}"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How long a negative check watches for something that must NOT happen, where no sentinel
/// can prove it (see `ws::assert_no_event` for the sentinel way).
pub const MUST_NOT_HAPPEN: Duration = Duration::from_secs(2);

/// A negative check's window: lets `window` pass so that something that must NOT happen
/// has had its chance to. Not a wait for anything to happen (that is `eventually`); use it
/// only where no sentinel can prove the absence.
pub async fn watch_for_nothing(window: Duration) {
    tokio::time::sleep(window).await;
}

/// The nodes of a GraphQL connection (`{ edges { node } }`).
pub fn nodes(connection: &Value) -> Vec<Value> {
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {connection}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// Invites a STAFF member into the admin's company and signs them in.
pub async fn staff_of(s: &TestServer, admin: &Session) -> Session {
    let inv = s
        .ok(
            &admin.auth(),
            "mutation($e: String!) { inviteUser(input: { email: $e, role: STAFF }) { token } }",
            json!({ "e": email("staff") }),
        )
        .await;
    let token = inv["inviteUser"]["token"]
        .as_str()
        .expect("invitation token");
    let accept = "mutation($t: String!, $p: String!) { acceptInvitation(input: { token: $t, password: $p, firstName: \"Sam\", lastName: \"Lee\" }) {
        accessToken refreshToken expiresIn user { id email } company { id name type status plan } } }";
    Session::from_payload(
        &s.ok(&Auth::None, accept, json!({ "t": token, "p": PASSWORD }))
            .await["acceptInvitation"],
    )
}

/// Creates a STAFF API key named `name` (which emits `api_key.created`); returns its
/// global id and its secret.
pub async fn create_api_key(s: &TestServer, who: &Session, name: &str) -> (String, String) {
    let data = s
        .ok(
            &who.auth(),
            "mutation($n: String!) { createApiKey(input: { name: $n, role: STAFF }) { secret apiKey { id } } }",
            json!({ "n": name }),
        )
        .await;
    let made = &data["createApiKey"];
    (
        made["apiKey"]["id"]
            .as_str()
            .expect("api key id")
            .to_owned(),
        made["secret"].as_str().expect("api key secret").to_owned(),
    )
}

/// Creates a STAFF API key named `name` (which emits `api_key.created`); returns its
/// global id.
pub async fn create_key(s: &TestServer, who: &Session, name: &str) -> String {
    create_api_key(s, who, name).await.0
}

/// The row id behind the session's company global id.
pub fn company_uuid(session: &Session) -> uuid::Uuid {
    let gid = session.company_id.as_deref().expect("a company session");
    let (ty, id) = ils_kernel::id::decode_any(gid).expect("a global id");
    assert_eq!(ty, "Company", "{gid}");
    id
}

// ---------------------------------------------------------------------------------------
// File uploads: GraphQL multipart requests
// (https://github.com/jaydenseric/graphql-multipart-request-spec), built by hand.
// ---------------------------------------------------------------------------------------

/// A GraphQL multipart request body carrying one file as the variable `$file`: the parts
/// `operations` (`{query, variables: {file: null}}`), `map` (`{"0": ["variables.file"]}`)
/// and `0` (the file, as `text/csv` named `file_name`). Returns the `Content-Type` header
/// value (with its boundary) and the body.
pub fn multipart_upload_body(query: &str, file_name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    // A boundary that cannot occur in the parts (a random token the file would have to
    // contain by chance).
    let boundary = format!("ils-test-boundary-{}", uuid::Uuid::new_v4().simple());
    let operations = json!({ "query": query, "variables": { "file": null } }).to_string();
    let map = json!({ "0": ["variables.file"] }).to_string();
    let quoted_name = file_name.replace('\\', "\\\\").replace('"', "\\\"");
    let mut body = Vec::with_capacity(bytes.len() + 1024);
    for (name, value) in [("operations", operations), ("map", map)] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"{quoted_name}\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl TestServer {
    /// Sends `query` (which takes `$file: Upload!`) as a GraphQL multipart request with
    /// `bytes` as the file `file_name`, the CSRF-preventing header `x-ils-csrf: 1` and
    /// `auth`; returns the HTTP status and the JSON body (`Null` when it is not JSON).
    pub async fn upload(
        &self,
        auth: &Auth,
        query: &str,
        file_name: &str,
        bytes: &[u8],
    ) -> (u16, Value) {
        self.upload_with(auth, query, file_name, bytes, true).await
    }

    /// `upload`, with or without the `x-ils-csrf: 1` header.
    pub async fn upload_with(
        &self,
        auth: &Auth,
        query: &str,
        file_name: &str,
        bytes: &[u8],
        csrf_header: bool,
    ) -> (u16, Value) {
        let (content_type, body) = multipart_upload_body(query, file_name, bytes);
        let mut req = self
            .http
            .post(self.url("/graphql"))
            .header("content-type", content_type)
            .body(body);
        if csrf_header {
            req = req.header("x-ils-csrf", "1");
        }
        let resp = auth.apply(req).send().await.expect("request sent");
        let status = resp.status().as_u16();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }
}

/// Approves a company that waits for approval, as the platform admin `pa`.
pub async fn approve(s: &TestServer, pa: &Session, company: &Session) {
    let data = s
        .ok(
            &pa.auth(),
            "mutation($id: ID!) { approveCompany(input: { id: $id }) { company { status } } }",
            json!({ "id": company.company_id }),
        )
        .await;
    assert_eq!(
        data["approveCompany"]["company"]["status"], "ACTIVE",
        "{data}"
    );
}

/// Invites a member with `role` (STAFF, MANAGER or COMPANY_ADMIN) into the admin's company
/// and signs them in.
pub async fn member_of(s: &TestServer, admin: &Session, role: &str) -> Session {
    member_with_email(s, admin, role).await.0
}

/// `member_of`, also returning the member's login email (where their mail goes).
pub async fn member_with_email(s: &TestServer, admin: &Session, role: &str) -> (Session, String) {
    let address = email("member");
    let inv = s
        .ok(
            &admin.auth(),
            "mutation($e: String!, $r: Role!) { inviteUser(input: { email: $e, role: $r }) { token } }",
            json!({ "e": address, "r": role }),
        )
        .await;
    let accept = "mutation($t: String!, $p: String!) { acceptInvitation(input: { token: $t, password: $p, firstName: \"Max\", lastName: \"Moe\" }) {
        accessToken refreshToken expiresIn user { id email } company { id name type status plan } } }";
    let session = Session::from_payload(
        &s.ok(
            &Auth::None,
            accept,
            json!({ "t": inv["inviteUser"]["token"], "p": PASSWORD }),
        )
        .await["acceptInvitation"],
    );
    (session, address)
}

/// A lab or supplier (`kind` LAB or SUPPLIER) that signed up, was approved by the platform
/// admin `pa`, then saved a listed marketplace profile with the other
/// `UpdateMarketplaceProfileInput` fields in `profile` (an object, or null): it shows in the
/// directory at once. Returns its admin's session.
pub async fn listed_company(
    s: &TestServer,
    pa: &Session,
    name: &str,
    kind: &str,
    profile: Value,
) -> Session {
    let admin = s.sign_up(name, kind, &email("listed")).await;
    approve(s, pa, &admin).await;
    let mut input = match profile {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    input.insert("listed".into(), Value::Bool(true));
    let saved = s
        .ok(
            &admin.auth(),
            "mutation($input: UpdateMarketplaceProfileInput!) { updateMarketplaceProfile(input: $input) { marketplaceProfile { listed } } }",
            json!({ "input": input }),
        )
        .await;
    assert_eq!(
        saved["updateMarketplaceProfile"]["marketplaceProfile"]["listed"], true,
        "{saved}"
    );
    admin
}

/// `asker` requests a connection to the listed company `target`, which accepts it; returns
/// the connection's global id.
pub async fn connect(s: &TestServer, asker: &Session, target: &Session) -> Value {
    let asked = s
        .ok(
            &asker.auth(),
            "mutation($c: ID!) { requestConnection(input: { companyId: $c }) { connection { id } } }",
            json!({ "c": target.company_id }),
        )
        .await;
    let id = asked["requestConnection"]["connection"]["id"].clone();
    let answered = s
        .ok(
            &target.auth(),
            "mutation($id: ID!) { respondToConnection(input: { id: $id, accept: true }) { connection { status } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        answered["respondToConnection"]["connection"]["status"], "ACTIVE",
        "{answered}"
    );
    id
}

/// A valid progressive lens order for a practice to draft (docs/domain.md's example job):
/// Rx with cylinder, add and mono PDs (distance and near), a measured frame and fitting
/// heights.
pub fn progressive_draft(patient_ref: &str) -> Value {
    json!({
        "patientRef": patient_ref,
        "rx": {
            "right": { "sphere": "-2.25", "cylinder": "-0.75", "axis": 175, "add": "2.00", "distancePd": "31.5", "nearPd": "30.0" },
            "left": { "sphere": "-1.75", "cylinder": "-0.50", "axis": 10, "add": "2.00", "distancePd": "32.0", "nearPd": "30.5" }
        },
        "lens": { "design": "PROGRESSIVE", "index": "1.67", "treatments": ["ANTI_REFLECTIVE"] },
        "frame": { "a": "52", "b": "36", "dbl": "18", "ed": "55" },
        "right": { "fittingHeight": "19" },
        "left": { "fittingHeight": "19" }
    })
}

/// Puts `who`'s company on the full plan (as a practice that upgraded and was approved),
/// below the guard: for tests of features the free plan leaves out.
pub async fn on_full_plan(s: &TestServer, who: &Session) {
    full_plan_in(&s.database_url, company_uuid(who)).await;
}

/// Puts `company` on the full plan in the database at `database_url`, below the guard.
#[allow(clippy::disallowed_methods)] // a test's setup, below the guard on purpose
pub async fn full_plan_in(database_url: &str, company: uuid::Uuid) {
    use sea_orm::ConnectionTrait;
    let id = if database_url.starts_with("postgres") {
        format!("'{company}'")
    } else {
        format!("X'{}'", company.simple())
    };
    let db = Database::connect(database_url)
        .await
        .expect("database reachable");
    db.execute_unprepared(&format!(
        "UPDATE companies SET plan = 'FULL' WHERE id = {id}"
    ))
    .await
    .expect("plan set");
    db.close().await.ok();
}
