//! The web console for caregivers and community staff: static files from `console/app/`,
//! embedded in the binary (also in debug builds, so what is tested is what ships), served under
//! `/console/`. `GET /` redirects there.
//!
//! The console is plain HTML, CSS and JavaScript modules with no build step; it talks only to the
//! API under `/api/v1` of the same origin. Files are not fingerprinted, so every response says
//! `no-cache` with a strong `ETag` (the file's SHA-256): a browser revalidates and gets `304 Not
//! Modified` until the server is upgraded. A strict Content-Security-Policy keeps the console
//! from loading anything from elsewhere (it must work on a closed network).
//!
//! rust-embed notes: a file added to `console/app/` is picked up by the next build of this
//! crate; touch this file if cargo does not notice a new file.

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../console/app/"]
struct Assets;

/// Where the console lives.
pub const BASE: &str = "/console/";

/// Everything the page may load or connect to: this origin only.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   font-src 'self'; connect-src 'self'; media-src 'self' data:; object-src 'none'; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `/`, `/console`, `/console/` and `/console/<file>`. Merge it into the API router.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to(BASE) }))
        .route("/console", get(|| async { Redirect::permanent(BASE) }))
        .route("/console/", get(|headers: HeaderMap| async move { serve("index.html", &headers) }))
        .route(
            "/console/{*path}",
            get(|Path(path): Path<String>, headers: HeaderMap| async move { serve(&path, &headers) }),
        )
}

/// The content type of a file name, by extension; `None` for what the console does not ship.
fn content_type(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.').map(|(_, e)| e)?;
    Some(match ext {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "not found\n").into_response()
}

fn serve(path: &str, request: &HeaderMap) -> Response {
    // rust-embed only knows the embedded names, so `..` or an absolute path simply is not found.
    let (Some(file), Some(ctype)) = (Assets::get(path), content_type(path)) else {
        return not_found();
    };
    let hash = file.metadata.sha256_hash();
    let etag = format!("\"{}\"", hex(&hash[..16]));
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    if ctype.starts_with("text/html") {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    let matches = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    (StatusCode::OK, headers, Body::from(file.data.into_owned())).into_response()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serves the console on a free port; answers without following redirects.
    async fn get(uri: &str, if_none_match: Option<&str>) -> reqwest::Response {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router::<()>()).await });
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut req = client.get(format!("http://{addr}{uri}"));
        if let Some(tag) = if_none_match {
            req = req.header(header::IF_NONE_MATCH, tag);
        }
        req.send().await.unwrap()
    }

    #[tokio::test]
    async fn root_redirects_to_the_console() {
        let res = get("/", None).await;
        assert!(res.status().is_redirection());
        assert_eq!(res.headers()[header::LOCATION], BASE);
    }

    #[tokio::test]
    async fn index_is_html_with_a_strict_policy_and_revalidates() {
        let res = get("/console/", None).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-cache");
        assert!(res.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().starts_with("default-src 'self'"));
        let etag = res.headers()[header::ETAG].to_str().unwrap().to_owned();
        assert!(res.text().await.unwrap().contains("<html"));
        let again = get("/console/", Some(&etag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }

    #[tokio::test]
    async fn scripts_and_styles_have_their_types() {
        let js = get("/console/js/main.js", None).await;
        assert_eq!(js.status(), StatusCode::OK);
        assert_eq!(js.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        let css = get("/console/app.css", None).await;
        assert_eq!(css.headers()[header::CONTENT_TYPE], "text/css; charset=utf-8");
    }

    #[tokio::test]
    async fn unknown_and_traversing_paths_are_not_found() {
        for uri in ["/console/nope.js", "/console/../Cargo.toml", "/console/%2e%2e/Cargo.toml", "/console/js"] {
            assert_eq!(get(uri, None).await.status(), StatusCode::NOT_FOUND, "{uri}");
        }
    }
}
