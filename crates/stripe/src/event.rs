//! The Stripe objects a webhook delivers that analytics use: the event envelope, and the
//! subscription, invoice and Checkout Session objects inside it. Only the fields read here are
//! declared; Stripe adds fields freely, and unknown ones are ignored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

/// Why an event could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("not a Stripe event: {0}")]
    Envelope(serde_json::Error),
    #[error("the {event_type} event's object cannot be read: {source}")]
    Object {
        event_type: String,
        source: serde_json::Error,
    },
    #[error("subscription {0} has no items")]
    NoItems(String),
    #[error("subscription {0} has a price that is not recurring")]
    NotRecurring(String),
    #[error("subscription {0} mixes currencies or billing intervals across its items")]
    MixedItems(String),
    #[error("timestamp {0} is out of range")]
    Timestamp(i64),
}

/// A Stripe event (`object: "event"`).
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    /// `evt_...`: unique per event, the same on every redelivery.
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the event happened (unix seconds); orders deliveries that arrive out of order.
    pub created: i64,
    #[serde(default)]
    pub livemode: bool,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    /// The object as it was when the event happened.
    pub object: serde_json::Value,
}

/// The object of an event, for the types analytics keep.
#[derive(Debug, Clone)]
pub enum EventObject {
    /// `customer.subscription.created`, `.updated`, `.deleted`.
    Subscription(Subscription),
    /// `invoice.paid`, `invoice.payment_succeeded`, `invoice.payment_failed`.
    Invoice(Invoice),
    /// `checkout.session.completed`.
    CheckoutSession(CheckoutSession),
    /// Any other type: kept as received, nothing derived from it.
    Other,
}

impl Event {
    /// Reads the envelope of a delivery's raw body.
    pub fn from_slice(body: &[u8]) -> Result<Self, EventError> {
        serde_json::from_slice(body).map_err(EventError::Envelope)
    }

    pub fn created_at(&self) -> Result<DateTime<Utc>, EventError> {
        timestamp(self.created)
    }

    /// The typed object of the event types analytics keep; [`EventObject::Other`] for the rest.
    pub fn object(&self) -> Result<EventObject, EventError> {
        let object = &self.data.object;
        let read = |source| EventError::Object {
            event_type: self.event_type.clone(),
            source,
        };
        Ok(match self.event_type.as_str() {
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted" => {
                EventObject::Subscription(Subscription::deserialize(object).map_err(read)?)
            }
            "invoice.paid" | "invoice.payment_succeeded" | "invoice.payment_failed" => {
                EventObject::Invoice(Invoice::deserialize(object).map_err(read)?)
            }
            "checkout.session.completed" => {
                EventObject::CheckoutSession(CheckoutSession::deserialize(object).map_err(read)?)
            }
            _ => EventObject::Other,
        })
    }
}

/// Unix seconds as a UTC time.
pub fn timestamp(seconds: i64) -> Result<DateTime<Utc>, EventError> {
    DateTime::from_timestamp(seconds, 0).ok_or(EventError::Timestamp(seconds))
}

/// A subscription's status, as Stripe names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Active,
    Trialing,
    PastDue,
    Canceled,
    Unpaid,
    Incomplete,
    IncompleteExpired,
    Paused,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Trialing => "trialing",
            Self::PastDue => "past_due",
            Self::Canceled => "canceled",
            Self::Unpaid => "unpaid",
            Self::Incomplete => "incomplete",
            Self::IncompleteExpired => "incomplete_expired",
            Self::Paused => "paused",
        }
    }
}

/// A recurring price's billing period unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Day,
    Week,
    Month,
    Year,
}

impl Interval {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
        }
    }
}

/// A subscription object (`sub_...`).
#[derive(Debug, Clone, Deserialize)]
pub struct Subscription {
    pub id: String,
    #[serde(deserialize_with = "expandable_id")]
    pub customer: String,
    pub status: SubscriptionStatus,
    pub items: List<SubscriptionItem>,
    /// Before API version 2025-03-31.basil; later versions put it on each item.
    #[serde(default)]
    pub current_period_end: Option<i64>,
    #[serde(default)]
    pub canceled_at: Option<i64>,
    pub created: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionItem {
    pub price: Price,
    #[serde(default)]
    pub quantity: Option<i64>,
    /// From API version 2025-03-31.basil.
    #[serde(default)]
    pub current_period_end: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Price {
    /// Minor units per unit; `None` for tiered and some metered prices.
    #[serde(default)]
    pub unit_amount: Option<i64>,
    pub currency: String,
    #[serde(default)]
    pub recurring: Option<Recurring>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Recurring {
    pub interval: Interval,
    pub interval_count: i32,
}

/// What a subscription charges per billing period, summed over its items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Billing {
    /// Minor units per period: each item's `unit_amount` × quantity. `None` when a price has no
    /// unit amount (tiered or metered): the amount is then not known in advance.
    pub amount: Option<i64>,
    /// Lowercase ISO code, as Stripe sends it.
    pub currency: String,
    pub interval: Interval,
    pub interval_count: i32,
}

impl Subscription {
    /// The amount, currency and period of the subscription. Stripe requires every item of a
    /// subscription to share the currency and the billing period, so they are summed.
    pub fn billing(&self) -> Result<Billing, EventError> {
        let first = self
            .items
            .data
            .first()
            .ok_or_else(|| EventError::NoItems(self.id.clone()))?;
        let recurring_of = |item: &SubscriptionItem| {
            item.price
                .recurring
                .ok_or_else(|| EventError::NotRecurring(self.id.clone()))
        };
        let period = recurring_of(first)?;
        let mut amount = Some(0i64);
        for item in &self.items.data {
            let recurring = recurring_of(item)?;
            if item.price.currency != first.price.currency
                || recurring.interval != period.interval
                || recurring.interval_count != period.interval_count
            {
                return Err(EventError::MixedItems(self.id.clone()));
            }
            let item_amount = item
                .price
                .unit_amount
                .and_then(|unit| unit.checked_mul(item.quantity.unwrap_or(1)));
            amount = amount
                .zip(item_amount)
                .and_then(|(sum, item)| sum.checked_add(item));
        }
        Ok(Billing {
            amount,
            currency: first.price.currency.clone(),
            interval: period.interval,
            interval_count: period.interval_count,
        })
    }

    /// The end of the current period: the subscription's (older API versions) or else the
    /// latest of its items'.
    pub fn current_period_end(&self) -> Option<i64> {
        self.current_period_end.or_else(|| {
            self.items
                .data
                .iter()
                .filter_map(|item| item.current_period_end)
                .max()
        })
    }
}

/// An invoice's status, as Stripe names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Draft,
    Open,
    Paid,
    Uncollectible,
    Void,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Open => "open",
            Self::Paid => "paid",
            Self::Uncollectible => "uncollectible",
            Self::Void => "void",
        }
    }
}

/// An invoice object (`in_...`).
#[derive(Debug, Clone, Deserialize)]
pub struct Invoice {
    pub id: String,
    #[serde(default, deserialize_with = "optional_expandable_id")]
    pub customer: Option<String>,
    /// Before API version 2025-03-31.basil.
    #[serde(default, deserialize_with = "optional_expandable_id")]
    subscription: Option<String>,
    /// From API version 2025-03-31.basil.
    #[serde(default)]
    parent: Option<InvoiceParent>,
    pub amount_paid: i64,
    pub currency: String,
    pub status: InvoiceStatus,
    #[serde(default)]
    pub status_transitions: Option<StatusTransitions>,
}

#[derive(Debug, Clone, Deserialize)]
struct InvoiceParent {
    #[serde(default)]
    subscription_details: Option<SubscriptionDetails>,
}

#[derive(Debug, Clone, Deserialize)]
struct SubscriptionDetails {
    #[serde(default, deserialize_with = "optional_expandable_id")]
    subscription: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StatusTransitions {
    #[serde(default)]
    pub paid_at: Option<i64>,
}

impl Invoice {
    /// The subscription the invoice bills, wherever the API version puts it.
    pub fn subscription_id(&self) -> Option<&str> {
        self.subscription.as_deref().or_else(|| {
            self.parent
                .as_ref()
                .and_then(|parent| parent.subscription_details.as_ref())
                .and_then(|details| details.subscription.as_deref())
        })
    }

    pub fn paid_at(&self) -> Option<i64> {
        self.status_transitions
            .as_ref()
            .and_then(|transitions| transitions.paid_at)
    }
}

/// A Checkout Session object (`cs_...`).
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    #[serde(default, deserialize_with = "optional_expandable_id")]
    pub customer: Option<String>,
    #[serde(default, deserialize_with = "optional_expandable_id")]
    pub subscription: Option<String>,
    /// `payment`, `setup` or `subscription`.
    pub mode: String,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: String,
    #[serde(default)]
    pub amount_total: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
}

/// A reference Stripe sends as an id, or as the object itself when the request expanded it.
#[derive(Deserialize)]
#[serde(untagged)]
enum Expandable {
    Id(String),
    Object { id: String },
}

fn expandable_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(match Expandable::deserialize(deserializer)? {
        Expandable::Id(id) | Expandable::Object { id } => id,
    })
}

fn optional_expandable_id<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(
        Option::<Expandable>::deserialize(deserializer)?.map(|reference| match reference {
            Expandable::Id(id) | Expandable::Object { id } => id,
        }),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(event_type: &str, object: serde_json::Value) -> Event {
        let body = json!({
            "id": "evt_1", "object": "event", "type": event_type, "created": 1_700_000_000,
            "livemode": false, "data": {"object": object}
        });
        Event::from_slice(body.to_string().as_bytes()).unwrap()
    }

    fn item(unit_amount: serde_json::Value, quantity: i64, interval: &str) -> serde_json::Value {
        json!({
            "price": {"unit_amount": unit_amount, "currency": "usd",
                      "recurring": {"interval": interval, "interval_count": 1}},
            "quantity": quantity, "current_period_end": 1_702_592_000
        })
    }

    #[test]
    fn reads_a_subscription_of_the_basil_api() {
        let parsed = event(
            "customer.subscription.updated",
            json!({
                "id": "sub_1", "object": "subscription", "customer": {"id": "cus_1"},
                "status": "past_due", "created": 1_690_000_000, "canceled_at": null,
                "items": {"object": "list", "data": [item(json!(1500), 2, "month"), item(json!(500), 1, "month")]}
            }),
        );
        let EventObject::Subscription(subscription) = parsed.object().unwrap() else {
            panic!("a subscription");
        };
        assert_eq!(subscription.customer, "cus_1");
        assert_eq!(subscription.status, SubscriptionStatus::PastDue);
        assert_eq!(subscription.current_period_end(), Some(1_702_592_000));
        assert_eq!(
            subscription.billing().unwrap(),
            Billing {
                amount: Some(3500),
                currency: "usd".into(),
                interval: Interval::Month,
                interval_count: 1
            }
        );
    }

    #[test]
    fn a_tiered_price_has_no_known_amount_and_mixed_items_are_refused() {
        let tiered = Subscription::deserialize(json!({
            "id": "sub_1", "customer": "cus_1", "status": "active", "created": 1,
            "items": {"data": [item(json!(null), 3, "year")]}
        }))
        .unwrap();
        assert_eq!(tiered.billing().unwrap().amount, None);
        let mixed = Subscription::deserialize(json!({
            "id": "sub_2", "customer": "cus_1", "status": "active", "created": 1,
            "items": {"data": [item(json!(100), 1, "year"), item(json!(100), 1, "month")]}
        }))
        .unwrap();
        assert!(matches!(mixed.billing(), Err(EventError::MixedItems(_))));
    }

    #[test]
    fn reads_the_invoice_subscription_of_either_api_version() {
        let older = event(
            "invoice.paid",
            json!({"id": "in_1", "customer": "cus_1", "subscription": "sub_1", "amount_paid": 900,
                   "currency": "eur", "status": "paid", "status_transitions": {"paid_at": 1_700_000_000}}),
        );
        let basil = event(
            "invoice.payment_failed",
            json!({"id": "in_2", "customer": "cus_1", "amount_paid": 0, "currency": "eur",
                   "status": "open", "parent": {"type": "subscription_details",
                   "subscription_details": {"subscription": "sub_2"}}}),
        );
        let (EventObject::Invoice(older), EventObject::Invoice(basil)) =
            (older.object().unwrap(), basil.object().unwrap())
        else {
            panic!("invoices");
        };
        assert_eq!(older.subscription_id(), Some("sub_1"));
        assert_eq!(older.paid_at(), Some(1_700_000_000));
        assert_eq!(basil.subscription_id(), Some("sub_2"));
        assert_eq!(basil.status, InvoiceStatus::Open);
        assert_eq!(basil.paid_at(), None);
    }

    #[test]
    fn other_types_are_kept_untyped_and_bad_objects_are_errors() {
        assert!(matches!(
            event("customer.created", json!({"id": "cus_1"}))
                .object()
                .unwrap(),
            EventObject::Other
        ));
        let bad = event("customer.subscription.created", json!({"id": "sub_1"}));
        assert!(matches!(bad.object(), Err(EventError::Object { .. })));
        assert!(matches!(
            Event::from_slice(b"{\"id\":1}"),
            Err(EventError::Envelope(_))
        ));
    }
}
