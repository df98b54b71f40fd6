//! Response compression (brotli or gzip) with levels the operator chooses.
//!
//! actix-web's own `Compress` fixes its levels (brotli quality 3, gzip level 1); this middleware
//! takes them from [`CompressionConfig`] instead, and leaves alone what gains nothing from
//! compression: small bodies, media that is compressed already, and server-sent events, which
//! must reach the client as they are written.
//!
//! Sized bodies are compressed in one go. Streaming bodies are compressed chunk by chunk, and
//! the encoder is flushed whenever the producer pauses, so a slow stream is never held back
//! waiting for more input. Work on large pieces runs on the blocking pool, off the async
//! workers.
//!
//! Wrap it outside [`crate::etag::Etag`]: the ETag is then computed from the identity body, and
//! this middleware weakens it (`W/"..."`) when it compresses, since the bytes differ.

use std::error::Error as StdError;
use std::future::{Future, Ready, ready};
use std::io::{self, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{
    AcceptEncoding, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ContentEncoding, ETAG,
    Encoding, EntityTag, HeaderMap, HeaderValue, Preference, Quality, VARY,
};
use actix_web::http::{Method, StatusCode};
use actix_web::rt::task::{JoinHandle, spawn_blocking};
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, HttpResponse};
use common::config::{ConfigError, Env};
use flate2::write::GzEncoder;
use futures_util::future::LocalBoxFuture;

/// Pieces up to this size are compressed on the async worker; larger ones go to the blocking
/// pool so one big response cannot stall every other request on the worker.
const INLINE_COMPRESSION_LIMIT: usize = 32 * 1024;

/// Brotli's window (2^22 bytes, the library's default); fixed, as only the quality is tuned.
const BROTLI_WINDOW_BITS: u32 = 22;

/// Output staging buffer of the brotli writer.
const BROTLI_BUFFER_BYTES: usize = 16 * 1024;

/// `COMPRESSION_*` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressionConfig {
    /// `COMPRESSION_BROTLI_QUALITY` (0..=11, default 4): 4 compresses JSON well at a cost low
    /// enough for every response.
    pub brotli_quality: u32,
    /// `COMPRESSION_GZIP_LEVEL` (1..=9, default 6, zlib's own default).
    pub gzip_level: u32,
    /// `COMPRESSION_MIN_BYTES` (default 1024): smaller bodies are sent as they are, as the
    /// saving would not pay for the work and the encoding's framing.
    pub min_bytes: u64,
    /// `COMPRESSION_CACHE_BYTES` (default 16 MiB, 0: off): encoded bodies kept by their
    /// content-derived ETag, so a body served again (a branding, a settings page) is encoded
    /// once per version and coding rather than on every request.
    pub cache_bytes: u64,
}

impl Default for CompressionConfig {
    fn default() -> Self {
        Self {
            brotli_quality: 4,
            gzip_level: 6,
            min_bytes: 1024,
            cache_bytes: 16 * 1024 * 1024,
        }
    }
}

impl CompressionConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            brotli_quality: env.parse_in(
                "COMPRESSION_BROTLI_QUALITY",
                defaults.brotli_quality,
                0..=11,
            )?,
            gzip_level: env.parse_in("COMPRESSION_GZIP_LEVEL", defaults.gzip_level, 1..=9)?,
            min_bytes: env.parse("COMPRESSION_MIN_BYTES", defaults.min_bytes)?,
            cache_bytes: env.parse("COMPRESSION_CACHE_BYTES", defaults.cache_bytes)?,
        })
    }
}

/// The middleware: `App::new().wrap(Compression::new(config))`. Build it once and clone it
/// into each worker's `App`, so the workers share its cache of encoded bodies.
#[derive(Clone)]
pub struct Compression {
    config: CompressionConfig,
    encoded: Option<EncodedBodies>,
}

impl Compression {
    pub fn new(config: CompressionConfig) -> Self {
        let encoded = (config.cache_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(config.cache_bytes)
                .weigher(|(tag, _): &(String, Coding), body: &Bytes| {
                    u32::try_from(tag.len() + body.len()).unwrap_or(u32::MAX)
                })
                // Versions nobody asks for any more leave; a live one stays however old.
                .time_to_idle(Duration::from_secs(600))
                .build()
        });
        Self { config, encoded }
    }
}

/// Encoded bodies by content-derived ETag ([`crate::etag::ContentTag`]) and coding.
type EncodedBodies = moka::sync::Cache<(String, Coding), Bytes>;

impl<S, B> Transform<S, ServiceRequest> for Compression
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = Error;
    type Transform = CompressionMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CompressionMiddleware {
            service,
            config: self.config,
            encoded: self.encoded.clone(),
        }))
    }
}

pub struct CompressionMiddleware<S> {
    service: S,
    config: CompressionConfig,
    encoded: Option<EncodedBodies>,
}

impl<S, B> Service<ServiceRequest> for CompressionMiddleware<S>
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
        // A HEAD response has no body to compress.
        let coding = if req.method() == Method::HEAD {
            None
        } else {
            negotiate(req.get_header::<AcceptEncoding>().as_ref())
        };
        let config = self.config;
        let encoded = self.encoded.clone();
        let response = self.service.call(req);
        Box::pin(async move {
            compress_response(response.await?, coding, config, encoded.as_ref()).await
        })
    }
}

/// A content coding this middleware produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Coding {
    Brotli,
    Gzip,
}

impl Coding {
    fn header_value(self) -> HeaderValue {
        match self {
            Coding::Brotli => ContentEncoding::Brotli.to_header_value(),
            Coding::Gzip => ContentEncoding::Gzip.to_header_value(),
        }
    }
}

/// The coding the client prefers among ours, by q-value (brotli on ties), or `None` for the
/// identity body: no or an unparseable header, nothing of ours acceptable, or an explicit
/// `identity` ranked above both.
fn negotiate(accept: Option<&AcceptEncoding>) -> Option<Coding> {
    let items = &accept?.0;
    // An explicit entry wins over `*`; a coding matched by neither is not acceptable.
    let quality_of = |wanted: &Encoding| {
        items
            .iter()
            .find(|item| matches!(&item.item, Preference::Specific(e) if e == wanted))
            .or_else(|| items.iter().find(|item| item.item == Preference::Any))
            .map_or(Quality::ZERO, |item| item.quality)
    };
    let brotli = quality_of(&Encoding::brotli());
    let gzip = quality_of(&Encoding::gzip());
    let (coding, quality) = if brotli >= gzip {
        (Coding::Brotli, brotli)
    } else {
        (Coding::Gzip, gzip)
    };
    if quality == Quality::ZERO {
        return None;
    }
    let identity_preferred = items.iter().any(|item| {
        item.item == Preference::Specific(Encoding::identity()) && item.quality > quality
    });
    (!identity_preferred).then_some(coding)
}

/// Whether a body of this `Content-Type` is worth compressing; one without a type is assumed
/// to be (as actix-web does).
fn is_compressible(content_type: Option<&HeaderValue>) -> bool {
    let Some(content_type) = content_type else {
        return true;
    };
    let Ok(content_type) = content_type.to_str() else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let (kind, subtype) = essence.split_once('/').unwrap_or((&essence, ""));
    match kind {
        "image" => subtype == "svg+xml",
        "video" | "audio" => false,
        "font" => !matches!(subtype, "woff" | "woff2"),
        // Server-sent events must not wait in an encoder's buffer.
        "text" => subtype != "event-stream",
        "application" => !matches!(
            subtype,
            "zip"
                | "gzip"
                | "x-gzip"
                | "x-brotli"
                | "zstd"
                | "x-bzip2"
                | "x-xz"
                | "x-7z-compressed"
                | "x-rar-compressed"
                | "vnd.rar"
                | "pdf"
                | "font-woff"
                | "x-font-woff"
                | "octet-stream"
        ),
        _ => true,
    }
}

async fn compress_response<B>(
    mut response: ServiceResponse<B>,
    coding: Option<Coding>,
    config: CompressionConfig,
    encoded: Option<&EncodedBodies>,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, Error>
where
    B: MessageBody + 'static,
{
    let status = response.status();
    if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || response.headers().contains_key(CONTENT_ENCODING)
        || !is_compressible(response.headers().get(CONTENT_TYPE))
    {
        return Ok(response.map_into_left_body());
    }
    // Whatever this client gets, another client may get another encoding of the same URL.
    add_vary_accept_encoding(response.headers_mut());

    let Some(coding) = coding else {
        return Ok(response.map_into_left_body());
    };
    // A 304 has no body, and the ranges of a 206 are ranges of the identity body.
    if status == StatusCode::NOT_MODIFIED || status == StatusCode::PARTIAL_CONTENT {
        return Ok(response.map_into_left_body());
    }
    match response.response().body().size() {
        BodySize::Sized(size) if size > 0 && size >= config.min_bytes => {
            compress_whole(response, coding, config, encoded).await
        }
        BodySize::Stream => Ok(compress_stream(response, coding, config)),
        BodySize::None | BodySize::Sized(_) => Ok(response.map_into_left_body()),
    }
}

async fn compress_whole<B>(
    response: ServiceResponse<B>,
    coding: Coding,
    config: CompressionConfig,
    encoded: Option<&EncodedBodies>,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, Error>
where
    B: MessageBody + 'static,
{
    let (request, response) = response.into_parts();
    // Equal content-derived tags mean equal bodies, hence equal encodings.
    let cache_key = encoded
        .filter(|_| response.extensions().contains::<crate::etag::ContentTag>())
        .zip(response.headers().get(ETAG))
        .and_then(|(cache, tag)| Some((cache, (tag.to_str().ok()?.to_owned(), coding))));
    let (head, body) = response.into_parts();
    if let Some((cache, key)) = &cache_key
        && let Some(compressed) = cache.get(key)
    {
        let mut response = head.set_body(BoxBody::new(compressed));
        mark_encoded(response.headers_mut(), coding);
        return Ok(ServiceResponse::new(request, response).map_into_right_body());
    }
    let identity = match body.try_into_bytes() {
        Ok(bytes) => bytes,
        Err(body) => actix_web::body::to_bytes(body)
            .await
            .map_err(|e| actix_web::error::ErrorInternalServerError(e.into()))?,
    };
    let compressed = if identity.len() <= INLINE_COMPRESSION_LIMIT {
        compress(coding, config, &identity)
    } else {
        let identity = identity.clone();
        actix_web::web::block(move || compress(coding, config, &identity)).await?
    }
    .map_err(actix_web::error::ErrorInternalServerError)?;

    // Incompressible content that slipped past the type check: the original is smaller.
    if compressed.len() >= identity.len() {
        // (Not cached: the next request compresses it again and sends the original again.)
        let response = head.set_body(BoxBody::new(identity));
        return Ok(ServiceResponse::new(request, response).map_into_right_body());
    }
    if let Some((cache, key)) = cache_key {
        cache.insert(key, compressed.clone());
    }
    let mut response = head.set_body(BoxBody::new(compressed));
    mark_encoded(response.headers_mut(), coding);
    Ok(ServiceResponse::new(request, response).map_into_right_body())
}

fn compress_stream<B>(
    response: ServiceResponse<B>,
    coding: Coding,
    config: CompressionConfig,
) -> ServiceResponse<EitherBody<B, BoxBody>>
where
    B: MessageBody + 'static,
{
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let mut response: HttpResponse<BoxBody> = head.set_body(BoxBody::new(CompressedStream::new(
        body.boxed(),
        coding,
        config,
    )));
    mark_encoded(response.headers_mut(), coding);
    ServiceResponse::new(request, response).map_into_right_body()
}

fn add_vary_accept_encoding(headers: &mut HeaderMap) {
    let already_varies = headers
        .get_all(VARY)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|name| name == "*" || name.eq_ignore_ascii_case("accept-encoding"));
    if !already_varies {
        headers.append(VARY, HeaderValue::from_static("accept-encoding"));
    }
}

fn mark_encoded(headers: &mut HeaderMap, coding: Coding) {
    headers.insert(CONTENT_ENCODING, coding.header_value());
    // A length set by the handler describes the identity body; actix writes the real one.
    headers.remove(CONTENT_LENGTH);
    weaken_etag(headers);
}

/// `"x"` becomes `W/"x"`: a strong tag promises these exact bytes, which compression changed
/// (nginx does the same).
fn weaken_etag(headers: &mut HeaderMap) {
    let strong = headers
        .get(ETAG)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<EntityTag>().ok())
        .filter(|tag| !tag.weak);
    if let Some(tag) = strong
        && let Ok(weak) =
            HeaderValue::from_str(&EntityTag::new_weak(tag.tag().to_owned()).to_string())
    {
        headers.insert(ETAG, weak);
    }
}

fn compress(coding: Coding, config: CompressionConfig, identity: &[u8]) -> io::Result<Bytes> {
    let mut encoder = StreamEncoder::new(coding, config);
    encoder.write_all(identity)?;
    encoder.finish()
}

/// A brotli or gzip encoder writing into a buffer that the caller drains.
enum StreamEncoder {
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Gzip(GzEncoder<Vec<u8>>),
}

impl StreamEncoder {
    fn new(coding: Coding, config: CompressionConfig) -> Self {
        match coding {
            Coding::Brotli => Self::Brotli(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                BROTLI_BUFFER_BYTES,
                config.brotli_quality,
                BROTLI_WINDOW_BITS,
            ))),
            Coding::Gzip => Self::Gzip(GzEncoder::new(
                Vec::new(),
                flate2::Compression::new(config.gzip_level),
            )),
        }
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Self::Brotli(encoder) => encoder.write_all(data),
            Self::Gzip(encoder) => encoder.write_all(data),
        }
    }

    /// Pushes out everything written so far as complete, decodable output.
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Brotli(encoder) => encoder.flush(),
            Self::Gzip(encoder) => encoder.flush(),
        }
    }

    /// The compressed output produced since the last call.
    fn take_output(&mut self) -> Bytes {
        let output = match self {
            Self::Brotli(encoder) => encoder.get_mut(),
            Self::Gzip(encoder) => encoder.get_mut(),
        };
        Bytes::from(std::mem::take(output))
    }

    /// The rest of the output, ending the compressed stream.
    fn finish(self) -> io::Result<Bytes> {
        let output = match self {
            // `into_inner` writes brotli's final block; writing to a Vec cannot fail.
            Self::Brotli(encoder) => encoder.into_inner(),
            Self::Gzip(encoder) => encoder.finish()?,
        };
        Ok(Bytes::from(output))
    }
}

enum EncoderState {
    Idle(StreamEncoder),
    /// A large chunk is being compressed on the blocking pool, which hands the encoder back.
    Busy(JoinHandle<io::Result<StreamEncoder>>),
    Finished,
}

/// A streaming body compressed as it flows.
struct CompressedStream {
    body: BoxBody,
    state: EncoderState,
    /// Input went into the encoder since its last flush.
    unflushed: bool,
}

impl CompressedStream {
    fn new(body: BoxBody, coding: Coding, config: CompressionConfig) -> Self {
        Self {
            body,
            state: EncoderState::Idle(StreamEncoder::new(coding, config)),
            unflushed: false,
        }
    }

    fn step(&mut self, cx: &mut Context<'_>) -> Result<Poll<Option<Bytes>>, Box<dyn StdError>> {
        loop {
            match &mut self.state {
                EncoderState::Finished => return Ok(Poll::Ready(None)),
                EncoderState::Busy(job) => {
                    let Poll::Ready(joined) = Pin::new(job).poll(cx) else {
                        return Ok(Poll::Pending);
                    };
                    let mut encoder = joined??;
                    let output = encoder.take_output();
                    self.state = EncoderState::Idle(encoder);
                    if !output.is_empty() {
                        return Ok(Poll::Ready(Some(output)));
                    }
                }
                EncoderState::Idle(encoder) => match Pin::new(&mut self.body).poll_next(cx) {
                    Poll::Pending => {
                        // The producer paused: send what it gave so far instead of holding it
                        // back until the next chunk, which may be a long time coming.
                        if !std::mem::take(&mut self.unflushed) {
                            return Ok(Poll::Pending);
                        }
                        encoder.flush()?;
                        let output = encoder.take_output();
                        return Ok(if output.is_empty() {
                            Poll::Pending
                        } else {
                            Poll::Ready(Some(output))
                        });
                    }
                    Poll::Ready(Some(chunk)) => {
                        let chunk = chunk?;
                        if chunk.is_empty() {
                            continue;
                        }
                        self.unflushed = true;
                        if chunk.len() <= INLINE_COMPRESSION_LIMIT {
                            encoder.write_all(&chunk)?;
                            let output = encoder.take_output();
                            if !output.is_empty() {
                                return Ok(Poll::Ready(Some(output)));
                            }
                        } else {
                            let EncoderState::Idle(mut encoder) =
                                std::mem::replace(&mut self.state, EncoderState::Finished)
                            else {
                                unreachable!("the encoder was idle a moment ago");
                            };
                            self.state = EncoderState::Busy(spawn_blocking(move || {
                                encoder.write_all(&chunk)?;
                                Ok(encoder)
                            }));
                        }
                    }
                    Poll::Ready(None) => {
                        let EncoderState::Idle(encoder) =
                            std::mem::replace(&mut self.state, EncoderState::Finished)
                        else {
                            unreachable!("the encoder was idle a moment ago");
                        };
                        let output = encoder.finish()?;
                        return Ok(Poll::Ready((!output.is_empty()).then_some(output)));
                    }
                },
            }
        }
    }
}

impl MessageBody for CompressedStream {
    type Error = Box<dyn StdError>;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        match this.step(cx) {
            Ok(poll) => poll.map(|chunk| chunk.map(Ok)),
            Err(error) => {
                // A broken stream ends here; actix aborts the response.
                this.state = EncoderState::Finished;
                Poll::Ready(Some(Err(error)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::io::Read;

    use actix_web::body::BodyStream;
    use actix_web::http::header::ACCEPT_ENCODING;
    use actix_web::test as actix_test;
    use actix_web::{App, web};
    use futures_util::FutureExt;
    use futures_util::future::poll_fn;

    use super::*;

    /// JSON-like text, repetitive enough to compress well, well above the 1 KiB minimum.
    fn payload() -> String {
        let contacts: Vec<String> = (0..200)
            .map(|i| format!(r#"{{"id":{i},"name":"Contact {i}","city":"Recife"}}"#))
            .collect();
        format!("[{}]", contacts.join(","))
    }

    /// A larger stream piece than `INLINE_COMPRESSION_LIMIT`, to take the blocking-pool path.
    fn big_chunk() -> String {
        "lorem ipsum dolor sit amet ".repeat(2000)
    }

    fn streamed_pieces() -> Vec<String> {
        vec![payload(), big_chunk(), "the end".to_owned()]
    }

    fn brotli_reference(data: &[u8], quality: u32) -> Vec<u8> {
        let mut writer = brotli::CompressorWriter::new(Vec::new(), 4096, quality, 22);
        writer.write_all(data).unwrap();
        writer.into_inner()
    }

    fn gzip_reference(data: &[u8], level: u32) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn decode_brotli(data: &[u8]) -> Vec<u8> {
        let mut decoded = Vec::new();
        brotli::Decompressor::new(data, 4096)
            .read_to_end(&mut decoded)
            .unwrap();
        decoded
    }

    fn decode_gzip(data: &[u8]) -> Vec<u8> {
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut decoded)
            .unwrap();
        decoded
    }

    fn stream_of(
        pieces: Vec<String>,
    ) -> BodyStream<impl futures_util::Stream<Item = Result<Bytes, Infallible>>> {
        BodyStream::new(futures_util::stream::iter(
            pieces.into_iter().map(|piece| Ok(Bytes::from(piece))),
        ))
    }

    /// Sends `request` through the middleware to a small app with one route per kind of body.
    async fn fetch(
        config: CompressionConfig,
        request: actix_test::TestRequest,
    ) -> ServiceResponse<impl MessageBody> {
        let app = actix_test::init_service(
            App::new()
                .wrap(Compression::new(config))
                .route(
                    "/json",
                    web::route().to(|| async {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(payload())
                    }),
                )
                .route(
                    "/tagged",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .insert_header((ETAG, r#""v1""#))
                            .body(payload())
                    }),
                )
                .route(
                    "/small",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(r#"{"ok":true}"#)
                    }),
                )
                .route(
                    "/png",
                    web::get().to(|| async {
                        HttpResponse::Ok().content_type("image/png").body(payload())
                    }),
                )
                .route(
                    "/svg",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .content_type("image/svg+xml")
                            .body(payload())
                    }),
                )
                .route(
                    "/events",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .content_type("text/event-stream")
                            .body(stream_of(vec![format!("data: {}\n\n", payload())]))
                    }),
                )
                .route(
                    "/stream",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .content_type("text/plain; charset=utf-8")
                            .body(stream_of(streamed_pieces()))
                    }),
                )
                .route(
                    "/encoded",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .insert_header((CONTENT_ENCODING, "gzip"))
                            .body(gzip_reference(payload().as_bytes(), 1))
                    }),
                )
                .route(
                    "/empty",
                    web::get().to(|| async { HttpResponse::NoContent().finish() }),
                ),
        )
        .await;
        actix_test::call_service(&app, request.to_request()).await
    }

    fn get(path: &str, accept_encoding: &str) -> actix_test::TestRequest {
        actix_test::TestRequest::get()
            .uri(path)
            .insert_header((ACCEPT_ENCODING, accept_encoding))
    }

    fn header<'a>(response: &'a ServiceResponse<impl MessageBody>, name: &str) -> Option<&'a str> {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap())
    }

    /// A body whose ETag the ETag middleware derived from it is encoded once per coding and
    /// served from the cache after that, on any URL with the same content; a handler's own tag
    /// (which may be a per-resource version) never keys the cache.
    #[actix_web::test]
    async fn bodies_with_content_derived_tags_are_encoded_once_per_coding() {
        let compression = Compression::new(CompressionConfig::default());
        let cache = compression.encoded.clone().expect("cache on by default");
        let json = || async {
            HttpResponse::Ok()
                .content_type("application/json")
                .body(payload())
        };
        let app = actix_test::init_service(
            App::new()
                .wrap(crate::etag::Etag)
                .wrap(compression)
                .route("/a", web::get().to(json))
                .route("/b", web::get().to(json))
                .route(
                    "/tagged",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .insert_header((ETAG, r#""v1""#))
                            .body(payload())
                    }),
                ),
        )
        .await;
        let mut bodies = Vec::new();
        for (path, coding) in [("/a", "br"), ("/a", "br"), ("/b", "br"), ("/a", "gzip")] {
            let response = actix_test::call_service(&app, get(path, coding).to_request()).await;
            assert_eq!(header(&response, "content-encoding"), Some(coding));
            let body = actix_test::read_body(response).await;
            let decoded = if coding == "br" {
                decode_brotli(&body)
            } else {
                decode_gzip(&body)
            };
            assert_eq!(decoded, payload().as_bytes(), "{path} {coding}");
            bodies.push(body);
        }
        assert_eq!(
            bodies[0], bodies[1],
            "the cached encoding is the same bytes"
        );
        assert_eq!(
            bodies[0], bodies[2],
            "same content on another URL: same entry"
        );
        cache.run_pending_tasks();
        assert_eq!(cache.entry_count(), 2, "one entry per coding");

        let response = actix_test::call_service(&app, get("/tagged", "br").to_request()).await;
        assert_eq!(header(&response, "content-encoding"), Some("br"));
        cache.run_pending_tasks();
        assert_eq!(cache.entry_count(), 2, "a handler's tag is not a cache key");
    }

    #[actix_web::test]
    async fn brotli_at_the_default_quality_decodes_to_the_original() {
        let response = fetch(CompressionConfig::default(), get("/json", "br")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "content-encoding"), Some("br"));
        assert_eq!(header(&response, "vary"), Some("accept-encoding"));
        assert_eq!(header(&response, "content-length"), None);
        let body = actix_test::read_body(response).await;
        assert_eq!(decode_brotli(&body), payload().as_bytes());
        assert_eq!(body, brotli_reference(payload().as_bytes(), 4));
        assert!(body.len() < payload().len() / 4, "JSON compresses well");
    }

    #[actix_web::test]
    async fn gzip_at_the_default_level_decodes_to_the_original() {
        let response = fetch(CompressionConfig::default(), get("/json", "gzip")).await;
        assert_eq!(header(&response, "content-encoding"), Some("gzip"));
        assert_eq!(header(&response, "vary"), Some("accept-encoding"));
        assert_eq!(
            response.response().body().size(),
            BodySize::Sized(gzip_reference(payload().as_bytes(), 6).len() as u64),
            "the length sent is the compressed one"
        );
        let body = actix_test::read_body(response).await;
        assert_eq!(decode_gzip(&body), payload().as_bytes());
        assert_eq!(body, gzip_reference(payload().as_bytes(), 6));
    }

    #[actix_web::test]
    async fn configured_levels_are_used() {
        let config = CompressionConfig {
            brotli_quality: 11,
            gzip_level: 1,
            ..CompressionConfig::default()
        };
        let identity = payload();

        let brotli = actix_test::read_body(fetch(config, get("/json", "br")).await).await;
        assert_eq!(brotli, brotli_reference(identity.as_bytes(), 11));
        assert_ne!(brotli, brotli_reference(identity.as_bytes(), 4));
        assert_eq!(decode_brotli(&brotli), identity.as_bytes());

        let gzip = actix_test::read_body(fetch(config, get("/json", "gzip")).await).await;
        assert_eq!(gzip, gzip_reference(identity.as_bytes(), 1));
        assert_ne!(gzip, gzip_reference(identity.as_bytes(), 6));
        assert_eq!(decode_gzip(&gzip), identity.as_bytes());
    }

    #[test]
    fn q_values_choose_the_coding() {
        let cases = [
            ("br;q=0.5, gzip;q=0.8", Some(Coding::Gzip)),
            ("gzip, br", Some(Coding::Brotli)),
            ("gzip;q=0.7, br;q=0.7", Some(Coding::Brotli)),
            ("gzip", Some(Coding::Gzip)),
            ("br;q=0, gzip", Some(Coding::Gzip)),
            ("*", Some(Coding::Brotli)),
            ("br;q=0, *", Some(Coding::Gzip)),
            ("*;q=0.5, gzip;q=0.9", Some(Coding::Gzip)),
            ("gzip;q=0, br;q=0", None),
            ("*;q=0", None),
            ("identity", None),
            ("identity;q=1, br;q=0.5", None),
            ("identity;q=0.5, br", Some(Coding::Brotli)),
            ("deflate, zstd", None),
            ("", None),
        ];
        for (accept_encoding, expected) in cases {
            let request = actix_test::TestRequest::default()
                .insert_header((ACCEPT_ENCODING, accept_encoding))
                .to_http_request();
            assert_eq!(
                negotiate(request.get_header::<AcceptEncoding>().as_ref()),
                expected,
                "Accept-Encoding: {accept_encoding}"
            );
        }
        assert_eq!(negotiate(None), None, "no header, no coding");
    }

    #[actix_web::test]
    async fn q_values_are_honoured_end_to_end() {
        let response = fetch(
            CompressionConfig::default(),
            get("/json", "br;q=0.5, gzip;q=0.8"),
        )
        .await;
        assert_eq!(header(&response, "content-encoding"), Some("gzip"));
        let body = actix_test::read_body(response).await;
        assert_eq!(decode_gzip(&body), payload().as_bytes());

        let response = fetch(CompressionConfig::default(), get("/json", "identity")).await;
        assert_eq!(header(&response, "content-encoding"), None);
        assert_eq!(
            header(&response, "vary"),
            Some("accept-encoding"),
            "another client gets another encoding"
        );
        assert_eq!(actix_test::read_body(response).await, payload().as_bytes());
    }

    #[actix_web::test]
    async fn small_bodies_are_sent_as_they_are() {
        let response = fetch(CompressionConfig::default(), get("/small", "br, gzip")).await;
        assert_eq!(header(&response, "content-encoding"), None);
        assert_eq!(header(&response, "vary"), Some("accept-encoding"));
        assert_eq!(
            actix_test::read_body(response).await,
            r#"{"ok":true}"#.as_bytes()
        );

        let compress_everything = CompressionConfig {
            min_bytes: 0,
            ..CompressionConfig::default()
        };
        let response = fetch(compress_everything, get("/json", "gzip")).await;
        assert_eq!(header(&response, "content-encoding"), Some("gzip"));
    }

    #[actix_web::test]
    async fn images_other_than_svg_are_sent_as_they_are() {
        let response = fetch(CompressionConfig::default(), get("/png", "br, gzip")).await;
        assert_eq!(header(&response, "content-encoding"), None);
        assert_eq!(header(&response, "vary"), None);
        assert_eq!(actix_test::read_body(response).await, payload().as_bytes());

        let response = fetch(CompressionConfig::default(), get("/svg", "br, gzip")).await;
        assert_eq!(header(&response, "content-encoding"), Some("br"));
        assert_eq!(
            decode_brotli(&actix_test::read_body(response).await),
            payload().as_bytes()
        );
    }

    #[actix_web::test]
    async fn server_sent_events_stream_uncompressed() {
        let response = fetch(CompressionConfig::default(), get("/events", "br, gzip")).await;
        assert_eq!(header(&response, "content-encoding"), None);
        assert_eq!(header(&response, "vary"), None);
        assert_eq!(response.response().body().size(), BodySize::Stream);
        assert_eq!(
            actix_test::read_body(response).await,
            format!("data: {}\n\n", payload()).as_bytes()
        );
    }

    #[actix_web::test]
    async fn streaming_bodies_are_compressed_as_streams() {
        let identity = streamed_pieces().concat();
        let response = fetch(CompressionConfig::default(), get("/stream", "br")).await;
        assert_eq!(header(&response, "content-encoding"), Some("br"));
        assert_eq!(response.response().body().size(), BodySize::Stream);
        assert_eq!(
            decode_brotli(&actix_test::read_body(response).await),
            identity.as_bytes()
        );

        let response = fetch(CompressionConfig::default(), get("/stream", "gzip")).await;
        assert_eq!(header(&response, "content-encoding"), Some("gzip"));
        assert_eq!(
            decode_gzip(&actix_test::read_body(response).await),
            identity.as_bytes()
        );
    }

    #[actix_web::test]
    async fn a_paused_stream_sends_what_it_has() {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
        let pieces = futures_util::stream::unfold(receiver, |mut receiver| async move {
            let piece = receiver.recv().await?;
            Some((Ok::<_, Infallible>(piece), receiver))
        });
        let mut body = CompressedStream::new(
            BoxBody::new(BodyStream::new(pieces)),
            Coding::Gzip,
            CompressionConfig::default(),
        );
        // Everything the body yields without waiting for the producer.
        let drain = |body: &mut CompressedStream| {
            let mut output = Vec::new();
            while let Some(Some(chunk)) =
                poll_fn(|cx| Pin::new(&mut *body).poll_next(cx)).now_or_never()
            {
                output.extend_from_slice(&chunk.unwrap());
            }
            output
        };

        sender.send(Bytes::from_static(b"first event")).unwrap();
        let sent = drain(&mut body);
        // A gzip stream cut after a flush decodes up to that point.
        let mut decoder = flate2::write::GzDecoder::new(Vec::new());
        decoder.write_all(&sent).unwrap();
        decoder.flush().unwrap();
        assert_eq!(decoder.get_ref().as_slice(), b"first event");

        sender.send(Bytes::from_static(b", second event")).unwrap();
        drop(sender);
        let mut whole = sent;
        whole.extend(drain(&mut body));
        assert_eq!(decode_gzip(&whole), b"first event, second event");
    }

    #[actix_web::test]
    async fn already_encoded_and_bodiless_responses_are_left_alone() {
        let response = fetch(CompressionConfig::default(), get("/encoded", "br")).await;
        assert_eq!(header(&response, "content-encoding"), Some("gzip"));
        assert_eq!(header(&response, "vary"), None);
        assert_eq!(
            decode_gzip(&actix_test::read_body(response).await),
            payload().as_bytes()
        );

        let response = fetch(CompressionConfig::default(), get("/empty", "br")).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(header(&response, "content-encoding"), None);

        let head = actix_test::TestRequest::default()
            .method(Method::HEAD)
            .uri("/json")
            .insert_header((ACCEPT_ENCODING, "br"));
        let response = fetch(CompressionConfig::default(), head).await;
        assert_eq!(header(&response, "content-encoding"), None);
        assert_eq!(header(&response, "vary"), Some("accept-encoding"));
    }

    #[actix_web::test]
    async fn a_strong_etag_turns_weak_only_when_compressed() {
        let response = fetch(CompressionConfig::default(), get("/tagged", "gzip")).await;
        assert_eq!(header(&response, "etag"), Some(r#"W/"v1""#));

        let response = fetch(CompressionConfig::default(), get("/tagged", "identity")).await;
        assert_eq!(header(&response, "etag"), Some(r#""v1""#));
    }

    #[test]
    fn settings_come_from_the_environment() {
        assert_eq!(
            CompressionConfig::from_env(&Env::from_pairs([])).unwrap(),
            CompressionConfig {
                brotli_quality: 4,
                gzip_level: 6,
                min_bytes: 1024,
                cache_bytes: 16 * 1024 * 1024,
            }
        );
        let env = Env::from_pairs([
            ("COMPRESSION_BROTLI_QUALITY", "0"),
            ("COMPRESSION_GZIP_LEVEL", "9"),
            ("COMPRESSION_MIN_BYTES", "0"),
            ("COMPRESSION_CACHE_BYTES", "0"),
        ]);
        assert_eq!(
            CompressionConfig::from_env(&env).unwrap(),
            CompressionConfig {
                brotli_quality: 0,
                gzip_level: 9,
                min_bytes: 0,
                cache_bytes: 0,
            }
        );
    }

    #[test]
    fn bad_settings_name_the_variable() {
        for (var, value) in [
            ("COMPRESSION_BROTLI_QUALITY", "12"),
            ("COMPRESSION_BROTLI_QUALITY", "best"),
            ("COMPRESSION_GZIP_LEVEL", "0"),
            ("COMPRESSION_GZIP_LEVEL", "10"),
            ("COMPRESSION_MIN_BYTES", "-1"),
            ("COMPRESSION_MIN_BYTES", "1k"),
            ("COMPRESSION_CACHE_BYTES", "16MB"),
        ] {
            let err = CompressionConfig::from_env(&Env::from_pairs([(var, value)])).unwrap_err();
            assert_eq!(err.var, var);
            assert_eq!(err.value, value);
        }
    }
}
