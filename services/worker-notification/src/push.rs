//! Web Push: one encrypted push (RFC 8291 `aes128gcm`) signed with VAPID (RFC 8292) to one
//! browser subscription. The `web-push` crate builds the message; the request goes out through
//! [`deliver`], the worker's only outbound HTTP call.

use std::time::Duration;

use db::notifications::PushSubscription;
use web_push::{
    ContentEncoding, PartialVapidSignatureBuilder, SubscriptionInfo, Urgency,
    VapidSignatureBuilder, WebPushError, WebPushMessageBuilder,
};

use crate::config::PushConfig;

/// How a push went.
#[derive(Debug)]
pub enum PushOutcome {
    /// The push service took it (2xx).
    Delivered,
    /// 404 or 410: the browser unsubscribed; the subscription is to be removed.
    Gone(u16),
    /// It can never be sent (keys that do not encrypt, an endpoint that is no URL).
    Invalid(String),
    /// Anything else (timeouts, 429, 5xx, VAPID refused): worth another attempt.
    Failed(String),
}

/// Signs and sends pushes with the platform's VAPID key.
pub struct Pusher {
    vapid: PartialVapidSignatureBuilder,
    subject: String,
    ttl: u32,
    http: reqwest::Client,
}

impl Pusher {
    pub fn new(config: &PushConfig) -> anyhow::Result<Self> {
        let vapid = VapidSignatureBuilder::from_base64_no_sub(config.key.expose_scalar_base64())
            .map_err(|e| anyhow::anyhow!("VAPID_PRIVATE_KEY: {e:?}"))?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            // A push service answers; it never needs to send us elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            vapid,
            subject: config.subject.clone(),
            ttl: config.ttl,
            http,
        })
    }

    /// Encrypts `payload` for `subscription` and sends it.
    pub async fn send(
        &self,
        subscription: &PushSubscription,
        payload: &[u8],
        urgency: Urgency,
    ) -> PushOutcome {
        let request = match self.request(subscription, payload, urgency) {
            Ok(request) => request,
            Err(e) => return PushOutcome::Invalid(e),
        };
        match deliver(&self.http, request).await {
            Ok(status) if (200..300).contains(&status) => PushOutcome::Delivered,
            Ok(status @ (404 | 410)) => PushOutcome::Gone(status),
            Ok(status) => PushOutcome::Failed(format!("push service answered {status}")),
            Err(e) => PushOutcome::Failed(e.to_string()),
        }
    }

    fn request(
        &self,
        subscription: &PushSubscription,
        payload: &[u8],
        urgency: Urgency,
    ) -> Result<PushRequest, String> {
        let info = SubscriptionInfo::new(
            subscription.endpoint.as_str(),
            subscription.p256dh.as_str(),
            subscription.auth.as_str(),
        );
        let endpoint = url::Url::parse(&subscription.endpoint).map_err(|e| e.to_string())?;
        let mut signature = self.vapid.clone().add_sub_info(&info);
        // RFC 8292 §2: `aud` is the push resource's origin, port included (web-push would
        // leave a non-default port out).
        signature.add_claim("aud", endpoint.origin().ascii_serialization());
        signature.add_claim("sub", self.subject.as_str());
        let signature = signature.build().map_err(describe)?;
        let mut message = WebPushMessageBuilder::new(&info);
        message.set_ttl(self.ttl);
        message.set_urgency(urgency);
        message.set_vapid_signature(signature);
        message.set_payload(ContentEncoding::Aes128Gcm, payload);
        let request =
            web_push::request_builder::build_request::<Vec<u8>>(message.build().map_err(describe)?);
        let headers = request
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        Ok(PushRequest {
            url: subscription.endpoint.clone(),
            headers,
            body: request.into_body(),
        })
    }
}

fn describe(e: WebPushError) -> String {
    format!("{e:?}")
}

/// One push as it goes on the wire: `POST url` with the encryption, VAPID, TTL and Urgency
/// headers and the encrypted body.
#[derive(Debug)]
pub struct PushRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Sends one push; the answer's status. Every outbound request of the worker passes here, so a
/// guard on where it may connect (the webhook worker's SSRF guard) goes in this one place.
pub async fn deliver(http: &reqwest::Client, request: PushRequest) -> Result<u16, reqwest::Error> {
    let mut builder = http.post(&request.url);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let response = builder.body(request.body).send().await?;
    Ok(response.status().as_u16())
}
