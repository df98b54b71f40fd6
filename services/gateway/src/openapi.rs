//! The API's OpenAPI 3.1 document, generated from the handlers: each route module mounts its
//! handlers through `utoipa-actix-web`, whose `#[utoipa::path]` annotations sit on the
//! handlers themselves, so a route cannot exist without its entry (see [`crate::routes::api`]).
//!
//! What every operation shares is added here once, on the generated JSON, instead of being
//! repeated on 60 handlers ([`apply_conventions`]):
//! - the bearer API key as the default security (public operations opt out with `security(())`);
//! - a `default` response with the error envelope, and a `429` (the rate limiter's body or a
//!   quota's error envelope);
//! - `304 Not Modified` on every `GET` (the ETag middleware answers `If-None-Match`);
//! - the headers the pipeline adds to every answer (`crate::security`): `Cache-Control:
//!   no-store` on an authenticated request's, `Strict-Transport-Security` over https;
//! - list items whose fields are all optional (`?fields=` picks any subset);
//! - operation ids `<tag>.<handler>`, unique across modules.

use actix_web::App;
use serde_json::{Map, Value, json};
use utoipa::{OpenApi, ToSchema};
use utoipa_actix_web::AppExt;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/openapi.json";
/// The interactive reference (Swagger UI, served from the binary).
pub const REFERENCE_PATH: &str = "/api/docs/";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "WUZAPI Manager API",
        description = "Multi-tenant WhatsApp campaigns through WUZAPI servers. Every answer is \
            `{\"success\":true,\"data\":...}`, every list is cursor-paginated \
            (`limit`, `cursor`, `fields`) and every error is `{\"success\":false,\"code\":...,\"error\":...}`. \
            Authenticate with `Authorization: Bearer <API key>` (programs), or sign in at `POST /api/auth/login` \
            for a browser session (cookies, plus `X-CSRF-Token` on requests that change something).",
    ),
    // TextEncoding: named only by a query parameter, which does not register its schema.
    components(schemas(common::ErrorBody, RateLimitExceeded, common::imports::TextEncoding)),
    tags(
        (name = "auth", description = "Sign-in for people: sessions, passwords, invitations"),
        (name = "tenants", description = "Tenants, users and API keys"),
        (name = "branding", description = "A tenant's look"),
        (name = "stripe", description = "A tenant's Stripe account and its webhooks"),
        (name = "plans", description = "Subscription plans, quotas and features"),
        (name = "access", description = "Account roles, agents and teams"),
        (name = "inboxes", description = "WhatsApp numbers (WUZAPI users)"),
        (name = "contacts", description = "The people campaigns are sent to"),
        (name = "consent", description = "Opt-out and opt-in keywords, and opted-out numbers"),
        (name = "campaigns", description = "Campaigns and their recipients"),
        (name = "reports", description = "Delivery, contacts, usage and opt-out reports as CSV or JSON files"),
        (name = "jobs", description = "Queues, workers, dead-lettered jobs"),
        (name = "notifications", description = "The caller's in-app notifications and their live stream"),
        (name = "push", description = "Web Push subscriptions of the caller's browsers"),
        (name = "webhooks", description = "A tenant's webhook endpoints, deliveries and replays"),
        (name = "admin", description = "Platform operations"),
    )
)]
struct ApiDoc;

/// The guide's 429 body from the tenant rate limiter.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)] // Describes a body the limiter writes as text.
pub struct RateLimitExceeded {
    /// Always `false`.
    success: bool,
    /// `Rate limit exceeded`.
    error: String,
    /// Seconds until a request would pass.
    retry_after: u64,
}

/// The document as served: generated from the routes, then [`apply_conventions`].
pub fn document() -> Value {
    let (_, paths) = App::new()
        .into_utoipa_app()
        .service(crate::routes::api())
        .split_for_parts();
    let mut doc = ApiDoc::openapi();
    doc.merge(paths);
    let mut doc = serde_json::to_value(doc).expect("an OpenAPI document serialises");
    apply_conventions(&mut doc);
    // Served by the reference page's own route, outside the annotated handlers.
    doc["paths"][DOCUMENT_PATH] = json!({"get": {
        "tags": ["meta"],
        "operationId": "meta.document",
        "summary": "This document",
        "security": [{}],
        "responses": {
            "200": {"description": "The OpenAPI 3.1 document", "content": {"application/json": {"schema": {"type": "object"}}}},
            "304": {"$ref": "#/components/responses/NotModified"},
        },
    }});
    doc
}

/// Adds what every operation shares (see the module's documentation).
pub fn apply_conventions(doc: &mut Value) {
    let Some(root) = doc.as_object_mut() else {
        return;
    };
    let components = object(root, "components");
    add_shared_components(components);
    let pipeline_headers = json!({
        "Cache-Control": {"$ref": "#/components/headers/CacheControl"},
        "Strict-Transport-Security": {"$ref": "#/components/headers/StrictTransportSecurity"},
    });
    // On the shared responses here, and on each operation's own ones below.
    for response in object(components, "responses").values_mut() {
        add_headers(response, &pipeline_headers);
    }
    root.insert("security".into(), json!([{"apiKey": []}]));

    if let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, operation) in item.iter_mut() {
                let Some(operation) = operation.as_object_mut() else {
                    continue;
                };
                apply_to_operation(method, operation, &pipeline_headers);
            }
        }
    }
    relax_page_items(root);
}

/// The security scheme, the shared responses and the pipeline's headers.
fn add_shared_components(components: &mut Map<String, Value>) {
    object(components, "securitySchemes").insert(
        "apiKey".into(),
        json!({
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (`wzm_...`), created by a tenant admin or the superadmin.",
        }),
    );
    object(components, "responses").extend([
        (
            "Error".to_owned(),
            json!({
                "description": "An error: the status and `code` say which, `error` says it in words, `field` names the culprit when there is one.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
            }),
        ),
        (
            "TooManyRequests".to_owned(),
            json!({
                "description": "The tenant's rate limit (the limiter's body, with `Retry-After`), a quota (the error envelope, code `quota_exceeded`), or the client address's budget of requests without a valid credential (the error envelope, code `rate_limited`, with `Retry-After`).",
                "headers": {
                    "Retry-After": {"description": "Seconds until a request would pass.", "schema": {"type": "integer"}},
                },
                "content": {"application/json": {"schema": {"anyOf": [
                    {"$ref": "#/components/schemas/RateLimitExceeded"},
                    {"$ref": "#/components/schemas/ErrorBody"},
                ]}}},
            }),
        ),
        (
            "NotModified".to_owned(),
            json!({"description": "The representation matches `If-None-Match`; no body."}),
        ),
    ]);
    object(components, "headers").extend([
        (
            "CacheControl".to_owned(),
            json!({
                "description": "`no-store` on every answer to a request that carried credentials (an API key or the session cookie); public answers keep their own caching.",
                "schema": {"type": "string"},
            }),
        ),
        (
            "StrictTransportSecurity".to_owned(),
            json!({
                "description": "`max-age=31536000; includeSubDomains` when the request was served over https.",
                "schema": {"type": "string"},
            }),
        ),
    ]);
}

/// An operation's id prefixed with its tag, and the responses every operation may give (304
/// for a GET, 429, the error envelope), each with the pipeline's headers.
fn apply_to_operation(method: &str, operation: &mut Map<String, Value>, pipeline_headers: &Value) {
    let tag = operation
        .get("tags")
        .and_then(|tags| tags[0].as_str())
        .unwrap_or("api")
        .to_owned();
    if let Some(id) = operation.get("operationId").and_then(Value::as_str) {
        let id = format!("{tag}.{id}");
        operation.insert("operationId".into(), json!(id));
    }
    let responses = object(operation, "responses");
    if method == "get" {
        responses
            .entry("304")
            .or_insert_with(|| reference("NotModified"));
    }
    responses
        .entry("429")
        .or_insert_with(|| reference("TooManyRequests"));
    responses
        .entry("default")
        .or_insert_with(|| reference("Error"));
    for response in responses.values_mut() {
        add_headers(response, pipeline_headers);
    }
}

/// A page's items hold the fields `?fields=` chose: none is required. (Generic schemas are
/// inlined, so each `Page_<Item>` has its own copy of the item to relax.)
fn relax_page_items(root: &mut Map<String, Value>) {
    let schemas = object(object(root, "components"), "schemas");
    for (_, page) in schemas
        .iter_mut()
        .filter(|(name, _)| name.starts_with("Page_"))
    {
        if let Some(item) = page
            .pointer_mut("/properties/data/items")
            .and_then(Value::as_object_mut)
        {
            item.remove("required");
            item.insert(
                "description".into(),
                json!("The list's default fields, or those `?fields=` chose."),
            );
        }
    }
}

/// Documents `headers` on an inline response (a `$ref` one gets them where it is defined).
fn add_headers(response: &mut Value, headers: &Value) {
    let (Some(response), Some(headers)) = (response.as_object_mut(), headers.as_object()) else {
        return;
    };
    if response.contains_key("$ref") {
        return;
    }
    let documented = object(response, "headers");
    for (name, header) in headers {
        documented
            .entry(name.clone())
            .or_insert_with(|| header.clone());
    }
}

fn reference(response: &str) -> Value {
    json!({"$ref": format!("#/components/responses/{response}")})
}

/// The object at `map[key]`, created if missing.
fn object<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("just made an object")
}

#[cfg(test)]
mod tests {
    /// Every `$ref` of the document names something it defines: a reference to a schema no
    /// operation registers (a type used only by a query parameter) breaks the web app's type
    /// generator and any client generator.
    #[test]
    fn every_reference_resolves() {
        let doc = super::document();
        let text = doc.to_string();
        let mut missing = Vec::new();
        for piece in text.split("\"#/components/").skip(1) {
            let target = &piece[..piece.find('"').expect("a closed string")];
            let (section, name) = target.split_once('/').expect("section/name");
            if doc["components"][section].get(name).is_none() {
                missing.push(target.to_owned());
            }
        }
        missing.sort_unstable();
        missing.dedup();
        assert!(missing.is_empty(), "unresolved references: {missing:?}");
    }

    /// Generated clients name a function after each operation id: two operations with one id
    /// get one type, and one of them the other's.
    #[test]
    fn operation_ids_are_unique() {
        let doc = super::document();
        let mut seen = std::collections::BTreeMap::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("path item") {
                if let Some(id) = operation["operationId"].as_str()
                    && let Some(first) = seen.insert(id.to_owned(), format!("{method} {path}"))
                {
                    panic!("`{id}` names both {first} and {method} {path}");
                }
            }
        }
    }

    /// The web app generates its API types from its copy of the document (`web/openapi.json`),
    /// so the copy must be this document.
    #[test]
    fn the_web_apps_copy_of_the_document_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/openapi.json");
        let text = std::fs::read_to_string(path).expect("web/openapi.json");
        let copy: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert!(
            copy == super::document(),
            "web/openapi.json is not the gateway's document: run \
             `cargo run -q -p gateway -- openapi > web/openapi.json`, then `npm run gen:api` in web/"
        );
    }
}
