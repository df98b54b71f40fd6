//! System tests: one binary, one module per area.

mod campaigns;
mod durability;
mod errors;
mod isolation;
mod jobs;
mod operations;
mod security;
mod traces;
