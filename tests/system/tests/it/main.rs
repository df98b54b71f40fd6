//! System tests: one binary, one module per area.

mod access;
mod auth_cache;
mod branding;
mod campaigns;
mod compression;
mod consent;
mod conventions;
mod daily_messages;
mod durability;
mod errors;
mod events;
mod imports;
mod inbound;
mod isolation;
mod jobs;
mod notifications;
mod openapi;
mod operations;
mod plans;
mod rate_limits;
mod reports;
mod security;
mod stripe;
mod traces;
mod webhooks;
