//! The offline playground: a GraphiQL bundle built from npm (see playground/README.md) and
//! embedded in the binary: the page's script and styles, Monaco's web workers (scripts of
//! their own) and its icon font. It loads nothing from the internet.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

/// The playground's example operations, one per file: in development the server publishes
/// them as the platform's operation list `playground`, so each tab can also run by ID.
#[derive(RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/../playground/operations"]
struct Examples;

/// The example operations, `(file name, text)`, by file name.
pub fn examples() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Examples::iter()
        .filter(|name| name.ends_with(".graphql"))
        .filter_map(|name| {
            let file = Examples::get(&name)?;
            let text = String::from_utf8(file.data.into_owned()).ok()?;
            Some((name.to_string(), text))
        })
        .collect();
    out.sort();
    out
}

#[derive(RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/../playground/dist"]
struct Assets;

const CSP: &str = "default-src 'self'; script-src 'self'; worker-src 'self'; \
style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; \
connect-src 'self' ws: wss:; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

#[derive(serde::Serialize)]
pub struct DemoLogin {
    pub label: String,
    pub email: String,
    pub password: String,
}

/// The page, with the demo logins (development only) injected as JSON. `<` is escaped so
/// no value can close the script element.
pub fn page(demo_logins: &[DemoLogin], env: &str) -> Response {
    let Some(file) = Assets::get("index.html") else {
        return (StatusCode::NOT_FOUND, "playground not built").into_response();
    };
    let config = serde_json::json!({ "demoLogins": demo_logins, "env": env })
        .to_string()
        .replace('<', "\\u003c");
    let html = String::from_utf8_lossy(&file.data).replace(
        "<!--ILS_CONFIG-->",
        &format!(r#"<script id="ils-config" type="application/json">{config}</script>"#),
    );
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        html,
    )
        .into_response()
}

pub async fn asset(Path(name): Path<String>) -> Response {
    let Some(file) = Assets::get(&format!("assets/{name}")) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mime = match name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("ttf") => "font/ttf",
        _ => "application/octet-stream",
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        file.data.into_owned(),
    )
        .into_response()
}
