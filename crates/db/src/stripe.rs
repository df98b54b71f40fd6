//! A tenant's own Stripe account: its settings, the webhook events it delivers, and the
//! analytics computed from them.
//!
//! The secret key and the webhook signing secret are encrypted with [`SecretCipher`] and only
//! ever shown as hints. Events are recorded once per `(tenant, event id)`, so a redelivery
//! changes nothing, and a subscription or invoice keeps the state of the newest event applied
//! to it (by the event's `created`), so a late delivery of an older event cannot regress it.

use std::collections::BTreeMap;

use ::stripe::event::{SubscriptionStatus, timestamp};
use ::stripe::{Event, EventError, EventObject};
use chrono::{DateTime, Utc};
use common::sql;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement, TransactionSession,
    TransactionTrait,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::secrets::{SecretCipher, hint};
use crate::{DbError, DbResult, TenantScope};

/// Stripe subscription statuses as an array parameter, for `status = ANY($n)`.
fn status_names(statuses: &[SubscriptionStatus]) -> Vec<String> {
    statuses.iter().map(|s| s.as_str().to_owned()).collect()
}

/// A tenant's Stripe settings without their secrets: the publishable key and hints.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct StripeSettings {
    pub publishable_key: String,
    /// The secret key's last four characters (`…abcd`), to recognise it.
    pub secret_key_hint: String,
    /// The webhook secret's last four characters (`…abcd`), to recognise it.
    pub webhook_secret_hint: String,
    pub updated_at: DateTime<Utc>,
}

/// A full replacement of a tenant's Stripe settings, already validated.
pub struct NewStripeSettings {
    pub publishable_key: String,
    pub secret_key: SecretString,
    pub webhook_secret: SecretString,
}

const SETTINGS_COLUMNS: &str = "publishable_key, secret_key_hint, webhook_secret_hint, updated_at";

pub async fn find_settings(
    scope: TenantScope<'_, impl ConnectionTrait>,
) -> DbResult<Option<StripeSettings>> {
    Ok(
        StripeSettings::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "SELECT {SETTINGS_COLUMNS} FROM stripe_settings WHERE tenant_id = $1",
                SETTINGS_COLUMNS
            ),
            [scope.tenant_uuid().into()],
        ))
        .one(scope.conn())
        .await?,
    )
}

/// Replaces the tenant's settings with `new`, encrypting the secrets, and returns the view.
pub async fn replace_settings(
    scope: TenantScope<'_, impl ConnectionTrait>,
    cipher: &SecretCipher,
    new: NewStripeSettings,
) -> DbResult<StripeSettings> {
    let secret_key = new.secret_key.expose_secret();
    let webhook_secret = new.webhook_secret.expose_secret();
    StripeSettings::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "INSERT INTO stripe_settings (tenant_id, publishable_key, secret_key_ciphertext,
                                          secret_key_hint, webhook_secret_ciphertext,
                                          webhook_secret_hint, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, now())
             ON CONFLICT (tenant_id) DO UPDATE SET
                 publishable_key = excluded.publishable_key,
                 secret_key_ciphertext = excluded.secret_key_ciphertext,
                 secret_key_hint = excluded.secret_key_hint,
                 webhook_secret_ciphertext = excluded.webhook_secret_ciphertext,
                 webhook_secret_hint = excluded.webhook_secret_hint,
                 updated_at = excluded.updated_at
             RETURNING {SETTINGS_COLUMNS}",
            SETTINGS_COLUMNS
        ),
        [
            scope.tenant_uuid().into(),
            new.publishable_key.into(),
            cipher.encrypt(secret_key).into(),
            hint(secret_key).into(),
            cipher.encrypt(webhook_secret).into(),
            hint(webhook_secret).into(),
        ],
    ))
    .one(scope.conn())
    .await?
    .ok_or(DbError::NotFound("tenant"))
}

/// Removes the tenant's settings; `false` when it had none. Recorded events stay.
pub async fn delete_settings(scope: TenantScope<'_, impl ConnectionTrait>) -> DbResult<bool> {
    let result = scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("DELETE FROM stripe_settings WHERE tenant_id = $1"),
            [scope.tenant_uuid().into()],
        ))
        .await?;
    Ok(result.rows_affected() > 0)
}

/// What verifying a webhook delivery for a tenant can use.
pub enum WebhookSecret {
    /// No such tenant.
    UnknownTenant,
    /// The tenant exists but has no Stripe settings: nothing can verify a delivery.
    NotConfigured,
    /// The tenant's signing secret, decrypted.
    Configured(SecretString),
}

/// The tenant's webhook signing secret, decrypted. A secret that no longer decrypts (another
/// `SECRETS_KEY`) is an error, not an absent secret: the operator has to fix the key.
pub async fn webhook_secret(
    scope: TenantScope<'_, impl ConnectionTrait>,
    cipher: &SecretCipher,
) -> DbResult<WebhookSecret> {
    #[derive(FromQueryResult)]
    struct Row {
        ciphertext: Option<Vec<u8>>,
    }
    let row = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT s.webhook_secret_ciphertext AS ciphertext
           FROM tenants t
           LEFT JOIN stripe_settings s ON s.tenant_id = t.id
          WHERE t.id = $1"
        ),
        [scope.tenant_uuid().into()],
    ))
    .one(scope.conn())
    .await?;
    Ok(match row {
        None => WebhookSecret::UnknownTenant,
        Some(Row { ciphertext: None }) => WebhookSecret::NotConfigured,
        Some(Row {
            ciphertext: Some(ciphertext),
        }) => WebhookSecret::Configured(cipher.decrypt(&ciphertext).map_err(|e| {
            DbErr::Custom(format!(
                "tenant {}: the Stripe webhook secret: {e}",
                scope.tenant_id()
            ))
        })?),
    })
}

/// Whether a delivery was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// First delivery: the event and what it says were stored.
    New,
    /// The event id was recorded before: nothing changed.
    Duplicate,
}

/// Records a verified event (`payload` is its whole body) and applies it: subscriptions and
/// invoices are upserted unless a newer event already set them, completed Checkout Sessions
/// stored, other types only kept in the events table. One transaction; a known type whose
/// object cannot be read is [`DbError::Invalid`] and records nothing.
pub async fn record_event<C: ConnectionTrait + TransactionTrait>(
    scope: TenantScope<'_, C>,
    event: &Event,
    payload: serde_json::Value,
) -> DbResult<Recorded> {
    let object = event.object().map_err(invalid_event)?;
    let event_created = event.created_at().map_err(invalid_event)?;
    let txn = scope.conn().begin().await?;
    let tenant = scope.on(&txn);
    let inserted = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "INSERT INTO stripe_events (tenant_id, id, type, livemode, created, payload)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant_id, id) DO NOTHING
             RETURNING id"
            ),
            [
                tenant.tenant_uuid().into(),
                event.id.clone().into(),
                event.event_type.clone().into(),
                event.livemode.into(),
                event_created.into(),
                payload.into(),
            ],
        ))
        .await?;
    if inserted.is_none() {
        // A concurrent first delivery waits on the key until this one commits, then lands here.
        return Ok(Recorded::Duplicate);
    }
    match object {
        EventObject::Subscription(subscription) => {
            upsert_subscription(tenant, &subscription, event_created).await?
        }
        EventObject::Invoice(invoice) => upsert_invoice(tenant, &invoice, event_created).await?,
        EventObject::CheckoutSession(session) => {
            insert_checkout_session(tenant, &session, event_created).await?
        }
        EventObject::Other => {}
    }
    txn.commit().await?;
    Ok(Recorded::New)
}

fn invalid_event(err: EventError) -> DbError {
    DbError::Invalid {
        field: "data",
        message: err.to_string(),
    }
}

fn optional_time(seconds: Option<i64>) -> DbResult<Option<DateTime<Utc>>> {
    seconds.map(timestamp).transpose().map_err(invalid_event)
}

async fn upsert_subscription(
    scope: TenantScope<'_, impl ConnectionTrait>,
    subscription: &::stripe::Subscription,
    event_created: DateTime<Utc>,
) -> DbResult<()> {
    let billing = subscription.billing().map_err(invalid_event)?;
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("INSERT INTO stripe_subscriptions (tenant_id, id, customer_id, status, amount, currency,
                                               billing_interval, interval_count,
                                               current_period_end, canceled_at, created,
                                               event_created)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (tenant_id, id) DO UPDATE SET
                 customer_id = excluded.customer_id,
                 status = excluded.status,
                 amount = excluded.amount,
                 currency = excluded.currency,
                 billing_interval = excluded.billing_interval,
                 interval_count = excluded.interval_count,
                 current_period_end = excluded.current_period_end,
                 canceled_at = excluded.canceled_at,
                 created = excluded.created,
                 event_created = excluded.event_created,
                 updated_at = now()
             -- Ties (events of the same second) go to the later delivery.
             WHERE stripe_subscriptions.event_created <= excluded.event_created"),
            [
                scope.tenant_uuid().into(),
                subscription.id.clone().into(),
                subscription.customer.clone().into(),
                subscription.status.as_str().into(),
                billing.amount.into(),
                billing.currency.into(),
                billing.interval.as_str().into(),
                billing.interval_count.into(),
                optional_time(subscription.current_period_end())?.into(),
                optional_time(subscription.canceled_at)?.into(),
                timestamp(subscription.created)
                    .map_err(invalid_event)?
                    .into(),
                event_created.into(),
            ],
        ))
        .await?;
    Ok(())
}

async fn upsert_invoice(
    scope: TenantScope<'_, impl ConnectionTrait>,
    invoice: &::stripe::Invoice,
    event_created: DateTime<Utc>,
) -> DbResult<()> {
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!("INSERT INTO stripe_invoices (tenant_id, id, subscription_id, customer_id, amount_paid,
                                          currency, status, paid_at, event_created)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (tenant_id, id) DO UPDATE SET
                 subscription_id = excluded.subscription_id,
                 customer_id = excluded.customer_id,
                 amount_paid = excluded.amount_paid,
                 currency = excluded.currency,
                 status = excluded.status,
                 paid_at = excluded.paid_at,
                 event_created = excluded.event_created,
                 updated_at = now()
             WHERE stripe_invoices.event_created <= excluded.event_created"),
            [
                scope.tenant_uuid().into(),
                invoice.id.clone().into(),
                invoice.subscription_id().map(str::to_owned).into(),
                invoice.customer.clone().into(),
                invoice.amount_paid.into(),
                invoice.currency.clone().into(),
                invoice.status.as_str().into(),
                optional_time(invoice.paid_at())?.into(),
                event_created.into(),
            ],
        ))
        .await?;
    Ok(())
}

async fn insert_checkout_session(
    scope: TenantScope<'_, impl ConnectionTrait>,
    session: &::stripe::CheckoutSession,
    event_created: DateTime<Utc>,
) -> DbResult<()> {
    // A session completes once; its event is the only one that describes it.
    scope
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql!(
                "INSERT INTO stripe_checkout_sessions (tenant_id, id, customer_id, subscription_id,
                                                   mode, payment_status, amount_total, currency,
                                                   completed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (tenant_id, id) DO NOTHING"
            ),
            [
                scope.tenant_uuid().into(),
                session.id.clone().into(),
                session.customer.clone().into(),
                session.subscription.clone().into(),
                session.mode.clone().into(),
                session.payment_status.clone().into(),
                session.amount_total.into(),
                session.currency.clone().into(),
                event_created.into(),
            ],
        ))
        .await?;
    Ok(())
}

/// A tenant's Stripe figures for a period `[from, to)`. Amounts are minor units (cents) keyed
/// by lowercase currency code.
#[derive(Debug, Clone, PartialEq)]
pub struct StripeAnalytics {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Monthly recurring revenue now: active and past-due subscriptions with a known amount,
    /// each normalised to one month.
    pub mrr: BTreeMap<String, i64>,
    /// Subscriptions by status now.
    pub subscriptions: SubscriptionCounts,
    /// `amount_paid` of the invoices paid in the period.
    pub revenue: BTreeMap<String, i64>,
    pub churn: Churn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, FromQueryResult)]
pub struct SubscriptionCounts {
    pub active: i64,
    pub trialing: i64,
    pub past_due: i64,
    pub canceled: i64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Churn {
    /// Subscriptions canceled in the period.
    pub canceled: i64,
    /// Subscriptions that had started and were not canceled at the start of the period.
    pub active_at_start: i64,
    /// `canceled / active_at_start` to four decimals; `None` (`null`) when none were active.
    pub rate: Option<f64>,
}

#[derive(FromQueryResult)]
struct CurrencyAmount {
    currency: String,
    amount: i64,
}

async fn per_currency(
    conn: &impl ConnectionTrait,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> DbResult<BTreeMap<String, i64>> {
    let rows = CurrencyAmount::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.currency, r.amount)).collect())
}

/// The tenant's analytics for `[from, to)`.
pub async fn analytics(
    scope: TenantScope<'_, impl ConnectionTrait>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> DbResult<StripeAnalytics> {
    let tenant = scope.tenant_uuid();
    let mrr = monthly_recurring_revenue(scope.conn(), tenant).await?;
    let revenue = revenue_paid(scope.conn(), tenant, from, to).await?;
    let subscriptions = subscription_counts(scope.conn(), tenant).await?;
    let churn = churn(scope.conn(), tenant, from, to).await?;
    Ok(StripeAnalytics {
        from,
        to,
        mrr,
        subscriptions,
        revenue,
        churn,
    })
}

/// Per currency, what the active and past-due subscriptions bring in a month.
async fn monthly_recurring_revenue(
    conn: &impl ConnectionTrait,
    tenant: Uuid,
) -> DbResult<BTreeMap<String, i64>> {
    per_currency(
        conn,
        sql!(
            "SELECT currency,
                round(sum(amount::numeric
                          * CASE billing_interval
                                WHEN 'day' THEN 365.0 / 12
                                WHEN 'week' THEN 52.0 / 12
                                WHEN 'month' THEN 1
                                WHEN 'year' THEN 1.0 / 12
                            END
                          / interval_count))::bigint AS amount
           FROM stripe_subscriptions
          WHERE tenant_id = $1 AND status = ANY($2) AND amount IS NOT NULL
          GROUP BY currency"
        ),
        vec![
            tenant.into(),
            status_names(&[SubscriptionStatus::Active, SubscriptionStatus::PastDue]).into(),
        ],
    )
    .await
}

/// Per currency, the invoices paid in `[from, to)`.
async fn revenue_paid(
    conn: &impl ConnectionTrait,
    tenant: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> DbResult<BTreeMap<String, i64>> {
    per_currency(
        conn,
        sql!(
            "SELECT currency, sum(amount_paid)::bigint AS amount
           FROM stripe_invoices
          WHERE tenant_id = $1 AND status = 'paid' AND paid_at >= $2 AND paid_at < $3
          -- 'paid' written out (not bound) to match the predicate of the partial index
          -- stripe_invoices_paid_idx (migration 5).
          GROUP BY currency"
        ),
        vec![tenant.into(), from.into(), to.into()],
    )
    .await
}

/// The tenant's subscriptions by status.
async fn subscription_counts(
    conn: &impl ConnectionTrait,
    tenant: Uuid,
) -> DbResult<SubscriptionCounts> {
    SubscriptionCounts::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT count(*) FILTER (WHERE status = $2) AS active,
                count(*) FILTER (WHERE status = $3) AS trialing,
                count(*) FILTER (WHERE status = $4) AS past_due,
                count(*) FILTER (WHERE status = $5) AS canceled
           FROM stripe_subscriptions WHERE tenant_id = $1"
        ),
        [
            tenant.into(),
            SubscriptionStatus::Active.as_str().into(),
            SubscriptionStatus::Trialing.as_str().into(),
            SubscriptionStatus::PastDue.as_str().into(),
            SubscriptionStatus::Canceled.as_str().into(),
        ],
    ))
    .one(conn)
    .await?
    .ok_or(DbError::NotFound("subscription counts"))
}

/// The subscriptions canceled in `[from, to)` against those active at its start.
async fn churn(
    conn: &impl ConnectionTrait,
    tenant: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> DbResult<Churn> {
    #[derive(FromQueryResult)]
    struct ChurnCounts {
        canceled: i64,
        active_at_start: i64,
    }
    // Started: not `incomplete` or `incomplete_expired` (never paid for). A subscription
    // canceled at period end keeps its status until it ends, so only `canceled` ones count.
    let counts = ChurnCounts::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql!(
            "SELECT count(*) FILTER (WHERE status = $4
                                   AND canceled_at >= $2 AND canceled_at < $3) AS canceled,
                count(*) FILTER (WHERE created < $2
                                   AND status <> ALL($5)
                                   AND NOT (status = $4
                                            AND coalesce(canceled_at, created) < $2))
                    AS active_at_start
           FROM stripe_subscriptions WHERE tenant_id = $1"
        ),
        [
            tenant.into(),
            from.into(),
            to.into(),
            SubscriptionStatus::Canceled.as_str().into(),
            status_names(&[
                SubscriptionStatus::Incomplete,
                SubscriptionStatus::IncompleteExpired,
            ])
            .into(),
        ],
    ))
    .one(conn)
    .await?
    .ok_or(DbError::NotFound("churn counts"))?;
    let rate = (counts.active_at_start > 0).then(|| {
        let ratio = counts.canceled as f64 / counts.active_at_start as f64;
        (ratio * 10_000.0).round() / 10_000.0
    });
    Ok(Churn {
        canceled: counts.canceled,
        active_at_start: counts.active_at_start,
        rate,
    })
}
