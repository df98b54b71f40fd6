#![doc = include_str!("../README.md")]

pub mod campaigns;
pub mod consent;
pub mod events;
pub mod imports;
pub mod quotas;
pub mod reports;
pub mod webhooks;
