//! Against a real Redis at 127.0.0.1:6379, and against Redis servers the tests start themselves
//! (one to stop and restart, a three-node cluster). Every test on the shared server uses its own
//! key prefix and deletes its keys when it ends, even by panicking.

mod cluster;
mod fallback;
mod gcra;
mod replicas;
mod support;
