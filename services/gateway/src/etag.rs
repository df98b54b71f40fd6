//! Strong ETags for `GET`/`HEAD` responses and `304 Not Modified` for `If-None-Match`.
//!
//! A `200` with a sized body gets `ETag: "<first 16 bytes of its SHA-256, hex>"` unless the
//! handler set one. A request whose `If-None-Match` holds that tag (or `*`) gets a bodiless
//! `304` instead, which saves the transfer though not the handler's work.
//!
//! Wrap it inside [`crate::compression::Compression`] (`.wrap(Etag).wrap(Compression::new(..))`)
//! so it sees identity bodies. Compression turns `"x"` into `W/"x"` on what it compresses, so
//! `If-None-Match` is compared weakly (RFC 9110 §13.1.2), as the RFC asks for that header.

use std::future::{Ready, ready};

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{
    CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, EntityTag, HeaderName,
    HeaderValue, IfNoneMatch, TRANSFER_ENCODING,
};
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, HttpResponse};
use futures_util::future::LocalBoxFuture;
use sha2::{Digest, Sha256};

/// The headers of a `200` that describe its body, which the `304` standing for it does not
/// have. Every other header is repeated: those RFC 9110 §15.4.5 requires (`Cache-Control`,
/// `Vary`, ...) and the pipeline's own, such as the rate limit's.
const BODY_HEADERS: [HeaderName; 5] = [
    CONTENT_LENGTH,
    CONTENT_TYPE,
    CONTENT_ENCODING,
    CONTENT_RANGE,
    TRANSFER_ENCODING,
];

/// The middleware: `App::new().wrap(Etag)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Etag;

impl<S, B> Transform<S, ServiceRequest> for Etag
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = Error;
    type Transform = EtagMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(EtagMiddleware { service }))
    }
}

pub struct EtagMiddleware<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for EtagMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let cacheable_method = matches!(*req.method(), Method::GET | Method::HEAD);
        let response = self.service.call(req);
        Box::pin(async move {
            let response = response.await?;
            if !cacheable_method || response.status() != StatusCode::OK {
                return Ok(response.map_into_left_body());
            }
            tag_and_check(response).await
        })
    }
}

/// Marks a response whose `ETag` this middleware derived from its body, so that equal tags mean
/// equal bytes whatever the URL (a handler's own tag may be a per-resource version number).
/// Compression keys its encoded bodies on such tags.
#[derive(Debug, Clone, Copy)]
pub struct ContentTag;

/// The strong tag of a body: 128 bits of SHA-256 are plenty to tell versions apart.
pub fn tag_of(body: &[u8]) -> EntityTag {
    EntityTag::new_strong(hex::encode(&Sha256::digest(body)[..16]))
}

async fn tag_and_check<B>(
    response: ServiceResponse<B>,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, Error>
where
    B: MessageBody + 'static,
{
    let handler_tag = response
        .headers()
        .get(ETAG)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<EntityTag>().ok());
    let (response, tag) = match handler_tag {
        Some(tag) => (response.map_into_left_body(), tag),
        None if response.headers().contains_key(ETAG) => {
            // Unparseable: the handler's business, and nothing to compare against.
            return Ok(response.map_into_left_body());
        }
        None => match response.response().body().size() {
            BodySize::Sized(_) => {
                let (request, response) = response.into_parts();
                let (head, body) = response.into_parts();
                let body = read_whole(body).await?;
                let tag = tag_of(&body);
                let mut response = head.set_body(BoxBody::new(body));
                response.headers_mut().insert(ETAG, header_value(&tag));
                response.extensions_mut().insert(ContentTag);
                (
                    ServiceResponse::new(request, response).map_into_right_body(),
                    tag,
                )
            }
            // A stream would have to be buffered whole to be hashed.
            BodySize::Stream | BodySize::None => return Ok(response.map_into_left_body()),
        },
    };

    let held = match response.request().get_header::<IfNoneMatch>() {
        Some(IfNoneMatch::Any) => Some(tag),
        // The client's own form of the tag goes back: after compression it holds `W/"x"`, and a
        // cache updates the stored response whose validator the `304` names.
        Some(IfNoneMatch::Items(held)) => held.into_iter().find(|held| held.weak_eq(&tag)),
        None => None,
    };
    Ok(match held {
        Some(held) => not_modified(response, &held),
        None => response,
    })
}

async fn read_whole(body: impl MessageBody) -> Result<Bytes, Error> {
    match body.try_into_bytes() {
        Ok(bytes) => Ok(bytes),
        Err(body) => actix_web::body::to_bytes(body)
            .await
            .map_err(|e| actix_web::error::ErrorInternalServerError(e.into())),
    }
}

fn not_modified<B>(
    response: ServiceResponse<EitherBody<B, BoxBody>>,
    tag: &EntityTag,
) -> ServiceResponse<EitherBody<B, BoxBody>> {
    let (request, full) = response.into_parts();
    let mut reply = HttpResponse::with_body(
        StatusCode::NOT_MODIFIED,
        BoxBody::new(actix_web::body::None::new()),
    );
    let headers = reply.headers_mut();
    for (name, value) in full.headers() {
        if !BODY_HEADERS.contains(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    headers.insert(ETAG, header_value(tag));
    ServiceResponse::new(request, reply).map_into_right_body()
}

fn header_value(tag: &EntityTag) -> HeaderValue {
    // Tags come from a parsed header or from hex digits, both valid header text.
    HeaderValue::from_str(&tag.to_string()).expect("an entity tag is a valid header value")
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use actix_web::body::BodyStream;
    use actix_web::http::header::{ACCEPT_ENCODING, CACHE_CONTROL, IF_NONE_MATCH, VARY};
    use actix_web::test as actix_test;
    use actix_web::{App, web};

    use super::*;
    use crate::compression::{Compression, CompressionConfig};

    const FIRST: &str = "first version of the resource";
    const SECOND: &str = "second version of the resource";

    /// A JSON body above the compression minimum.
    fn large_json() -> String {
        format!(
            "[{}]",
            vec![r#"{"name":"Ana","city":"Recife"}"#; 100].join(",")
        )
    }

    macro_rules! app {
        ($($wrap:expr),*) => {
            actix_test::init_service(
                App::new()
                    $(.wrap($wrap))*
                    .route("/first", web::route().to(|| async {
                        HttpResponse::Ok()
                            .insert_header((CACHE_CONTROL, "private, max-age=0"))
                            .insert_header((VARY, "Authorization"))
                            .body(FIRST)
                    }))
                    .route("/second", web::get().to(|| async { HttpResponse::Ok().body(SECOND) }))
                    .route("/json", web::get().to(|| async {
                        HttpResponse::Ok().content_type("application/json").body(large_json())
                    }))
                    .route("/own-tag", web::get().to(|| async {
                        HttpResponse::Ok().insert_header((ETAG, r#""v7""#)).body(FIRST)
                    }))
                    .route("/missing", web::get().to(|| async { HttpResponse::NotFound().body(FIRST) }))
                    .route("/stream", web::get().to(|| async {
                        HttpResponse::Ok().body(BodyStream::new(futures_util::stream::iter([
                            Ok::<_, Infallible>(Bytes::from_static(FIRST.as_bytes())),
                        ])))
                    })),
            )
            .await
        };
    }

    fn get(path: &str) -> actix_test::TestRequest {
        actix_test::TestRequest::get().uri(path)
    }

    fn header<'a>(response: &'a ServiceResponse<impl MessageBody>, name: &str) -> Option<&'a str> {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap())
    }

    #[actix_web::test]
    async fn the_tag_follows_the_body() {
        let app = app!(Etag);
        let first = actix_test::call_service(&app, get("/first").to_request()).await;
        let tag = header(&first, "etag").unwrap().to_owned();
        assert_eq!(tag, tag_of(FIRST.as_bytes()).to_string());
        assert!(
            tag.starts_with('"') && tag.len() == 34,
            "strong, 16 bytes in hex: {tag}"
        );
        assert_eq!(actix_test::read_body(first).await, FIRST.as_bytes());

        let again = actix_test::call_service(&app, get("/first").to_request()).await;
        assert_eq!(
            header(&again, "etag"),
            Some(tag.as_str()),
            "same body, same tag"
        );

        let second = actix_test::call_service(&app, get("/second").to_request()).await;
        assert_ne!(header(&second, "etag"), Some(tag.as_str()));
    }

    #[actix_web::test]
    async fn a_matching_if_none_match_gets_an_empty_304() {
        let app = app!(Etag);
        let tag = tag_of(FIRST.as_bytes()).to_string();
        let request = get("/first").insert_header((IF_NONE_MATCH, format!(r#""other", {tag}"#)));
        let response = actix_test::call_service(&app, request.to_request()).await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header(&response, "etag"), Some(tag.as_str()));
        assert_eq!(
            header(&response, "cache-control"),
            Some("private, max-age=0")
        );
        assert_eq!(header(&response, "vary"), Some("Authorization"));
        assert_eq!(header(&response, "content-length"), None);
        assert_eq!(response.response().body().size(), BodySize::None);
        assert!(actix_test::read_body(response).await.is_empty());
    }

    #[actix_web::test]
    async fn a_different_tag_gets_the_body() {
        let app = app!(Etag);
        let request = get("/first").insert_header((IF_NONE_MATCH, tag_of(SECOND.as_bytes())));
        let response = actix_test::call_service(&app, request.to_request()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(actix_test::read_body(response).await, FIRST.as_bytes());
    }

    #[actix_web::test]
    async fn a_star_matches_any_tag() {
        let app = app!(Etag);
        let request = get("/first").insert_header((IF_NONE_MATCH, "*"));
        let response = actix_test::call_service(&app, request.to_request()).await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(
            header(&response, "etag"),
            Some(tag_of(FIRST.as_bytes()).to_string().as_str())
        );
    }

    #[actix_web::test]
    async fn the_weak_form_matches_and_is_echoed() {
        let app = app!(Etag);
        let weak = EntityTag::new_weak(tag_of(FIRST.as_bytes()).tag().to_owned()).to_string();
        let request = get("/first").insert_header((IF_NONE_MATCH, weak.as_str()));
        let response = actix_test::call_service(&app, request.to_request()).await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header(&response, "etag"), Some(weak.as_str()));
    }

    #[actix_web::test]
    async fn a_handler_tag_is_kept_and_compared() {
        let app = app!(Etag);
        let response = actix_test::call_service(&app, get("/own-tag").to_request()).await;
        assert_eq!(header(&response, "etag"), Some(r#""v7""#));

        let request = get("/own-tag").insert_header((IF_NONE_MATCH, r#""v7""#));
        let response = actix_test::call_service(&app, request.to_request()).await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    }

    #[actix_web::test]
    async fn other_methods_statuses_and_streams_are_untouched() {
        let app = app!(Etag);
        let tag = tag_of(FIRST.as_bytes()).to_string();

        let post = actix_test::TestRequest::post()
            .uri("/first")
            .insert_header((IF_NONE_MATCH, "*"));
        let response = actix_test::call_service(&app, post.to_request()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "etag"), None);
        assert_eq!(actix_test::read_body(response).await, FIRST.as_bytes());

        let missing = get("/missing").insert_header((IF_NONE_MATCH, tag.as_str()));
        let response = actix_test::call_service(&app, missing.to_request()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(header(&response, "etag"), None);

        let stream = get("/stream").insert_header((IF_NONE_MATCH, "*"));
        let response = actix_test::call_service(&app, stream.to_request()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "etag"), None);
        assert_eq!(response.response().body().size(), BodySize::Stream);
    }

    #[actix_web::test]
    async fn a_weakened_tag_from_compression_revalidates() {
        // `.wrap(Etag).wrap(Compression)`: compression is outermost, as in the gateway.
        let app = app!(Etag, Compression::new(CompressionConfig::default()));
        let strong = tag_of(large_json().as_bytes());

        let request = get("/json").insert_header((ACCEPT_ENCODING, "br"));
        let response = actix_test::call_service(&app, request.to_request()).await;
        assert_eq!(header(&response, "content-encoding"), Some("br"));
        let weak = header(&response, "etag").unwrap().to_owned();
        assert_eq!(weak, format!("W/{strong}"));

        let request = get("/json")
            .insert_header((ACCEPT_ENCODING, "br"))
            .insert_header((IF_NONE_MATCH, weak.as_str()));
        let response = actix_test::call_service(&app, request.to_request()).await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header(&response, "etag"), Some(weak.as_str()));
        assert_eq!(header(&response, "vary"), Some("accept-encoding"));
        assert_eq!(header(&response, "content-encoding"), None);
        assert!(!response.headers().contains_key(CONTENT_LENGTH));
        assert!(actix_test::read_body(response).await.is_empty());

        // Without compression the client holds the strong tag, which matches too.
        let request = get("/json").insert_header((IF_NONE_MATCH, strong.to_string()));
        let response = actix_test::call_service(&app, request.to_request()).await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    }
}
