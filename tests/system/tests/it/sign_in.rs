//! Sign-in for people: invitations a tenant admin creates, accepted once with a password;
//! email and password sign-in into a browser session (HttpOnly, SameSite cookies) that works
//! on the API like a key, with a CSRF token on every request that changes something; sign-out,
//! revocation by the user, an admin or a password change; attempts limited per account and
//! per address. Each tenant sees and revokes only its own users' invitations and sessions.

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::{TenantHandle, TestSystem};

/// A browser: the cookies the gateway set, sent back on each request, and the CSRF token.
#[derive(Default, Clone)]
struct Browser {
    session: Option<String>,
    csrf: Option<String>,
    /// `wm_device`: set at each sign-in, it makes this browser known to the account.
    device: Option<String>,
    /// Sent as `X-Forwarded-For` (for a gateway with `TRUST_PROXY_HOPS=1`): where this browser
    /// seems to be.
    address: Option<String>,
}

/// One `Set-Cookie` header: its value and its attributes, lower-cased.
fn parse_cookie(header: &str) -> (String, String, Vec<String>) {
    let mut parts = header.split(';').map(str::trim);
    let (name, value) = parts.next().unwrap().split_once('=').unwrap();
    (
        name.to_owned(),
        value.to_owned(),
        parts.map(|a| a.to_ascii_lowercase()).collect(),
    )
}

impl Browser {
    /// A request as the web app sends it: cookies, and `X-CSRF-Token` when `csrf` says so.
    /// Checks the answer against the OpenAPI document and keeps the cookies it sets.
    async fn send(
        &mut self,
        system: &TestSystem,
        method: Method,
        path: &str,
        csrf: Csrf,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = system
            .http
            .request(method.clone(), format!("{}{path}", system.base_url));
        let mut cookies = Vec::new();
        if let Some(session) = &self.session {
            cookies.push(format!("wm_session={session}"));
        }
        if let Some(token) = &self.csrf {
            cookies.push(format!("wm_csrf={token}"));
        }
        if let Some(device) = &self.device {
            cookies.push(format!("wm_device={device}"));
        }
        if let Some(address) = &self.address {
            request = request.header("x-forwarded-for", address);
        }
        if !cookies.is_empty() {
            request = request.header(COOKIE, cookies.join("; "));
        }
        match csrf {
            Csrf::Own => {
                if let Some(token) = &self.csrf {
                    request = request.header("x-csrf-token", token);
                }
            }
            Csrf::Wrong => request = request.header("x-csrf-token", "0".repeat(64)),
            Csrf::Missing => {}
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        for header in response.headers().get_all(SET_COOKIE) {
            let (name, value, attributes) = parse_cookie(header.to_str().unwrap());
            let kept = (!value.is_empty()).then_some(value);
            match name.as_str() {
                "wm_session" => {
                    assert!(attributes.contains(&"httponly".to_owned()), "{header:?}");
                    assert!(
                        attributes.contains(&"samesite=strict".to_owned()),
                        "{header:?}"
                    );
                    assert!(attributes.contains(&"path=/".to_owned()), "{header:?}");
                    self.session = kept;
                }
                "wm_csrf" => {
                    // The app's scripts read it to echo it.
                    assert!(!attributes.contains(&"httponly".to_owned()), "{header:?}");
                    assert!(
                        attributes.contains(&"samesite=strict".to_owned()),
                        "{header:?}"
                    );
                    self.csrf = kept;
                }
                "wm_device" => {
                    assert!(attributes.contains(&"httponly".to_owned()), "{header:?}");
                    assert!(
                        attributes.contains(&"samesite=strict".to_owned()),
                        "{header:?}"
                    );
                    assert!(
                        attributes.contains(&"path=/api/auth".to_owned()),
                        "{header:?}"
                    );
                    self.device = kept;
                }
                other => panic!("unexpected cookie {other}"),
            }
        }
        let text = response.text().await.expect("body");
        if let Err(contradiction) = system_tests::contract::check(&method, path, status, &text) {
            panic!("{contradiction}");
        }
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&mut self, system: &TestSystem, path: &str) -> (StatusCode, Value) {
        self.send(system, Method::GET, path, Csrf::Missing, None)
            .await
    }

    async fn post(&mut self, system: &TestSystem, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(system, Method::POST, path, Csrf::Own, Some(body))
            .await
    }
}

#[derive(Clone, Copy)]
enum Csrf {
    Own,
    Wrong,
    Missing,
}

const PASSWORD: &str = "a long enough password";

/// Invites `email` as `role` into `tenant`; returns the invitation id and its token.
async fn invite(
    system: &TestSystem,
    tenant: &TenantHandle,
    email: &str,
    role: &str,
) -> (String, String) {
    let (status, body) = system
        .call(
            Method::POST,
            "/api/invitations",
            Some(&tenant.key),
            Some(json!({"email": email, "role": role, "name": "Invited"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["data"]["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("wmi_"), "{body}");
    assert_eq!(body["data"]["path"], format!("/invite/{token}"));
    assert_eq!(body["data"]["invitation"]["state"], "pending");
    (
        body["data"]["invitation"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        token,
    )
}

/// Accepts the invitation with `token` in a new browser; returns it signed in.
async fn accept(system: &TestSystem, token: &str) -> (Browser, Value) {
    let mut browser = Browser::default();
    let (status, body) = browser
        .post(
            system,
            "/api/auth/invitation/accept",
            json!({"token": token, "password": PASSWORD, "name": "Ana"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(browser.session.as_deref().unwrap().starts_with("wms_"));
    assert_eq!(
        body["data"]["csrfToken"].as_str(),
        browser.csrf.as_deref(),
        "the CSRF token is in the answer and in its cookie"
    );
    (browser, body)
}

async fn sign_in(
    system: &TestSystem,
    tenant: Option<&str>,
    email: &str,
    password: &str,
) -> (Browser, StatusCode, Value) {
    let mut browser = Browser::default();
    let mut body = json!({"email": email, "password": password});
    if let Some(tenant) = tenant {
        body["tenant"] = json!(tenant);
    }
    let (status, answer) = browser.post(system, "/api/auth/login", body).await;
    (browser, status, answer)
}

async fn contacts_of(system: &TestSystem, tenant: &TenantHandle) -> usize {
    let (status, body) = system
        .call(Method::GET, "/api/contacts", Some(&tenant.key), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn an_invited_person_signs_in_and_uses_the_api_with_a_session_and_its_csrf_token() {
    let system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("acme-sign").await;
    let (_, token) = invite(&system, &tenant, "ana@acme.example", "user").await;

    // The accept page shows what the link is for, without signing anyone in.
    let mut anonymous = Browser::default();
    let (status, body) = anonymous
        .post(&system, "/api/auth/invitation", json!({"token": token}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["email"], "ana@acme.example");
    assert_eq!(body["data"]["tenantSlug"], "acme-sign");
    assert_eq!(body["data"]["role"], "user");
    assert!(anonymous.session.is_none());

    let (mut browser, body) = accept(&system, &token).await;
    assert_eq!(body["data"]["user"]["email"], "ana@acme.example");
    assert_eq!(body["data"]["user"]["name"], "Ana");
    assert_eq!(body["data"]["user"]["role"], "user");
    assert_eq!(body["data"]["user"]["tenantId"], tenant.tenant_id.as_str());

    // The session works on the API like a key.
    let (status, me) = browser.get(&system, "/api/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["data"]["role"], "user");
    let (status, session) = browser.get(&system, "/api/auth/session").await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["data"]["user"]["email"], "ana@acme.example");
    assert!(session["data"]["csrfToken"].is_null());

    // A change without the CSRF token, or with another one, is refused and changes nothing.
    let contact = json!({"phone": "+5511999990001", "name": "Bia"});
    for csrf in [Csrf::Missing, Csrf::Wrong] {
        let (status, body) = browser
            .send(
                &system,
                Method::POST,
                "/api/contacts",
                csrf,
                Some(contact.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["code"], "csrf_failed", "{body}");
        assert!(body["error"].as_str().unwrap().contains("X-CSRF-Token"));
    }
    assert_eq!(contacts_of(&system, &tenant).await, 0);
    let (status, body) = browser.post(&system, "/api/contacts", contact).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(contacts_of(&system, &tenant).await, 1);

    // Sign-out needs the token too, revokes the session and clears the cookies.
    let mut copy = browser.clone();
    let (status, body) = browser
        .send(
            &system,
            Method::POST,
            "/api/auth/logout",
            Csrf::Missing,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = browser
        .send(&system, Method::POST, "/api/auth/logout", Csrf::Own, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(browser.session.is_none() && browser.csrf.is_none());
    // A copy of the old cookie no longer authenticates, and says why.
    let (status, body) = copy.get(&system, "/api/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("expired or was revoked"),
        "{body}"
    );
    // Public endpoints still answer a browser holding a stale cookie.
    let (status, body) = copy
        .get(&system, "/api/public/branding?slug=acme-sign")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Signing in again: email case does not matter; the tenant is named by slug.
    let (mut again, status, body) =
        sign_in(&system, Some("acme-sign"), "ANA@acme.example", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(again.session.is_some());
    let (status, _) = again.get(&system, "/api/me").await;
    assert_eq!(status, StatusCode::OK);

    // A wrong password and an unknown email get the same answer, and no cookie.
    for (tenant_slug, email, password) in [
        (Some("acme-sign"), "ana@acme.example", "a wrong password!"),
        (Some("acme-sign"), "nobody@acme.example", PASSWORD),
        (Some("no-such-tenant"), "ana@acme.example", PASSWORD),
        // The superadmin sign-in (no tenant) does not find tenant users.
        (None, "ana@acme.example", PASSWORD),
    ] {
        let (browser, status, body) = sign_in(&system, tenant_slug, email, password).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["code"], "unauthenticated");
        assert_eq!(body["error"], "wrong email or password");
        assert!(browser.session.is_none());
    }
    // Bad input is named.
    let (_, status, body) = sign_in(&system, Some("acme-sign"), " ", PASSWORD).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "email");
    let (_, status, body) = sign_in(&system, Some("acme-sign"), "ana@acme.example", "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "password");
    system.stop().await;
}

#[tokio::test]
async fn an_invitation_works_once_until_it_expires_or_is_withdrawn() {
    let system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("acme-invite").await;
    let other = system.tenant_with_admin("other-invite").await;

    // A weak password is refused and uses nothing up.
    let (_, token) = invite(&system, &tenant, "bo@acme.example", "tenant_admin").await;
    let mut browser = Browser::default();
    for (password, reason) in [
        ("short", "at least 10 characters"),
        ("bo@acme.example", "not be the email"),
    ] {
        let (status, body) = browser
            .post(
                &system,
                "/api/auth/invitation/accept",
                json!({"token": token, "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["field"], "password");
        assert!(body["error"].as_str().unwrap().contains(reason), "{body}");
    }
    // Accepted once; the second time is 410 and creates no second user.
    let (_, body) = accept(&system, &token).await;
    assert_eq!(body["data"]["user"]["role"], "tenant_admin");
    assert_eq!(body["data"]["user"]["name"], "Ana");
    let (status, body) = Browser::default()
        .post(
            &system,
            "/api/auth/invitation/accept",
            json!({"token": token, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("already used"),
        "{body}"
    );
    // An accepted invitation cannot be withdrawn.
    let (status, body) = system
        .call(
            Method::GET,
            "/api/invitations?fields=id,state",
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let accepted_id = body["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["data"][0]["state"], "accepted");
    let (status, body) = system
        .call(
            Method::DELETE,
            &format!("/api/invitations/{accepted_id}"),
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Inviting an email that is now a user is a conflict.
    let (status, body) = system
        .call(
            Method::POST,
            "/api/invitations",
            Some(&tenant.key),
            Some(json!({"email": "BO@acme.example", "role": "user"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // An expired link: 410 on preview and on accept, no user.
    let (expired_id, expired) = invite(&system, &tenant, "cy@acme.example", "user").await;
    let db = db::connect(&system.db.url, 1).await.unwrap();
    use sea_orm::ConnectionTrait;
    db.execute_unprepared(&format!(
        "UPDATE invitations SET created_at = now() - interval '4 days',
                                expires_at = now() - interval '1 day' WHERE id = '{expired_id}'"
    ))
    .await
    .unwrap();
    for (path, body) in [
        ("/api/auth/invitation", json!({"token": expired})),
        (
            "/api/auth/invitation/accept",
            json!({"token": expired, "password": PASSWORD}),
        ),
    ] {
        let (status, body) = Browser::default().post(&system, path, body).await;
        assert_eq!(status, StatusCode::GONE, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("expired"),
            "{body}"
        );
    }
    let (_, status, _) = sign_in(&system, Some("acme-invite"), "cy@acme.example", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A withdrawn link: 410. Another tenant's admin cannot see or withdraw it.
    let (withdrawn_id, withdrawn) = invite(&system, &tenant, "di@acme.example", "user").await;
    let path = format!("/api/invitations/{withdrawn_id}");
    let (status, body) = system
        .call(Method::DELETE, &path, Some(&other.key), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = system
        .call(Method::DELETE, &path, Some(&tenant.key), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["state"], "revoked");
    let (status, body) = Browser::default()
        .post(
            &system,
            "/api/auth/invitation/accept",
            json!({"token": withdrawn, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("withdrawn"),
        "{body}"
    );
    // An unknown link is 404.
    let (status, body) = Browser::default()
        .post(
            &system,
            "/api/auth/invitation",
            json!({"token": "wmi_nothing"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Each tenant lists its own invitations, with their states.
    let (status, body) = system
        .call(
            Method::GET,
            "/api/invitations?fields=email,state",
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let states: Vec<(String, String)> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["email"].as_str().unwrap().to_owned(),
                i["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("bo@acme.example", "accepted"),
            ("cy@acme.example", "expired"),
            ("di@acme.example", "revoked"),
        ]
        .map(|(e, s)| (e.to_owned(), s.to_owned()))
    );
    let (status, body) = system
        .call(Method::GET, "/api/invitations", Some(&other.key), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 0, "{body}");

    // Only tenant admins invite.
    let (_, user_token) = invite(&system, &tenant, "ed@acme.example", "user").await;
    let (mut user, _) = accept(&system, &user_token).await;
    let (status, body) = user
        .post(
            &system,
            "/api/invitations",
            json!({"email": "fy@acme.example", "role": "user"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "forbidden");
    // And never a superadmin.
    let (status, body) = system
        .call(
            Method::POST,
            "/api/invitations",
            Some(&tenant.key),
            Some(json!({"email": "gi@acme.example", "role": "superadmin"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    db.close().await.unwrap();
    system.stop().await;
}

#[tokio::test]
async fn sessions_are_revoked_by_their_user_an_admin_a_password_change_and_deletion() {
    let system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("acme-revoke").await;
    let other = system.tenant_with_admin("other-revoke").await;
    let (_, token) = invite(&system, &tenant, "ana@acme.example", "user").await;
    let (mut first, body) = accept(&system, &token).await;
    let user_id = body["data"]["user"]["userId"].as_str().unwrap().to_owned();
    let (mut second, status, _) =
        sign_in(&system, Some("acme-revoke"), "ana@acme.example", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);

    // The user sees both sessions, the current one marked, and signs the other out.
    let (status, body) = first.get(&system, "/api/auth/sessions").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sessions = body["data"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{body}");
    let current: Vec<bool> = sessions.iter().map(|s| s["current"] == true).collect();
    assert_eq!(current.iter().filter(|c| **c).count(), 1);
    let second_id = sessions.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Another tenant's admin cannot revoke it (404), and no one else's session is reachable.
    let (status, body) = system
        .call(
            Method::DELETE,
            &format!("/api/auth/sessions/{second_id}"),
            Some(&other.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = first
        .send(
            &system,
            Method::DELETE,
            &format!("/api/auth/sessions/{second_id}"),
            Csrf::Own,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = second.get(&system, "/api/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = first.get(&system, "/api/me").await;
    assert_eq!(status, StatusCode::OK);

    // A password change keeps the changing session and revokes the others.
    let (mut third, _, _) =
        sign_in(&system, Some("acme-revoke"), "ana@acme.example", PASSWORD).await;
    let (status, body) = first
        .send(
            &system,
            Method::PUT,
            "/api/auth/password",
            Csrf::Own,
            Some(json!({"currentPassword": "not the password", "newPassword": "another long password"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["field"], "currentPassword");
    let (status, _) = third.get(&system, "/api/me").await;
    assert_eq!(status, StatusCode::OK, "a refused change revokes nothing");
    let (status, body) = first
        .send(
            &system,
            Method::PUT,
            "/api/auth/password",
            Csrf::Own,
            Some(json!({"currentPassword": PASSWORD, "newPassword": "another long password"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["revoked"], 1);
    let (status, _) = third.get(&system, "/api/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = first.get(&system, "/api/me").await;
    assert_eq!(status, StatusCode::OK);
    let (_, status, _) = sign_in(&system, Some("acme-revoke"), "ana@acme.example", PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old password no longer works"
    );
    let (mut fourth, status, _) = sign_in(
        &system,
        Some("acme-revoke"),
        "ana@acme.example",
        "another long password",
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // An admin signs the user out everywhere; another tenant's admin cannot (404).
    let path = format!("/api/users/{user_id}/sessions");
    let (status, body) = system
        .call(Method::DELETE, &path, Some(&other.key), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = fourth.get(&system, "/api/me").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = system
        .call(Method::DELETE, &path, Some(&tenant.key), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["revoked"], 2);
    for browser in [&mut first, &mut fourth] {
        let (status, _) = browser.get(&system, "/api/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    // A deleted user's session stops at once.
    let (mut fifth, status, _) = sign_in(
        &system,
        Some("acme-revoke"),
        "ana@acme.example",
        "another long password",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = system
        .call(
            Method::DELETE,
            &format!("/api/users/{user_id}"),
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = fifth.get(&system, "/api/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("expired or was revoked")
    );
    system.stop().await;
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_account_and_per_address() {
    let system =
        TestSystem::spawn_with(&[("LOGIN_ACCOUNT_BURST", "3"), ("LOGIN_ADDRESS_BURST", "5")]).await;
    let tenant = system.tenant_with_admin("acme-limit").await;
    let (_, token) = invite(&system, &tenant, "ana@acme.example", "user").await;
    accept(&system, &token).await;

    // Three attempts on the account pass (wrong or not); the fourth is refused even with the
    // right password, and says when to try again.
    for _ in 0..3 {
        let (_, status, _) = sign_in(
            &system,
            Some("acme-limit"),
            "ana@acme.example",
            "wrong password!",
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let response = system
        .http
        .post(format!("{}/api/auth/login", system.base_url))
        .json(&json!({"tenant": "acme-limit", "email": "Ana@acme.example", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(response.headers().get(SET_COOKIE).is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert!(
        body["error"].as_str().unwrap().contains("try again in"),
        "{body}"
    );

    // The address has had four attempts: one more on another account passes, then the
    // address is refused whatever the account.
    let (_, status, _) = sign_in(
        &system,
        Some("acme-limit"),
        "someone@acme.example",
        PASSWORD,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, status, body) =
        sign_in(&system, Some("acme-limit"), "else@acme.example", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    system.stop().await;
}

#[tokio::test]
async fn the_superadmin_signs_in_with_a_password_set_from_the_command_line() {
    let system = TestSystem::spawn().await;
    // Before a password is set, the superadmin cannot sign in.
    let (_, status, _) = sign_in(&system, None, "root@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let set_password = |email: &str, password: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(system_tests::service_binary("gateway"))
            .args(["set-password", "--email", email])
            .env("DATABASE_URL", &system.db.url)
            .env("DEV_MODE", "true")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("gateway binary");
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let weak = set_password("root@example.com", "short");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 10 characters"));
    let unknown = set_password("nobody@example.com", PASSWORD);
    assert!(!unknown.status.success());
    let done = set_password("root@example.com", PASSWORD);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );

    let (mut browser, status, body) = sign_in(&system, None, "root@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["user"]["role"], "superadmin");
    assert!(body["data"]["user"]["tenantId"].is_null());
    let (status, body) = browser.get(&system, "/api/admin/tenants").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    system.stop().await;
}

#[tokio::test]
async fn sessions_that_ended_over_a_week_ago_are_deleted() {
    let system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("acme-sweep").await;
    let (_, token) = invite(&system, &tenant, "ana@acme.example", "user").await;
    let (mut live, _) = accept(&system, &token).await;
    for _ in 0..3 {
        sign_in(&system, Some("acme-sweep"), "ana@acme.example", PASSWORD).await;
    }
    let db = db::connect(&system.db.url, 1).await.unwrap();
    use sea_orm::ConnectionTrait;
    // Of the three others: one expired 8 days ago, one was revoked 8 days ago, one yesterday.
    db.execute_unprepared(
        "WITH others AS (
             SELECT id, row_number() OVER (ORDER BY created_at) AS n FROM sessions
              WHERE created_at > (SELECT min(created_at) FROM sessions)
         )
         UPDATE sessions s SET
             created_at = now() - interval '30 days',
             expires_at = CASE WHEN o.n = 1 THEN now() - interval '8 days' ELSE s.expires_at END,
             revoked_at = CASE WHEN o.n = 2 THEN now() - interval '8 days'
                               WHEN o.n = 3 THEN now() - interval '1 day' END
           FROM others o WHERE o.id = s.id",
    )
    .await
    .unwrap();
    let deleted = db::sessions::delete_stale(&db, chrono::Duration::days(7))
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    let left = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) AS n FROM sessions",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(left, 2);
    let (status, _) = live.get(&system, "/api/me").await;
    assert_eq!(status, StatusCode::OK, "the live session is kept");
    db.close().await.unwrap();
    system.stop().await;
}

/// A sign-in attempt with `password` from a new browser at `address` (`X-Forwarded-For` as
/// the proxies wrote it); its status.
async fn attempt_from(
    system: &TestSystem,
    address: &str,
    tenant: &str,
    email: &str,
    password: &str,
) -> StatusCode {
    let mut browser = Browser {
        address: Some(address.to_owned()),
        ..Browser::default()
    };
    let (status, _) = browser
        .post(
            system,
            "/api/auth/login",
            json!({"tenant": tenant, "email": email, "password": password}),
        )
        .await;
    status
}

#[tokio::test]
async fn sign_in_addresses_are_read_by_trusted_hops_and_ipv6_per_64() {
    let limits = [("LOGIN_ADDRESS_BURST", "2"), ("LOGIN_ACCOUNT_BURST", "100")];
    let mut system = TestSystem::spawn_with(&limits).await;
    let tenant = system.tenant_with_admin("acme-hops").await;
    let attempt = async |system: &TestSystem, address: &str| {
        attempt_from(
            system,
            address,
            "acme-hops",
            "nobody@acme.example",
            PASSWORD,
        )
        .await
    };

    // No trusted proxy (the default): a spoofed X-Forwarded-For changes nothing, every
    // attempt counts against the peer's address.
    assert_eq!(
        attempt(&system, "203.0.113.1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        attempt(&system, "203.0.113.2").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        attempt(&system, "203.0.113.3").await,
        StatusCode::TOO_MANY_REQUESTS
    );

    // One trusted proxy: the rightmost entry (what the proxy appended) is the client; what
    // the client wrote to its left is not.
    let hops = [
        ("TRUST_PROXY_HOPS", "1"),
        ("LOGIN_ADDRESS_BURST", "2"),
        ("LOGIN_ACCOUNT_BURST", "100"),
    ];
    system.base_url = system.start_gateway(&hops).await;
    for chain in ["198.51.100.1, 203.0.113.7", "198.51.100.2, 203.0.113.7"] {
        assert_eq!(attempt(&system, chain).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        attempt(&system, "192.0.2.99, 203.0.113.7").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        attempt(&system, "192.0.2.99, 203.0.113.8").await,
        StatusCode::UNAUTHORIZED
    );
    // An IPv4-mapped IPv6 address is its IPv4 client.
    assert_eq!(
        attempt(&system, "::ffff:203.0.113.8").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        attempt(&system, "203.0.113.8").await,
        StatusCode::TOO_MANY_REQUESTS
    );

    // IPv6: one budget per /64.
    for address in ["2001:db8:1:2::1", "[2001:db8:1:2::2]:4711"] {
        assert_eq!(attempt(&system, address).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        attempt(&system, "2001:db8:1:2:abcd::9").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        attempt(&system, "2001:db8:1:3::1").await,
        StatusCode::UNAUTHORIZED
    );

    // A session records the address the chain names.
    let (_, token) = invite(&system, &tenant, "ana@acme.example", "user").await;
    let mut browser = Browser {
        address: Some("10.9.9.9, 203.0.113.50".to_owned()),
        ..Browser::default()
    };
    let (status, body) = browser
        .post(
            &system,
            "/api/auth/invitation/accept",
            json!({"token": token, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = browser.get(&system, "/api/auth/sessions").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"][0]["address"], "203.0.113.50", "{body}");
    system.stop().await;
}

#[tokio::test]
async fn password_checks_beyond_the_bound_are_refused_with_503_and_change_nothing() {
    let mut system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("acme-hash").await;
    let (_, token) = invite(&system, &tenant, "ana@acme.example", "user").await;
    accept(&system, &token).await;
    let (bia, bia_token) = invite(&system, &tenant, "bia@acme.example", "user").await;

    // No permit at all: every password check is refused, deterministically.
    system.base_url = system
        .start_gateway(&[("PASSWORD_HASH_CONCURRENCY", "0")])
        .await;
    let response = system
        .http
        .post(format!("{}/api/auth/login", system.base_url))
        .json(&json!({"tenant": "acme-hash", "email": "ana@acme.example", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "{retry}");
    assert!(response.headers().get(SET_COOKIE).is_none());
    let text = response.text().await.unwrap();
    system_tests::contract::check(
        &Method::POST,
        "/api/auth/login",
        StatusCode::SERVICE_UNAVAILABLE,
        &text,
    )
    .unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["code"], "service_unavailable", "{body}");

    // Accepting an invitation hashes the new password: refused, and the invitation is still
    // pending, its user not created.
    let mut browser = Browser::default();
    let (status, body) = browser
        .post(
            &system,
            "/api/auth/invitation/accept",
            json!({"token": bia_token, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(browser.session.is_none());
    let (status, body) = system
        .call(Method::GET, "/api/invitations", Some(&tenant.key), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pending = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == bia.as_str())
        .unwrap();
    assert_eq!(pending["state"], "pending", "{body}");

    // With permits, the same requests pass.
    system.base_url = system.start_gateway(&[]).await;
    let (_, status, body) = sign_in(&system, Some("acme-hash"), "ana@acme.example", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    accept(&system, &bia_token).await;
    system.stop().await;
}

#[tokio::test]
async fn the_owners_known_browser_signs_in_while_the_account_is_attacked() {
    let system =
        TestSystem::spawn_with(&[("TRUST_PROXY_HOPS", "1"), ("LOGIN_ACCOUNT_BURST", "3")]).await;
    let tenant = system.tenant_with_admin("acme-owner").await;
    let (_, token) = invite(&system, &tenant, "ana@acme.example", "user").await;
    accept(&system, &token).await;
    let login = |password: &str| json!({"tenant": "acme-owner", "email": "ana@acme.example", "password": password});

    // The owner signs in at home: her browser is known to the account from now on.
    let mut owner = Browser {
        address: Some("198.51.100.7".to_owned()),
        ..Browser::default()
    };
    let (status, body) = owner
        .post(&system, "/api/auth/login", login(PASSWORD))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(owner.device.is_some());

    // Someone guesses her password from ever new addresses: the account's shared budget
    // (three, one spent by the owner's sign-in above) runs out.
    for address in ["203.0.113.1", "203.0.113.2"] {
        let status = attempt_from(
            &system,
            address,
            "acme-owner",
            "ana@acme.example",
            "a wrong guess!",
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let status = attempt_from(
        &system,
        "203.0.113.3",
        "acme-owner",
        "ana@acme.example",
        "a wrong guess!",
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // A browser the account does not know is refused even with the right password, even at
    // the owner's address.
    let status = attempt_from(
        &system,
        "198.51.100.7",
        "acme-owner",
        "ana@acme.example",
        PASSWORD,
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // So is a forged device cookie.
    let mut forger = Browser {
        address: Some("203.0.113.4".to_owned()),
        device: Some(format!("d1.{}.{}", "0".repeat(32), "0".repeat(32))),
        ..Browser::default()
    };
    let (status, _) = forger
        .post(&system, "/api/auth/login", login(PASSWORD))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    // Her own browser still signs in: it has a budget of its own.
    let mut owner_again = Browser {
        address: owner.address.clone(),
        device: owner.device.clone(),
        ..Browser::default()
    };
    let (status, body) = owner_again
        .post(&system, "/api/auth/login", login(PASSWORD))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = owner_again.get(&system, "/api/me").await;
    assert_eq!(status, StatusCode::OK);

    // That budget is bounded too: a stolen cookie buys its thief three attempts, not more.
    let mut thief = Browser {
        address: Some("203.0.113.5".to_owned()),
        device: owner.device.clone(),
        ..Browser::default()
    };
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let (status, _) = thief
            .post(&system, "/api/auth/login", login("a wrong guess!"))
            .await;
        statuses.push(status);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    system.stop().await;
}
