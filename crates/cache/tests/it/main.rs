//! Against a real Redis at 127.0.0.1:6379. Every test uses its own key prefix and deletes what
//! it wrote when it ends, even by panicking.

mod cluster;
mod config;
mod failures;
mod invalidation;
mod local;
mod metrics;
mod reads;
mod single_flight;
mod support;
