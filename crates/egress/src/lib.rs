#![doc = include_str!("../README.md")]

pub mod address;
mod client;
mod target;

pub use address::{Refusal, classify};
pub use client::{
    Answer, Egress, EgressConfig, Guard, Lookup, RefusedAddress, ResolveError, SendError,
    SystemLookup, guarded, refusal_in, status_class,
};
pub use target::{MAX_URL_LEN, Ports, Target, UrlError};
