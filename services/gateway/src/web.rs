//! The storefront's built files (`make web` writes `web/dist`), served at `/`. Paths
//! without a file and without an extension are the single-page app's own routes
//! (`/products/alphonso-mango`) and get `index.html`; the app routes itself in the browser.

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use http::{HeaderValue, Method, Response, StatusCode, header};

/// What `/` says before the storefront is built.
const NOT_BUILT: &str = "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mandi: storefront not built</title></head>
<body>
<h1>The storefront is not built yet</h1>
<p>This is the mandi gateway. The shop's web files are missing from its web root
(<code>MANDI_GATEWAY__WEB_ROOT</code>, default <code>web/dist</code>).</p>
<p>Build them with <code>make web</code> in the repository, then reload this page.</p>
<p>The API answers here already: grpc-web and gRPC at <code>/&lt;package.Service&gt;/&lt;Method&gt;</code>,
for example <code>/mandi.catalog.v1.CatalogService/SearchProducts</code>.</p>
</body></html>
";

/// Serves files from a directory.
#[derive(Debug, Clone)]
pub struct WebRoot {
    root: PathBuf,
}

impl WebRoot {
    /// Files under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Answers a GET or HEAD for `path`.
    pub async fn serve(&self, method: &Method, path: &str) -> Response<Body> {
        if method != Method::GET && method != Method::HEAD {
            return plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "only GET and HEAD are served here; gRPC calls need a grpc content-type\n",
            );
        }
        let index = self.root.join("index.html");
        // Checked on every request, so a storefront built while the server runs shows up.
        if !tokio::fs::try_exists(&index).await.unwrap_or(false) {
            let mut response = Response::new(Body::from(NOT_BUILT));
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            return response;
        }
        let Some(relative) = safe_relative(path) else {
            return plain(StatusCode::NOT_FOUND, "not found\n");
        };
        let candidate = self.root.join(&relative);
        let file = match tokio::fs::metadata(&candidate).await {
            Ok(meta) if meta.is_file() => candidate,
            _ if relative.as_os_str().is_empty() || !has_extension(&relative) => index,
            _ => return plain(StatusCode::NOT_FOUND, "not found\n"),
        };
        match tokio::fs::read(&file).await {
            Ok(bytes) => {
                let length = bytes.len();
                let body = if method == Method::HEAD {
                    Body::empty()
                } else {
                    Body::from(bytes)
                };
                let mut response = Response::new(body);
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(content_type(&file)),
                );
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
                headers.insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(cache_control(&relative)),
                );
                headers.insert(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                );
                response
            }
            Err(error) => {
                tracing::warn!(file = %file.display(), %error, "cannot read a storefront file");
                plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file\n")
            }
        }
    }
}

/// The request path as a relative path under the root; `None` when it tries to leave it
/// (`..`), names hidden files, or is not plain text.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let trimmed = path.trim_start_matches('/');
    if trimmed.contains('\\') || trimmed.contains('%') || trimmed.contains('\0') {
        return None;
    }
    let relative = PathBuf::from(trimmed);
    for component in relative.components() {
        match component {
            Component::Normal(part) if !part.to_string_lossy().starts_with('.') => {}
            _ => return None,
        }
    }
    Some(relative)
}

fn has_extension(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name.to_string_lossy().contains('.'))
}

/// Vite puts content-hashed files under `assets/`: they never change, so browsers may keep
/// them; everything else (index.html above all) is revalidated so a deploy shows at once.
fn cache_control(relative: &Path) -> &'static str {
    if relative.starts_with("assets") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_leave_the_root() {
        assert_eq!(safe_relative("/"), Some(PathBuf::new()));
        assert_eq!(
            safe_relative("/assets/app.js"),
            Some(PathBuf::from("assets/app.js"))
        );
        assert_eq!(safe_relative("/../etc/passwd"), None);
        assert_eq!(safe_relative("/a/../../b"), None);
        assert_eq!(safe_relative("/.env"), None);
        assert_eq!(safe_relative("/%2e%2e/x"), None);
    }

    #[tokio::test]
    async fn spa_routes_get_the_index_and_missing_files_do_not() {
        let dir = std::env::temp_dir().join(format!("mandi-web-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        std::fs::write(dir.join("index.html"), "<html>shop</html>").unwrap();
        std::fs::write(dir.join("assets/app.js"), "console.log(1)").unwrap();
        let web = WebRoot::new(&dir);

        let index = web.serve(&Method::GET, "/products/alphonso-mango").await;
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(index.headers()[header::CACHE_CONTROL], "no-cache");
        let script = web.serve(&Method::GET, "/assets/app.js").await;
        assert_eq!(
            script.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        let missing = web.serve(&Method::GET, "/assets/gone.js").await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn without_a_build_the_root_says_how_to_build_it() {
        let web = WebRoot::new("/nonexistent/mandi/web/dist");
        let response = web.serve(&Method::GET, "/").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&body).contains("make web"));
    }
}
