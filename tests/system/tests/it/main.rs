//! System tests: one binary, one module per area.

// Tests read top to bottom as a story (set up, act, check), so they are exempt from the
// workspace's limit on function length.
#![allow(clippy::too_many_lines)]

mod access;
mod analytics;
mod anonymous_limits;
mod auth_cache;
mod branding;
mod campaigns;
mod compression;
mod consent;
mod contact_writes;
mod conventions;
mod daily_messages;
mod durability;
mod egress;
mod errors;
mod events;
mod hardening;
mod imports;
mod inbound;
mod inbound_replays;
mod inbox_tokens;
mod isolation;
mod jobs;
mod lists;
mod notifications;
mod openapi;
mod operations;
mod pacing;
mod permissions;
mod plans;
mod rate_limits;
mod reports;
mod security;
mod sign_in;
mod stripe;
mod traces;
mod web_app;
mod web_e2e;
mod webhooks;
