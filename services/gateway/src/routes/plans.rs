//! Subscription plans a tenant sells to its users, their subscriptions and overrides, and what a
//! user reads about its own: subscription, quotas (limits and live usage) and features.
//!
//! Tenant admins manage plans, subscriptions and overrides; any user reads its own under
//! `/api/me`. The effective limits and features are cached per user; every write below drops
//! exactly the entries of the users it changes. Enforcement is `crate::quotas`.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::{delete, get, post, put, web};
use cache::KeyRef;
use chrono::{DateTime, Utc};
use common::subscription::{Feature, Quota, SubscriptionStatus};
use common::{Role, SubscriptionPlanId, TenantId, UserId};
use db::plans::NewPlan;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::paging::{ListParams, ListQuery, ListSpec, Page};
use super::{ApiJson, ApiResult, Deleted, Envelope, created, ok, required_text};
use crate::auth::{TenantAdmin, TenantUser};
use crate::cached::{self, tenant_key};
use crate::error::ApiError;
use crate::state::AppState;

cache::key_type! {
    /// `user_subscription:{userId}`: the user's plan (id and name), status and start.
    pub UserSubscriptionKey: UserSubscription, id = UserId, value = Subscription, schema = 1
}

cache::key_type! {
    /// `user_quotas:{userId}`: the user's effective limits (plan, overrides and status applied).
    /// Usage is not cached: it changes with every creation and is counted live.
    pub UserQuotasKey: UserQuotas, id = UserId, value = QuotaLimits, schema = 1
}

cache::key_type! {
    /// `user_features:{userId}`: the features the user has (plan and overrides applied).
    pub UserFeaturesKey: UserFeatures, id = UserId, value = BTreeSet<Feature>, schema = 1
}

/// One limit per [`Quota`]; `None` is unlimited. Serialised with the quotas' names as keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(description = "One limit per quota, keyed by the quota's name; `null` is unlimited.")]
pub struct QuotaLimits {
    pub max_inboxes: Option<i64>,
    pub max_contacts: Option<i64>,
    pub max_campaigns: Option<i64>,
    pub messages_per_day: Option<i64>,
}

impl From<db::plans::QuotaLimits> for QuotaLimits {
    fn from(v: db::plans::QuotaLimits) -> Self {
        Self {
            max_inboxes: v.max_inboxes,
            max_contacts: v.max_contacts,
            max_campaigns: v.max_campaigns,
            messages_per_day: v.messages_per_day,
        }
    }
}

impl From<QuotaLimits> for db::plans::QuotaLimits {
    fn from(v: QuotaLimits) -> Self {
        Self {
            max_inboxes: v.max_inboxes,
            max_contacts: v.max_contacts,
            max_campaigns: v.max_campaigns,
            messages_per_day: v.messages_per_day,
        }
    }
}

/// A plan as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionPlan {
    pub id: SubscriptionPlanId,
    pub name: String,
    pub quotas: QuotaLimits,
    pub features: BTreeSet<Feature>,
    /// Users subscribed to it, whatever their subscription's status.
    pub subscribers: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<db::plans::SubscriptionPlan> for SubscriptionPlan {
    fn from(v: db::plans::SubscriptionPlan) -> Self {
        Self {
            id: v.id,
            name: v.name,
            quotas: v.quotas.into(),
            features: v.features,
            subscribers: v.subscribers,
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

/// A user's subscription as the API shows it (and the cache stores it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub plan_id: SubscriptionPlanId,
    pub plan_name: String,
    pub status: SubscriptionStatus,
    /// When the user moved to this plan (a change of status alone keeps it).
    pub started_at: DateTime<Utc>,
}

impl From<db::plans::Subscription> for Subscription {
    fn from(v: db::plans::Subscription) -> Self {
        Self {
            plan_id: v.plan_id,
            plan_name: v.plan_name,
            status: v.status,
            started_at: v.started_at,
        }
    }
}

/// A user's adjustments to its plan. A quota named here replaces the plan's limit (`None`:
/// unlimited); a feature named here is switched on or off whatever the plan says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(
    description = "A user's adjustments to its plan. A quota named here replaces the plan's limit (`null`: unlimited); a feature named here is switched on or off whatever the plan says."
)]
pub struct Overrides {
    pub quotas: BTreeMap<Quota, Option<i64>>,
    pub features: BTreeMap<Feature, bool>,
}

impl From<db::plans::Overrides> for Overrides {
    fn from(v: db::plans::Overrides) -> Self {
        Self {
            quotas: v.quotas,
            features: v.features,
        }
    }
}

pub fn routes(cfg: &mut super::Routes) {
    cfg.service(create)
        .service(list)
        .service(get)
        .service(replace)
        .service(delete)
        .service(subscribe)
        .service(subscription)
        .service(set_overrides)
        .service(my_subscription)
        .service(my_quotas)
        .service(my_features);
}

/// Longest plan name.
const MAX_NAME_CHARS: usize = 100;

/// The user's subscription, `None` when it has none.
pub async fn subscription_of(
    state: &AppState,
    user: &TenantUser,
    user_id: UserId,
) -> Result<Option<Subscription>, ApiError> {
    let scope = user.scope(&state.db);
    let key = tenant_key::<UserSubscriptionKey>(&user_id, scope.tenant_id());
    let load = async move {
        let found = db::plans::subscription(scope, user_id).await?;
        Ok(found.map(Subscription::from))
    };
    cached::read(state, &key, load).await
}

/// The user's effective limits (see `db::quotas::effective`).
pub async fn limits_of(
    state: &AppState,
    user: &TenantUser,
    user_id: UserId,
) -> Result<db::plans::QuotaLimits, ApiError> {
    let scope = user.scope(&state.db);
    let key = tenant_key::<UserQuotasKey>(&user_id, scope.tenant_id());
    let load = async move {
        let entitlements = db::quotas::entitlements(scope, user_id).await?;
        Ok(entitlements.map(|e| QuotaLimits::from(e.limits)))
    };
    cached::read(state, &key, load)
        .await?
        .map(db::plans::QuotaLimits::from)
        .ok_or_else(|| ApiError::not_found("user"))
}

/// The features the user has (see `db::quotas::effective`).
pub async fn features_of(
    state: &AppState,
    user: &TenantUser,
    user_id: UserId,
) -> Result<BTreeSet<Feature>, ApiError> {
    let scope = user.scope(&state.db);
    let key = tenant_key::<UserFeaturesKey>(&user_id, scope.tenant_id());
    let load = async move {
        let entitlements = db::quotas::entitlements(scope, user_id).await?;
        Ok(entitlements.map(|e| e.features))
    };
    cached::read(state, &key, load)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))
}

/// Every cached entry derived from a user's subscription.
fn subscription_keys(user_id: UserId, tenant_id: TenantId) -> [KeyRef; 3] {
    [
        tenant_key::<UserSubscriptionKey>(&user_id, tenant_id).into(),
        tenant_key::<UserQuotasKey>(&user_id, tenant_id).into(),
        tenant_key::<UserFeaturesKey>(&user_id, tenant_id).into(),
    ]
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanBody {
    /// 1 to 100 characters, unique in the tenant.
    name: String,
    /// Quota name to limit (a whole number of at least 0); a missing quota or `null` is
    /// unlimited.
    #[serde(default)]
    #[schema(value_type = BTreeMap<Quota, Option<i64>>)]
    quotas: Map<String, Value>,
    /// Feature names the plan includes.
    #[serde(default)]
    #[schema(value_type = Vec<Feature>)]
    features: Vec<String>,
}

/// Names of `names` that `known` does not recognise, quoted, or `None` when all are known.
fn unknown_names<'a>(
    names: impl IntoIterator<Item = &'a String>,
    known: impl Fn(&str) -> bool,
) -> Option<String> {
    let unknown: Vec<String> = names
        .into_iter()
        .filter(|name| !known(name))
        .map(|name| format!("`{name}`"))
        .collect();
    (!unknown.is_empty()).then(|| unknown.join(", "))
}

fn all_names<T: std::fmt::Display>(all: &[T]) -> String {
    all.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `{quota name: limit or null}`, every name known and every limit a whole number ≥ 0.
fn parse_quotas(quotas: &Map<String, Value>) -> Result<BTreeMap<Quota, Option<i64>>, ApiError> {
    if let Some(unknown) = unknown_names(quotas.keys(), |n| Quota::from_name(n).is_some()) {
        return Err(ApiError::validation(
            "quotas",
            format!(
                "unknown quota(s) {unknown}; the quotas are {}",
                all_names(&Quota::ALL)
            ),
        ));
    }
    let mut parsed = BTreeMap::new();
    for (name, value) in quotas {
        let Some(quota) = Quota::from_name(name) else {
            continue;
        };
        let limit = match value {
            Value::Null => None,
            other => match other.as_i64() {
                Some(limit) if limit >= 0 => Some(limit),
                _ => {
                    let field = format!("quotas.{name}");
                    return Err(ApiError::validation(
                        &field,
                        format!(
                            "`{field}` must be a whole number of at least 0, or null for unlimited"
                        ),
                    ));
                }
            },
        };
        parsed.insert(quota, limit);
    }
    Ok(parsed)
}

fn unknown_features(unknown: String) -> ApiError {
    ApiError::validation(
        "features",
        format!(
            "unknown feature(s) {unknown}; the features are {}",
            all_names(&Feature::ALL)
        ),
    )
}

fn parse_plan(body: PlanBody) -> Result<NewPlan, ApiError> {
    let name = required_text("name", &body.name, MAX_NAME_CHARS)?;
    let mut quotas = db::plans::QuotaLimits::UNLIMITED;
    for (quota, limit) in parse_quotas(&body.quotas)? {
        quotas.set(quota, limit);
    }
    if let Some(unknown) = unknown_names(&body.features, |n| Feature::from_name(n).is_some()) {
        return Err(unknown_features(unknown));
    }
    let features = body
        .features
        .iter()
        .filter_map(|name| Feature::from_name(name))
        .collect();
    Ok(NewPlan {
        name,
        quotas,
        features,
    })
}

/// Creates a subscription plan: its quotas and features (tenant admin).
#[utoipa::path(
    tag = "plans",
    request_body = PlanBody,
    responses((status = 201, description = "The new plan", body = Envelope<SubscriptionPlan>)),
)]
#[post("/plans")]
pub async fn create(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    body: ApiJson<PlanBody>,
) -> ApiResult {
    let new = parse_plan(body.into_inner())?;
    let plan = db::plans::create(admin.scope(&state.db), new).await?;
    Ok(created(SubscriptionPlan::from(plan)))
}

pub const PLANS: ListSpec = ListSpec {
    name: "subscription_plans",
    fields: &[
        "id",
        "name",
        "quotas",
        "features",
        "subscribers",
        "createdAt",
        "updatedAt",
    ],
    default_fields: &["id", "name"],
};

/// The tenant's subscription plans, oldest first (tenant admin); `nextCursor` fetches the next
/// page.
#[utoipa::path(
    tag = "plans",
    params(ListParams),
    responses((status = 200, description = "A page of plans", body = Page<SubscriptionPlan>)),
)]
#[get("/plans")]
pub async fn list(state: web::Data<AppState>, admin: TenantAdmin, query: ListQuery) -> ApiResult {
    let page = query.page(&PLANS)?;
    let (plans, more) = db::plans::page(admin.scope(&state.db), page.after(), page.limit()).await?;
    let plans = plans.into_iter().map(SubscriptionPlan::from).collect();
    page.respond(plans, more, |plan| plan.id.into_uuid())
}

/// One subscription plan of the tenant (tenant admin).
#[utoipa::path(
    tag = "plans",
    params(("plan_id" = SubscriptionPlanId, Path, description = "The plan's id")),
    responses((status = 200, description = "The plan", body = Envelope<SubscriptionPlan>)),
)]
#[get("/plans/{plan_id}")]
pub async fn get(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    path: web::Path<SubscriptionPlanId>,
) -> ApiResult {
    let plan = db::plans::find(admin.scope(&state.db), path.into_inner()).await?;
    Ok(ok(SubscriptionPlan::from(plan)))
}

/// Replaces a plan's name, quotas and features (tenant admin); its subscribers get the new
/// limits and features at once.
#[utoipa::path(
    tag = "plans",
    params(("plan_id" = SubscriptionPlanId, Path, description = "The plan's id")),
    request_body = PlanBody,
    responses((status = 200, description = "The plan as replaced", body = Envelope<SubscriptionPlan>)),
)]
#[put("/plans/{plan_id}")]
pub async fn replace(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    path: web::Path<SubscriptionPlanId>,
    body: ApiJson<PlanBody>,
) -> ApiResult {
    let new = parse_plan(body.into_inner())?;
    let scope = admin.scope(&state.db);
    let plan_id = path.into_inner();
    let plan = db::plans::replace(scope, plan_id, new).await?;
    let subscribers = db::plans::subscriber_ids(scope, plan_id).await?;
    let keys = subscribers
        .into_iter()
        .flat_map(|user_id| subscription_keys(user_id, scope.tenant_id()));
    cached::invalidate(&state, keys).await;
    Ok(ok(SubscriptionPlan::from(plan)))
}

/// Deletes a plan (tenant admin); refused with 409 while users are subscribed to it.
#[utoipa::path(
    tag = "plans",
    params(("plan_id" = SubscriptionPlanId, Path, description = "The plan's id")),
    responses((status = 200, description = "The plan is deleted", body = Envelope<Deleted<SubscriptionPlanId>>)),
)]
#[delete("/plans/{plan_id}")]
pub async fn delete(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    path: web::Path<SubscriptionPlanId>,
) -> ApiResult {
    let plan_id = path.into_inner();
    db::plans::delete(admin.scope(&state.db), plan_id).await?;
    Ok(ok(Deleted::new(plan_id)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscribeBody {
    plan_id: SubscriptionPlanId,
    status: SubscriptionStatus,
}

/// Subscribes a user of the tenant to a plan, or changes its subscription's plan or status
/// (tenant admin). Every status but `canceled` gets the plan's quotas.
#[utoipa::path(
    tag = "plans",
    params(("user_id" = UserId, Path, description = "The user's id")),
    request_body = SubscribeBody,
    responses((status = 200, description = "The user's subscription", body = Envelope<Subscription>)),
)]
#[put("/users/{user_id}/subscription")]
pub async fn subscribe(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    path: web::Path<UserId>,
    body: ApiJson<SubscribeBody>,
) -> ApiResult {
    let body = body.into_inner();
    let scope = admin.scope(&state.db);
    let user_id = path.into_inner();
    let subscribed = db::plans::subscribe(scope, user_id, body.plan_id, body.status).await?;
    cached::invalidate(&state, subscription_keys(user_id, scope.tenant_id())).await;
    Ok(ok(Subscription::from(subscribed)))
}

/// A user's subscription, `null` when it has none (tenant admin, or the user itself).
#[utoipa::path(
    tag = "plans",
    params(("user_id" = UserId, Path, description = "The user's id")),
    responses((status = 200, description = "The user's subscription, or `null`", body = Envelope<Option<Subscription>>)),
)]
#[get("/users/{user_id}/subscription")]
pub async fn subscription(
    state: web::Data<AppState>,
    user: TenantUser,
    path: web::Path<UserId>,
) -> ApiResult {
    let user_id = path.into_inner();
    if user.role() != Role::TenantAdmin && user.user_id() != user_id {
        return Err(ApiError::forbidden(
            "only a tenant admin or the user itself may read a subscription",
        ));
    }
    db::plans::require_user(user.scope(&state.db), user_id).await?;
    Ok(ok(subscription_of(&state, &user, user_id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OverridesBody {
    /// Quota name to limit (`null`: unlimited); a quota left out keeps the plan's limit.
    #[serde(default)]
    #[schema(value_type = BTreeMap<Quota, Option<i64>>)]
    quotas: Map<String, Value>,
    /// Feature name to on or off; a feature left out keeps the plan's choice.
    #[serde(default)]
    #[schema(value_type = BTreeMap<Feature, bool>)]
    features: Map<String, Value>,
}

fn parse_overrides(body: OverridesBody) -> Result<db::plans::Overrides, ApiError> {
    let quotas = parse_quotas(&body.quotas)?;
    if let Some(unknown) = unknown_names(body.features.keys(), |n| Feature::from_name(n).is_some())
    {
        return Err(unknown_features(unknown));
    }
    let mut features = BTreeMap::new();
    for (name, value) in &body.features {
        let (Some(feature), Some(enabled)) = (Feature::from_name(name), value.as_bool()) else {
            let field = format!("features.{name}");
            return Err(ApiError::validation(
                &field,
                format!("`{field}` must be true or false"),
            ));
        };
        features.insert(feature, enabled);
    }
    Ok(db::plans::Overrides { quotas, features })
}

/// Replaces a user's overrides of its plan's quotas and features (tenant admin); empty objects
/// clear them.
#[utoipa::path(
    tag = "plans",
    params(("user_id" = UserId, Path, description = "The user's id")),
    request_body = OverridesBody,
    responses((status = 200, description = "The overrides as stored", body = Envelope<Overrides>)),
)]
#[put("/users/{user_id}/overrides")]
pub async fn set_overrides(
    state: web::Data<AppState>,
    admin: TenantAdmin,
    path: web::Path<UserId>,
    body: ApiJson<OverridesBody>,
) -> ApiResult {
    let overrides = parse_overrides(body.into_inner())?;
    let scope = admin.scope(&state.db);
    let user_id = path.into_inner();
    let stored = db::plans::set_overrides(scope, user_id, overrides).await?;
    let tenant_id = scope.tenant_id();
    let keys: [KeyRef; 2] = [
        tenant_key::<UserQuotasKey>(&user_id, tenant_id).into(),
        tenant_key::<UserFeaturesKey>(&user_id, tenant_id).into(),
    ];
    cached::invalidate(&state, keys).await;
    Ok(ok(Overrides::from(stored)))
}

/// The caller's subscription, `null` when it has none (any tenant user).
#[utoipa::path(
    tag = "plans",
    responses((status = 200, description = "The caller's subscription, or `null`", body = Envelope<Option<Subscription>>)),
)]
#[get("/me/subscription")]
pub async fn my_subscription(state: web::Data<AppState>, user: TenantUser) -> ApiResult {
    Ok(ok(subscription_of(&state, &user, user.user_id()).await?))
}

/// One quota of the caller: its limit and its account's usage.
#[derive(Serialize, utoipa::ToSchema)]
struct QuotaUsage {
    /// `null`: unlimited.
    limit: Option<i64>,
    used: i64,
}

/// Every quota, by name: the caller's limit and its account's usage.
// The OpenAPI description of the answer of `my_quotas`, which builds it as a map from
// `Quota::ALL` (a test checks the two agree).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Describes a map `my_quotas` builds.
struct QuotaUsages {
    max_inboxes: QuotaUsage,
    max_contacts: QuotaUsage,
    max_campaigns: QuotaUsage,
    messages_per_day: QuotaUsage,
}

/// Per quota, the caller's limit (`null`: unlimited) and its account's usage now (any tenant
/// user).
#[utoipa::path(
    tag = "plans",
    responses((status = 200, description = "Every quota's limit and usage", body = Envelope<QuotaUsages>)),
)]
#[get("/me/quotas")]
pub async fn my_quotas(state: web::Data<AppState>, user: TenantUser) -> ApiResult {
    let limits = limits_of(&state, &user, user.user_id()).await?;
    let account_id = user.account_id()?;
    let usage = db::quotas::usage_of_all(user.scope(&state.db), account_id).await?;
    let quotas: BTreeMap<&'static str, QuotaUsage> = usage
        .into_iter()
        .map(|(quota, used)| {
            let limit = limits.get(quota);
            (quota.as_str(), QuotaUsage { limit, used })
        })
        .collect();
    Ok(ok(quotas))
}

/// Every feature, by name: whether the caller has it.
// The OpenAPI description of the answer of `my_features`, which builds it as a map from
// `Feature::ALL` (a test checks the two agree).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Describes a map `my_features` builds.
struct FeatureFlags {
    bulk_campaigns: bool,
    webhooks: bool,
    reports: bool,
    api_access: bool,
}

/// Every feature, and whether the caller has it (any tenant user).
#[utoipa::path(
    tag = "plans",
    responses((status = 200, description = "Every feature, on or off", body = Envelope<FeatureFlags>)),
)]
#[get("/me/features")]
pub async fn my_features(state: web::Data<AppState>, user: TenantUser) -> ApiResult {
    let enabled = features_of(&state, &user, user.user_id()).await?;
    let features: BTreeMap<&'static str, bool> = Feature::ALL
        .into_iter()
        .map(|feature| (feature.as_str(), enabled.contains(&feature)))
        .collect();
    Ok(ok(features))
}

#[cfg(test)]
mod tests {
    use utoipa::PartialSchema;
    use utoipa::openapi::{RefOr, Schema};

    use super::*;

    fn property_names(schema: RefOr<Schema>) -> Vec<String> {
        match schema {
            RefOr::T(Schema::Object(object)) => object.properties.into_keys().collect(),
            _ => panic!("not an object schema"),
        }
    }

    #[test]
    fn the_documented_maps_name_every_quota_and_feature() {
        let quotas: Vec<String> = Quota::ALL.iter().map(|q| q.as_str().to_owned()).collect();
        assert_eq!(property_names(QuotaUsages::schema()), quotas);
        let features: Vec<String> = Feature::ALL.iter().map(|f| f.as_str().to_owned()).collect();
        assert_eq!(property_names(FeatureFlags::schema()), features);
    }
}
