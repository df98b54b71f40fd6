#![doc = include_str!("../README.md")]

pub mod collect;
pub mod prepare;
