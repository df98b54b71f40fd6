#![doc = include_str!("../README.md")]

pub mod event;
pub mod signature;

pub use event::{
    Billing, CheckoutSession, Event, EventError, EventObject, Interval, Invoice, InvoiceStatus,
    Subscription, SubscriptionStatus,
};
pub use signature::SignatureError;
