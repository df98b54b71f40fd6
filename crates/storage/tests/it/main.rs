//! Against a local directory in a fresh temporary directory per test, and the in-memory store.
//! Nothing here contacts the network: S3 is only configured and built, never called.

mod config;
mod reads;
mod support;
mod uploads;
