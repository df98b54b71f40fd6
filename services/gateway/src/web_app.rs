//! The web app: `web/`'s build (`web/dist`, or `WEB_DIR`) served at `/` by the gateway, on the
//! same origin as the API, so the session cookies need no CORS.
//!
//! - Every file is read once at start-up and kept in memory with the `.br` and `.gz` files the
//!   build wrote next to it: a request picks the smallest coding the client accepts, and
//!   nothing is compressed while serving (the compression middleware leaves a response with a
//!   `Content-Encoding` alone). The build is a few hundred kilobytes.
//! - Hashed files under `/assets/` are cached for a year, `immutable`; everything else
//!   (`index.html`, `sw.js`, the icon) is revalidated on every use (`no-cache`, with an ETag per
//!   coding), so a deploy shows at the next navigation.
//! - A path outside `/api/` that names no file answers `index.html` (the app routes it), unless
//!   it looks like a file (its last segment has a dot): a missing asset is a 404, not a page.
//! - Every answer carries a Content-Security-Policy without `'unsafe-inline'`: the app has no
//!   inline script or style (the web README, "Content Security Policy").

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use actix_web::http::header::{
    self, AcceptEncoding, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, Encoding,
    HeaderValue, Preference, VARY,
};
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

/// The policy every file is served with. Images may come from any https host (tenants' logos)
/// or be data URLs; scripts, styles, fonts, workers and connections only from this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: https:; font-src 'self'; connect-src 'self'; \
     worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'self'; \
     form-action 'self'; frame-ancestors 'none'";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// One file of the build, in each coding the build wrote.
struct StaticFile {
    content_type: HeaderValue,
    /// Hashed assets, cached forever.
    immutable: bool,
    /// Hex of the first 16 bytes of the identity body's SHA-256: the ETag's base.
    tag: String,
    identity: Bytes,
    brotli: Option<Bytes>,
    gzip: Option<Bytes>,
}

/// The loaded build.
pub struct WebApp {
    files: HashMap<String, StaticFile>,
}

/// Why the build could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the web app's build at {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} has no index.html: build the web app (`npm run build` in web/)")]
    NoIndex(PathBuf),
}

impl WebApp {
    /// Loads the build in `dir`: `Ok(None)` when the directory does not exist (the gateway
    /// then serves the API alone).
    pub fn load(dir: &Path) -> Result<Option<Self>, LoadError> {
        if !dir.is_dir() {
            return Ok(None);
        }
        let mut paths = Vec::new();
        collect(dir, dir, &mut paths)?;
        let read = |path: &Path| {
            std::fs::read(path)
                .map(Bytes::from)
                .map_err(|source| LoadError::Read {
                    path: path.to_owned(),
                    source,
                })
        };
        let mut files = HashMap::new();
        for relative in &paths {
            let name = relative.to_string_lossy().replace('\\', "/");
            if name.ends_with(".br") || name.ends_with(".gz") {
                continue;
            }
            let full = dir.join(relative);
            let identity = read(&full)?;
            let sibling = |suffix: &str| {
                let mut path = full.clone().into_os_string();
                path.push(suffix);
                let path = PathBuf::from(path);
                path.is_file().then(|| read(&path)).transpose()
            };
            let content_type = mime_guess::from_path(&full)
                .first_raw()
                .map_or("application/octet-stream", |m| m)
                .to_owned();
            let content_type = if content_type.starts_with("text/")
                || content_type == "application/javascript"
                || content_type == "application/json"
                || content_type == "image/svg+xml"
            {
                format!("{content_type}; charset=utf-8")
            } else {
                content_type
            };
            let digest = Sha256::digest(&identity);
            files.insert(
                format!("/{name}"),
                StaticFile {
                    content_type: HeaderValue::from_str(&content_type)
                        .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                    immutable: name.starts_with("assets/"),
                    tag: hex::encode(&digest[..16]),
                    brotli: sibling(".br")?,
                    gzip: sibling(".gz")?,
                    identity,
                },
            );
        }
        if !files.contains_key("/index.html") {
            return Err(LoadError::NoIndex(dir.to_owned()));
        }
        Ok(Some(Self { files }))
    }

    /// How many files are served.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The answer to a request that no API route took: the named file, the app's `index.html`
    /// for an app route, or `None` (the caller's 404) for an API path or a missing file.
    pub fn respond(&self, req: &HttpRequest) -> Option<HttpResponse> {
        let path = req.path();
        if path == "/api" || path.starts_with("/api/") {
            return None;
        }
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            return None;
        }
        let file = match self.files.get(path) {
            Some(file) if path != "/index.html" => file,
            _ => {
                let last = path.rsplit('/').next().unwrap_or_default();
                if last.contains('.') && path != "/index.html" {
                    return None;
                }
                self.files.get("/index.html")?
            }
        };
        Some(serve(file, req))
    }
}

/// Every file below `dir` (relative to `root`), leaving out dot-files and dot-directories
/// (`.vite/manifest.json` is the budget check's, not the browser's).
fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Read {
        path: dir.to_owned(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| LoadError::Read {
            path: dir.to_owned(),
            source,
        })?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, out)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            out.push(relative.to_owned());
        }
    }
    Ok(())
}

fn serve(file: &StaticFile, req: &HttpRequest) -> HttpResponse {
    let (body, coding, suffix) = match preferred_coding(req, file) {
        Some(Coding::Brotli) => (file.brotli.clone(), Some("br"), "-br"),
        Some(Coding::Gzip) => (file.gzip.clone(), Some("gzip"), "-gz"),
        None => (None, None, ""),
    };
    let (body, coding, suffix) = match body {
        Some(body) => (body, coding, suffix),
        None => (file.identity.clone(), None, ""),
    };
    let mut response = HttpResponse::build(StatusCode::OK);
    response
        .insert_header((CONTENT_TYPE, file.content_type.clone()))
        .insert_header((
            CACHE_CONTROL,
            if file.immutable {
                IMMUTABLE
            } else {
                REVALIDATE
            },
        ))
        .insert_header((ETAG, format!("\"{}{suffix}\"", file.tag)))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"));
    if file.brotli.is_some() || file.gzip.is_some() {
        response.insert_header((VARY, "Accept-Encoding"));
    }
    if let Some(coding) = coding {
        response.insert_header((CONTENT_ENCODING, coding));
    }
    response.body(body)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Brotli,
    Gzip,
}

/// The coding to send: Brotli, else gzip, among those the client accepts (quality above zero)
/// and the build has; `None` for the identity body.
fn preferred_coding(req: &HttpRequest, file: &StaticFile) -> Option<Coding> {
    use actix_web::http::header::Header;
    let accepted = AcceptEncoding::parse(req).ok()?;
    let accepts = |wanted: Encoding| {
        accepted.iter().any(|item| {
            item.quality > actix_web::http::header::Quality::ZERO
                && match &item.item {
                    Preference::Specific(encoding) => *encoding == wanted,
                    Preference::Any => true,
                }
        })
    };
    if file.brotli.is_some() && accepts(Encoding::brotli()) {
        Some(Coding::Brotli)
    } else if file.gzip.is_some() && accepts(Encoding::gzip()) {
        Some(Coding::Gzip)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn build() -> (tempfile::TempDir, WebApp) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("assets")).unwrap();
        std::fs::create_dir_all(root.join(".vite")).unwrap();
        std::fs::write(
            root.join("index.html"),
            "<!doctype html><div id=root></div>",
        )
        .unwrap();
        std::fs::write(root.join("index.html.br"), "BR-INDEX").unwrap();
        std::fs::write(root.join("index.html.gz"), "GZ-INDEX").unwrap();
        std::fs::write(root.join("assets/app-1a2b.js"), "console.log(1)").unwrap();
        std::fs::write(root.join("assets/app-1a2b.js.gz"), "GZ-JS").unwrap();
        std::fs::write(root.join(".vite/manifest.json"), "{}").unwrap();
        let app = WebApp::load(root).unwrap().unwrap();
        (dir, app)
    }

    fn get(app: &WebApp, path: &str, accept: Option<&str>) -> Option<HttpResponse> {
        let mut req = TestRequest::get().uri(path);
        if let Some(accept) = accept {
            req = req.insert_header(("accept-encoding", accept));
        }
        app.respond(&req.to_http_request())
    }

    fn header<'a>(response: &'a HttpResponse, name: &str) -> &'a str {
        response
            .headers()
            .get(name)
            .map_or("", |v| v.to_str().unwrap())
    }

    #[test]
    fn the_best_accepted_coding_is_served_with_its_own_tag() {
        let (_dir, app) = build();
        let br = get(&app, "/", Some("gzip, br")).unwrap();
        assert_eq!(header(&br, "content-encoding"), "br");
        assert_eq!(header(&br, "cache-control"), "no-cache");
        assert_eq!(header(&br, "content-type"), "text/html; charset=utf-8");
        assert!(header(&br, "etag").ends_with("-br\""));
        assert!(header(&br, "content-security-policy").contains("script-src 'self';"));
        let gz = get(&app, "/", Some("gzip")).unwrap();
        assert_eq!(header(&gz, "content-encoding"), "gzip");
        let plain = get(&app, "/", None).unwrap();
        assert_eq!(header(&plain, "content-encoding"), "");
        assert_ne!(header(&plain, "etag"), header(&gz, "etag"));
        // No Brotli file for the script: gzip, even though Brotli is preferred.
        let js = get(&app, "/assets/app-1a2b.js", Some("br, gzip")).unwrap();
        assert_eq!(header(&js, "content-encoding"), "gzip");
        assert_eq!(header(&js, "cache-control"), IMMUTABLE);
        assert_eq!(header(&js, "vary"), "Accept-Encoding");
        // br;q=0 refuses Brotli.
        let refused = get(&app, "/", Some("br;q=0, gzip")).unwrap();
        assert_eq!(header(&refused, "content-encoding"), "gzip");
    }

    #[test]
    fn app_routes_fall_back_to_the_index_but_api_paths_and_missing_files_do_not() {
        let (_dir, app) = build();
        let page = get(&app, "/campaigns/0190a1b2", None).unwrap();
        assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
        assert!(get(&app, "/api/nothing", None).is_none());
        assert!(get(&app, "/api", None).is_none());
        assert!(get(&app, "/assets/gone-9z9z.js", None).is_none());
        // The build's manifest is not served.
        assert!(get(&app, "/.vite/manifest.json", None).is_none());
        let post = TestRequest::post().uri("/").to_http_request();
        assert!(app.respond(&post).is_none());
    }

    #[test]
    fn a_missing_build_is_none_and_one_without_index_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(WebApp::load(&dir.path().join("absent")).unwrap().is_none());
        assert!(matches!(
            WebApp::load(dir.path()),
            Err(LoadError::NoIndex(_))
        ));
    }
}
