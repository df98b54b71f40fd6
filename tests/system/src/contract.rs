//! Every answer the system tests get from the gateway is checked against its OpenAPI document
//! ([`gateway::openapi::document`], the one it serves): the route must be documented (an
//! undocumented one may only answer the catch-all `404 no such endpoint`), the status must be
//! among the operation's responses (or its `default`), and a JSON body must validate against
//! that response's schema. [`crate::TestSystem::call`] runs [`check`] on every answer.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The message of the gateway's catch-all 404 (`default_service`).
const NO_SUCH_ENDPOINT: &str = "no such endpoint";

static DOCUMENT: LazyLock<Value> = LazyLock::new(gateway::openapi::document);

/// Compiled response schemas by operation and status, shared by the whole test binary.
static VALIDATORS: LazyLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> =
    LazyLock::new(Mutex::default);

/// The document the checks use.
pub fn document() -> &'static Value {
    &DOCUMENT
}

/// The documented path template `path` (no query) matches, with the operation for `method`.
pub fn operation(method: &Method, path: &str) -> Option<(&'static str, &'static Value)> {
    let paths = DOCUMENT["paths"].as_object()?;
    let method = method.as_str().to_ascii_lowercase();
    let path = path.split('?').next().unwrap_or(path);
    // As the router does: a literal segment wins over a parameter (`/jobs/dead/replay` is not
    // `/jobs/{job_id}/replay`).
    paths
        .iter()
        .filter_map(|(template, item)| {
            let operation = item.get(&method)?;
            template_matches(template, path).then_some((template.as_str(), operation))
        })
        .min_by_key(|(template, _)| template.matches('{').count())
}

/// Whether `path` fits `template`, where a `{name}` segment takes any one non-empty segment.
fn template_matches(template: &str, path: &str) -> bool {
    let mut want = template.split('/');
    let mut have = path.split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (Some(w), Some(h)) if w.starts_with('{') && w.ends_with('}') => {
                if h.is_empty() {
                    return false;
                }
            }
            (Some(w), Some(h)) if w == h => {}
            _ => return false,
        }
    }
}

/// Checks one answer; the `Err` says what contradicts the document.
///
/// Only the API (`/api/...`) is described; the probes and metrics are not checked.
pub fn check(method: &Method, path: &str, status: StatusCode, body: &str) -> Result<(), String> {
    if !path.starts_with("/api/") {
        return Ok(());
    }
    let what = format!("{method} {path} -> {status}");
    let Some((template, operation)) = operation(method, path) else {
        // Not a documented route: then it must not be a route at all.
        let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        if status == StatusCode::NOT_FOUND && json["error"] == NO_SUCH_ENDPOINT {
            return Ok(());
        }
        return Err(format!(
            "{what}: the route answers but is not in the OpenAPI document: {body}"
        ));
    };
    let responses = &operation["responses"];
    let code = status.as_u16().to_string();
    let range = format!("{}XX", status.as_u16() / 100);
    let Some((key, response)) = [code.as_str(), range.as_str(), "default"]
        .into_iter()
        .find_map(|key| responses.get(key).map(|r| (key, r)))
    else {
        return Err(format!(
            "{what}: the status is not documented for {template}: {body}"
        ));
    };
    let response = resolve(response);
    let Some(schema) = response.pointer("/content/application~1json/schema") else {
        return if body.is_empty() || status == StatusCode::NOT_MODIFIED {
            Ok(())
        } else {
            Err(format!(
                "{what}: documented without a body, but got: {body}"
            ))
        };
    };
    let instance: Value = serde_json::from_str(body)
        .map_err(|e| format!("{what}: documented as JSON, but the body is not ({e}): {body}"))?;
    let validator = validator(&format!("{method} {template} {key}"), schema)?;
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{what}: the body contradicts the schema of {template} {key}: {}\nbody: {body}",
            errors.join("; ")
        ))
    }
}

/// A response object, following one `$ref` into `components`.
fn resolve(response: &'static Value) -> &'static Value {
    response["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| DOCUMENT.pointer(pointer))
        .unwrap_or(response)
}

fn validator(key: &str, schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
    let mut cache = VALIDATORS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(validator) = cache.get(key) {
        return Ok(validator.clone());
    }
    // The schema's `#/components/...` references resolve against this root, which carries the
    // document's components next to the schema.
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [schema],
        "components": DOCUMENT["components"],
    });
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .map_err(|e| format!("{key}: the schema does not compile: {e}"))?;
    let validator = Arc::new(validator);
    cache.insert(key.to_owned(), validator.clone());
    Ok(validator)
}

#[cfg(test)]
mod tests {
    use reqwest::{Method, StatusCode};

    use super::{check, template_matches};

    /// The checker is not vacuous: it refuses what contradicts the document.
    #[test]
    fn answers_that_contradict_the_document_are_refused() {
        let contact = r#"{"success":true,"data":{"id":"0190f7a4-5d5e-7000-8000-000000000001",
            "accountId":"0190f7a4-5d5e-7000-8000-000000000002","phone":"5511999990001",
            "name":"Ana","fields":{},"createdAt":"2026-11-26T10:00:00Z",
            "updatedAt":"2026-11-26T10:00:00Z"}}"#;
        let created = StatusCode::CREATED;
        check(&Method::POST, "/api/contacts", created, contact).expect("as documented");
        // A missing field, a wrong type, a status the operation does not have, a route that
        // answers without being documented, an error that is not the envelope.
        let without_phone = contact.replace(r#""phone":"5511999990001","#, "");
        assert!(check(&Method::POST, "/api/contacts", created, &without_phone).is_err());
        let numeric_name = contact.replace(r#""Ana""#, "7");
        assert!(check(&Method::POST, "/api/contacts", created, &numeric_name).is_err());
        // 200 falls to `default`, the error envelope, which a contact is not.
        assert!(check(&Method::POST, "/api/contacts", StatusCode::OK, contact).is_err());
        assert!(check(&Method::GET, "/api/nowhere", StatusCode::OK, "{}").is_err());
        assert!(
            check(
                &Method::GET,
                "/api/contacts",
                StatusCode::BAD_REQUEST,
                r#"{"oops":1}"#
            )
            .is_err()
        );
        let catch_all = r#"{"success":false,"code":"not_found","error":"no such endpoint"}"#;
        check(
            &Method::GET,
            "/api/nowhere",
            StatusCode::NOT_FOUND,
            catch_all,
        )
        .expect("catch-all");
    }

    #[test]
    fn templates_take_one_segment_per_parameter() {
        assert!(template_matches("/api/plans/{plan_id}", "/api/plans/42"));
        assert!(!template_matches("/api/plans/{plan_id}", "/api/plans/"));
        assert!(!template_matches("/api/plans/{plan_id}", "/api/plans/4/x"));
        assert!(template_matches("/api/jobs/dead", "/api/jobs/dead"));
        assert!(!template_matches("/api/jobs/dead", "/api/jobs/deadx"));
    }
}
