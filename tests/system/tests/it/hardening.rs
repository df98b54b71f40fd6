//! Transport, caching and credential lifetimes (issue 23, item 10): HSTS when served over https,
//! `Cache-Control: no-store` on authenticated API answers (304s included) and not on public
//! ones, `/metrics` behind a token or on its own listener, browser sessions ended after
//! `SESSION_IDLE_TIMEOUT_MINUTES` unused, and API keys that expire, also through the cache.

use std::time::Duration;

use reqwest::header::{CACHE_CONTROL, SET_COOKIE, STRICT_TRANSPORT_SECURITY};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use system_tests::{TestSystem, eventually};

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn hsts_over_https_and_no_store_on_authenticated_answers() {
    let mut system = TestSystem::spawn_gateway_only(&[]).await;
    let tenant = system.tenant_with_admin("headers").await;
    let http = system.http.clone();
    let get = |base: String, path: &'static str, key: Option<String>| {
        let mut request = http.get(format!("{base}{path}"));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.header("x-forwarded-proto", "https").send()
    };

    // Plain http, no trusted proxy: a client's `X-Forwarded-Proto` proves nothing, no HSTS.
    let base = system.base_url.clone();
    let me = get(base.clone(), "/api/me", Some(tenant.key.clone()))
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(header(&me, CACHE_CONTROL).as_deref(), Some("no-store"));
    assert_eq!(header(&me, STRICT_TRANSPORT_SECURITY), None);
    // A refused key is about one caller too.
    let refused = get(base.clone(), "/api/me", Some("wzm_nope".into()))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&refused, CACHE_CONTROL).as_deref(), Some("no-store"));
    // Public answers keep their own caching: no `no-store`.
    let public = get(base.clone(), "/api/public/branding?slug=headers", None)
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::OK);
    assert_ne!(header(&public, CACHE_CONTROL).as_deref(), Some("no-store"));
    let health = get(base.clone(), "/healthz", None).await.unwrap();
    assert_eq!(header(&health, CACHE_CONTROL), None);

    // A conditional GET still answers 304, and the 304 says `no-store` too.
    let etag = header(&me, reqwest::header::ETAG).expect("an ETag");
    let again = system
        .http
        .get(format!("{base}/api/me"))
        .bearer_auth(&tenant.key)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&again, CACHE_CONTROL).as_deref(), Some("no-store"));

    // Behind a trusted proxy, its `X-Forwarded-Proto: https` is believed.
    let proxied = system.start_gateway(&[("TRUST_PROXY_HOPS", "1")]).await;
    let answer = get(proxied.clone(), "/api/me", Some(tenant.key.clone()))
        .await
        .unwrap();
    assert_eq!(
        header(&answer, STRICT_TRANSPORT_SECURITY).as_deref(),
        Some("max-age=31536000; includeSubDomains")
    );
    let plain = system
        .http
        .get(format!("{proxied}/healthz"))
        .header("x-forwarded-proto", "http")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&plain, STRICT_TRANSPORT_SECURITY), None);

    // A gateway whose public address is https: every answer, public ones included.
    let public_https = system
        .start_gateway(&[("PUBLIC_URL", "https://manager.example")])
        .await;
    for path in ["/healthz", "/api/public/branding?slug=headers", "/api/me"] {
        let answer = get(public_https.clone(), path, Some(tenant.key.clone()))
            .await
            .unwrap();
        assert_eq!(
            header(&answer, STRICT_TRANSPORT_SECURITY).as_deref(),
            Some("max-age=31536000; includeSubDomains"),
            "{path}"
        );
    }
    system.stop().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}

#[tokio::test]
async fn metrics_behind_a_token_or_on_their_own_listener() {
    let mut system = TestSystem::spawn_gateway_only(&[]).await;
    // The default: open on the API's port, as before.
    let open = system
        .http
        .get(format!("{}/metrics", system.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), StatusCode::OK);

    let guarded = system
        .start_gateway(&[("METRICS_TOKEN", "scrape-secret")])
        .await;
    for token in [None, Some("wrong")] {
        let mut request = system.http.get(format!("{guarded}/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["code"], "unauthenticated", "{body}");
    }
    let scraped = system
        .http
        .get(format!("{guarded}/metrics"))
        .bearer_auth("scrape-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(
        scraped
            .text()
            .await
            .unwrap()
            .contains("http_requests_total")
    );

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let moved = system
        .start_gateway(&[("METRICS_LISTEN", listen.as_str())])
        .await;
    let on_api = system
        .http
        .get(format!("{moved}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(on_api.status(), StatusCode::NOT_FOUND);
    let probes = system
        .http
        .get(format!("{moved}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(probes.status(), StatusCode::OK, "the probes stay");
    let own = system
        .http
        .get(format!("http://{listen}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    assert!(own.text().await.unwrap().contains("# TYPE"));
    system.stop().await;
}

async fn sql(system: &TestSystem, statement: &str) -> Vec<sea_orm::QueryResult> {
    let connection = db::connect(&system.db.url, 1).await.unwrap();
    let rows = connection
        .query_all_raw(Statement::from_string(DbBackend::Postgres, statement))
        .await
        .unwrap();
    connection.close().await.unwrap();
    rows
}

async fn last_seen(system: &TestSystem, session_id: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    sql(
        system,
        &format!("SELECT last_seen_at FROM sessions WHERE id = '{session_id}'"),
    )
    .await
    .first()
    .map(|row| row.try_get("", "last_seen_at").unwrap())
}

#[tokio::test]
async fn a_session_left_idle_is_refused_and_deleted() {
    let system = TestSystem::spawn_gateway_only(&[("SESSION_IDLE_TIMEOUT_MINUTES", "30")]).await;
    let tenant = system.tenant_with_admin("idle").await;
    let invitation = system
        .invitation(&tenant, "idle@idle.example", "user")
        .await;
    let accepted = system
        .http
        .post(format!("{}/api/auth/invitation/accept", system.base_url))
        .json(&json!({"token": invitation, "password": "a long enough passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::CREATED);
    let session = accepted
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix("wm_session="))
        .map(|value| value.split(';').next().unwrap().to_owned())
        .expect("a session cookie");
    let me = || {
        system
            .http
            .get(format!("{}/api/auth/session", system.base_url))
            .header("cookie", format!("wm_session={session}"))
            .send()
    };
    let answer = me().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(header(&answer, CACHE_CONTROL).as_deref(), Some("no-store"));
    let id = sql(&system, "SELECT id::text AS id FROM sessions")
        .await
        .first()
        .map(|row| row.try_get::<String>("", "id").unwrap())
        .expect("the session");

    // Used often, it is written at most once a minute.
    let seen = last_seen(&system, &id).await.unwrap();
    for _ in 0..3 {
        assert_eq!(me().await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(last_seen(&system, &id).await.unwrap(), seen);

    // Unused for 20 minutes (within the timeout): it works, and is marked seen now.
    sql(
        &system,
        &format!(
            "UPDATE sessions SET last_seen_at = now() - interval '20 minutes' WHERE id = '{id}'"
        ),
    )
    .await;
    assert_eq!(me().await.unwrap().status(), StatusCode::OK);
    let touched = last_seen(&system, &id).await.unwrap();
    assert!(chrono::Utc::now() - touched < chrono::Duration::minutes(1));

    // Unused for 31 minutes: refused and deleted.
    sql(
        &system,
        &format!(
            "UPDATE sessions SET last_seen_at = now() - interval '31 minutes' WHERE id = '{id}'"
        ),
    )
    .await;
    let refused = me().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "unauthenticated", "{body}");
    assert_eq!(
        last_seen(&system, &id).await,
        None,
        "the session is deleted"
    );
    system.stop().await;
}

#[tokio::test]
async fn api_keys_expire_everywhere_even_when_cached() {
    let system = TestSystem::spawn_gateway_only(&[]).await;
    let tenant = system.tenant_with_admin("expiry").await;
    let keys_path = format!("/api/users/{}/api-keys", tenant.user_id);
    let list = async || {
        let (status, body) = system
            .call(
                Method::GET,
                &format!("{keys_path}?fields=id,name,expiresAt,active,revokedAt"),
                Some(&tenant.key),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["data"].as_array().unwrap().clone()
    };
    let before = list().await;
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0]["expiresAt"], Value::Null);
    assert_eq!(before[0]["active"], true);

    // Bad expiries: 422 on `expiresAt`, no key made.
    let now = chrono::Utc::now();
    for expires_at in [
        json!((now - chrono::Duration::minutes(1)).to_rfc3339()),
        json!((now + chrono::Duration::days(731)).to_rfc3339()),
        json!("next tuesday"),
        json!(12),
    ] {
        let (status, body) = system
            .call(
                Method::POST,
                &keys_path,
                Some(&tenant.key),
                Some(json!({"name": "bad", "expiresAt": expires_at})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["field"], "expiresAt", "{body}");
    }
    assert_eq!(list().await, before);

    // A key that expires in three seconds works until then, through the cache too.
    let expires_at = chrono::Utc::now() + chrono::Duration::seconds(3);
    let (status, body) = system
        .call(
            Method::POST,
            &keys_path,
            Some(&tenant.key),
            Some(json!({"name": "brief", "expiresAt": expires_at.to_rfc3339()})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let brief = body["data"]["key"].as_str().unwrap().to_owned();
    let stored: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(body["data"]["expiresAt"].clone()).unwrap();
    assert!((stored - expires_at).num_milliseconds().abs() < 1000);
    let listed = list().await;
    let entry = listed.iter().find(|k| k["name"] == "brief").unwrap();
    assert_eq!(entry["active"], true, "{entry}");
    assert!(entry["expiresAt"].is_string(), "{entry}");
    let (status, body) = system
        .call(Method::GET, "/api/me", Some(&brief), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The principal is now cached (in process and in Redis) for minutes; the key's expiry
    // still ends it, on every endpoint.
    eventually("the key to expire", Duration::from_secs(15), async || {
        let (status, body) = system
            .call(Method::GET, "/api/me", Some(&brief), None)
            .await;
        if status == StatusCode::UNAUTHORIZED {
            Ok(body)
        } else {
            Err(format!("{status} {body}"))
        }
    })
    .await;
    for path in ["/api/me", "/api/campaigns", "/api/inboxes"] {
        let (status, body) = system.call(Method::GET, path, Some(&brief), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert_eq!(body["code"], "unauthenticated", "{body}");
    }
    let listed = list().await;
    let entry = listed.iter().find(|k| k["name"] == "brief").unwrap();
    assert_eq!(entry["active"], false, "{entry}");
    system.stop().await;
}
