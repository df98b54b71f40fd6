#![doc = include_str!("../README.md")]

pub mod client;
/// The fake WUZAPI server; only with the `fake` feature (tests, benches, demos), never in
/// production binaries.
#[cfg(feature = "fake")]
pub mod fake;

pub use client::{NumberCheck, SendOutcome, SendText, SessionStatus, WuzapiClient, WuzapiError};
#[cfg(feature = "fake")]
pub use fake::{FakeConfig, FakeControl, FakeWuzapi, PresenceCall, SentMessage};

use serde_json::Value;

/// The WUZAPI events the manager subscribes each inbox to: messages (replies, opt-outs),
/// receipts, and the session changes that say a number is gone.
pub const MANAGER_EVENTS: &[&str] = &[
    "Message",
    "ReadReceipt",
    "Connected",
    "Disconnected",
    "LoggedOut",
    "TemporaryBan",
];

/// Field of a JSON object by name, ignoring ASCII case when there is no exact match: WUZAPI
/// matches request fields that way, and its two generations disagree on response casing.
pub(crate) fn json_field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let map = value.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}
