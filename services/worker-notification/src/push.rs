//! Web Push: one encrypted push (RFC 8291 `aes128gcm`) signed with VAPID (RFC 8292) to one
//! browser subscription. The `web-push` crate builds the message; the request goes out through
//! [`deliver`], the worker's only outbound HTTP call, over `crates/egress`: endpoints are
//! chosen by whoever subscribes, so only public addresses on the allowed ports are reached.

use std::time::Duration;

use db::notifications::PushSubscription;
use egress::{Egress, EgressConfig, Ports, SendError, Target};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
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
    /// Anything else (timeouts, 429, 5xx, VAPID refused, an address the guard refuses): worth
    /// another attempt. What the tenant may read (the job's error): a status class or the kind
    /// of failure, never the client's error text.
    Failed(String),
}

/// The tenant-facing text of a push service's answer: its status class only.
fn answered(status: u16) -> String {
    format!("push service answered {}", egress::status_class(status))
}

/// Signs and sends pushes with the platform's VAPID key.
pub struct Pusher {
    vapid: PartialVapidSignatureBuilder,
    subject: String,
    ttl: u32,
    egress: Egress,
    targets: common::push::PushTargets,
}

impl Pusher {
    pub fn new(config: &PushConfig) -> anyhow::Result<Self> {
        let vapid = VapidSignatureBuilder::from_base64_no_sub(config.key.expose_scalar_base64())
            .map_err(|e| anyhow::anyhow!("VAPID_PRIVATE_KEY: {e:?}"))?;
        // Redirects are never followed (a push service answers; it never needs to send us
        // elsewhere), and only the first bytes of an answer are read.
        let egress = Egress::new(EgressConfig {
            allow_private: config.targets.allow_private,
            connect_timeout: config.timeout.min(Duration::from_secs(5)),
            timeout: config.timeout,
            max_response_bytes: 1024,
            user_agent: concat!("wuzapi-manager/", env!("CARGO_PKG_VERSION")).to_owned(),
        })?;
        Ok(Self {
            vapid,
            subject: config.subject.clone(),
            ttl: config.ttl,
            egress,
            targets: config.targets.clone(),
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
        let ports = Ports::Only(self.targets.ports.clone());
        let target = match Target::parse_with(&request.url, self.targets.allow_private, &ports) {
            Ok(target) => target,
            // Stored before these settings (or past the gateway's check): refused, not sent.
            Err(e) => {
                tracing::warn!(subscription = %subscription.id, reason = %e, "push endpoint refused by the egress settings; not sent");
                return PushOutcome::Failed(SendError::Unsendable(e.to_string()).public_text());
            }
        };
        match deliver(&self.egress, &target, request).await {
            Ok(status) if (200..300).contains(&status) => PushOutcome::Delivered,
            Ok(status @ (404 | 410)) => PushOutcome::Gone(status),
            Ok(status) => PushOutcome::Failed(answered(status)),
            Err(e) => {
                // The detail (addresses, connection errors) is the operator's, not the tenant's.
                tracing::warn!(subscription = %subscription.id, error = %e, "push not delivered");
                PushOutcome::Failed(e.public_text())
            }
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

/// Sends one push to `target` (the request's URL, checked); the answer's status. Every
/// outbound request of the worker passes here, through the egress guard: the address
/// connected to is one it allowed, redirects are answers, time and body are bounded.
pub async fn deliver(
    egress: &Egress,
    target: &Target,
    request: PushRequest,
) -> Result<u16, SendError> {
    let mut headers = HeaderMap::new();
    for (name, value) in &request.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            return Err(SendError::Unsendable(format!(
                "header `{name}` is not valid"
            )));
        };
        headers.insert(name, value);
    }
    let answer = egress.post(target, headers, request.body.into()).await?;
    Ok(answer.status)
}
