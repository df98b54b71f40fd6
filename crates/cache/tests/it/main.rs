//! Against a real Redis at 127.0.0.1:6379. Every test uses its own key prefix and deletes what
//! it wrote when it ends, even by panicking.

// Tests read top to bottom as a story (set up, act, check), so they are exempt from the
// workspace's limit on function length.
#![allow(clippy::too_many_lines)]

mod cluster;
mod config;
mod failures;
mod invalidation;
mod local;
mod metrics;
mod reads;
mod single_flight;
mod support;
