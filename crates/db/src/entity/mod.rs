//! sea-orm entities, one module per table (see `migrations/` for constraints and indexes).

pub mod account;
pub mod api_key;
pub mod campaign;
pub mod campaign_recipient;
pub mod contact;
pub mod inbox;
pub mod job;
pub mod outbox;
pub mod tenant;
pub mod user;
pub mod worker;
