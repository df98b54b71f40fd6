//! Contact imports end to end: a file streamed to storage by the gateway, imported by
//! `worker-import` (normalised, deduped, batched, with per-row errors), cancelled, resumed
//! after a crash without importing a row twice, and refused when it is not acceptable.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use system_tests::{TenantHandle, TestSystem, contract};

/// `POST /api/contacts/imports?{query}` with `body` as `content_type`, checked against the
/// OpenAPI document like every `call`.
async fn upload(
    system: &TestSystem,
    key: &str,
    query: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let path = format!("/api/contacts/imports?{query}");
    let response = system
        .http
        .post(format!("{}{path}", system.base_url))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = response.status();
    let text = response.text().await.expect("body");
    contract::check(&Method::POST, &path, status, &text).unwrap_or_else(|e| panic!("{e}"));
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Uploads and returns the import's id, expecting 202.
async fn start_import(
    system: &TestSystem,
    tenant: &TenantHandle,
    query: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> String {
    let (status, answer) = upload(system, &tenant.key, query, content_type, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    answer["data"]["import"]["id"]
        .as_str()
        .expect("import id")
        .to_owned()
}

/// Polls the import until it has ended; returns it.
async fn finished(system: &TestSystem, tenant: &TenantHandle, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, answer) = system
            .call(
                Method::GET,
                &format!("/api/contacts/imports/{id}"),
                Some(&tenant.key),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let import = answer["data"].clone();
        if ["completed", "failed", "cancelled"].contains(&import["status"].as_str().unwrap_or("")) {
            return import;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "import not finished after 60 s: {import}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every contact of the tenant (all fields), by phone.
async fn contacts(system: &TestSystem, tenant: &TenantHandle) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/contacts?limit=500&fields=phone,name,fields&cursor={c}"),
            None => "/api/contacts?limit=500&fields=phone,name,fields".to_owned(),
        };
        let (status, page) = system
            .call(Method::GET, &path, Some(&tenant.key), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        all.extend(page["data"].as_array().expect("data").iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    all.sort_by_key(|c| c["phone"].as_str().unwrap_or_default().to_owned());
    all
}

async fn error_file(system: &TestSystem, key: &str, id: &str) -> (StatusCode, String) {
    let response = system
        .http
        .get(format!(
            "{}/api/contacts/imports/{id}/errors",
            system.base_url
        ))
        .bearer_auth(key)
        .send()
        .await
        .expect("errors");
    (response.status(), response.text().await.expect("text"))
}

#[tokio::test]
async fn a_csv_import_normalises_dedupes_updates_and_keeps_each_failed_row() {
    let mut system = TestSystem::spawn().await;
    system.start_import_worker(&[]).await;
    let tenant = system.tenant_with_admin("import-csv").await;
    // An existing contact: the import updates its name and merges its fields.
    system
        .create_contact(
            &tenant,
            "+5511999990002",
            "Old name",
            json!({"plan": "gold"}),
        )
        .await;
    // A BOM, `;` separators, a quoted name across two lines, a duplicate of line 2 written
    // differently, an invalid phone, a line with a column too many, a blank line.
    let file = "\u{feff}Nome;Telefone;Cidade\n\
                \"Ana\nMaria\";(11) 99999-0001;Recife\n\
                Beto;+55 11 99999-0002;Olinda\n\
                Ana again;+55 (11) 99999-0001;\n\
                Caio;12345;Natal\n\
                Dora;11 99999-0004;Recife;extra\n\
                \n\
                Eva;11 99999-0005;\n";
    let id = start_import(
        &system,
        &tenant,
        "fileName=clientes.csv",
        "text/csv",
        file.to_owned(),
    )
    .await;
    let import = finished(&system, &tenant, &id).await;
    assert_eq!(import["status"], "completed", "{import}");
    assert_eq!(
        import["progress"],
        json!({"read": 6, "imported": 2, "updated": 1, "skipped": 1, "failed": 2}),
        "{import}"
    );
    assert_eq!(import["fileName"], "clientes.csv");
    let announced = db::events::of_subject(
        db::TenantScope::for_test(
            &db::connect(&system.db.url, 1).await.unwrap(),
            tenant.tenant_id.parse().unwrap(),
        ),
        id.parse().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(announced.len(), 1, "one event for the import's end");
    assert_eq!(announced[0].kind, common::EventKind::ImportCompleted);
    assert_eq!(announced[0].data["progress"], import["progress"]);
    assert_eq!(
        announced[0].user_id.map(|u| u.to_string()),
        Some(tenant.user_id.clone())
    );
    assert_eq!(
        contacts(&system, &tenant).await,
        vec![
            json!({"phone": "5511999990001", "name": "Ana\nMaria", "fields": {"Cidade": "Recife"}}),
            json!({"phone": "5511999990002", "name": "Beto", "fields": {"plan": "gold", "Cidade": "Olinda"}}),
            json!({"phone": "5511999990005", "name": "Eva", "fields": {}}),
        ]
    );
    let (status, errors) = error_file(&system, &tenant.key, &id).await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(lines[0], "line,value,reason");
    assert!(
        lines[1].starts_with("6,12345,not a valid phone number"),
        "{errors}"
    );
    assert!(lines[2].starts_with("7,"), "{errors}");
    assert!(
        lines[2].contains("4 columns where the header has 3"),
        "{errors}"
    );
    assert_eq!(lines.len(), 3, "{errors}");
    system.stop().await;
}

#[tokio::test]
async fn json_ndjson_latin1_and_skip_are_read_as_asked() {
    let mut system = TestSystem::spawn().await;
    system.start_import_worker(&[]).await;
    let tenant = system.tenant_with_admin("import-json").await;
    system
        .create_contact(&tenant, "+14155552671", "Kept", json!({}))
        .await;

    let array = json!([
        {"phone": "+1 415 555 2671", "name": "Not applied"},
        {"telefone": 5511999990011_i64, "nome": "Gil", "vip": true, "score": 7},
        "not an object",
        {"name": "No phone"},
    ]);
    let id = start_import(
        &system,
        &tenant,
        "onDuplicate=skip",
        "application/json",
        array.to_string(),
    )
    .await;
    let import = finished(&system, &tenant, &id).await;
    assert_eq!(
        import["progress"],
        json!({"read": 4, "imported": 1, "updated": 0, "skipped": 1, "failed": 2}),
        "{import}"
    );

    let ndjson = "{\"phone\": \"21 99999-0012\", \"name\": \"Hugo\"}\n{broken\n";
    let id = start_import(&system, &tenant, "", "application/x-ndjson", ndjson).await;
    let import = finished(&system, &tenant, &id).await;
    assert_eq!(import["progress"]["imported"], 1, "{import}");
    assert_eq!(import["progress"]["failed"], 1, "{import}");

    // Latin-1 (detected), US numbers without a country code.
    let mut latin1 = b"name,phone\n".to_vec();
    latin1.extend_from_slice(b"Jos\xe9,(415) 555-0199\n");
    let id = start_import(&system, &tenant, "region=US", "text/csv", latin1).await;
    let import = finished(&system, &tenant, &id).await;
    assert_eq!(import["progress"]["imported"], 1, "{import}");

    let all = contacts(&system, &tenant).await;
    let names: Vec<(&str, &str)> = all
        .iter()
        .map(|c| (c["phone"].as_str().unwrap(), c["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("14155550199", "José"),
            ("14155552671", "Kept"),
            ("5511999990011", "Gil"),
            ("5521999990012", "Hugo"),
        ]
    );
    let gil = all.iter().find(|c| c["name"] == "Gil").expect("Gil");
    assert_eq!(gil["fields"], json!({"vip": true, "score": 7}));
    system.stop().await;
}

#[tokio::test]
async fn unacceptable_uploads_get_clear_errors_and_store_nothing() {
    let mut system = TestSystem::spawn_with(&[("IMPORT_MAX_BYTES", "2048")]).await;
    system.start_import_worker(&[]).await;
    let tenant = system.tenant_with_admin("import-bad").await;
    let other = system.tenant_with_admin("import-other").await;
    let csv = "phone\n5511999990001\n";

    let (status, answer) = upload(&system, &tenant.key, "", "image/png", csv).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{answer}");
    let (status, answer) = upload(&system, &tenant.key, "", "text/csv", "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"], "the file is empty");
    let big = format!("phone\n{}", "5511999990001\n".repeat(200));
    let (status, answer) = upload(&system, &tenant.key, "", "text/csv", big.clone()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    // Without a length up front, the stream is cut at the limit.
    let chunks = futures_util::stream::iter(
        big.into_bytes()
            .chunks(100)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let (status, answer) = upload(
        &system,
        &tenant.key,
        "",
        "text/csv",
        reqwest::Body::wrap_stream(chunks),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    for (query, field) in [
        ("region=XX", "region"),
        ("separator=%23", "separator"),
        ("onDuplicate=merge", ""),
        ("unknown=1", ""),
    ] {
        let (status, answer) = upload(&system, &tenant.key, query, "text/csv", csv).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {answer}");
        if !field.is_empty() {
            assert_eq!(answer["field"], field, "{query}: {answer}");
        }
    }
    // Nothing was stored and no import exists.
    let stored: Vec<_> = walk(system.storage_dir.path());
    assert!(stored.is_empty(), "stored: {stored:?}");
    let (_, list) = system
        .call(
            Method::GET,
            "/api/contacts/imports",
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(list["data"], json!([]));

    // A file without a phone column fails as a whole, saying which columns it has.
    let id = start_import(
        &system,
        &tenant,
        "",
        "text/csv",
        "nome,cidade\nAna,Recife\n",
    )
    .await;
    let import = finished(&system, &tenant, &id).await;
    assert_eq!(import["status"], "failed");
    let reason = import["statusReason"].as_str().unwrap_or_default();
    assert!(reason.contains("`nome`, `cidade`"), "{reason}");

    // Another tenant sees none of it.
    for (method, path) in [
        (Method::GET, format!("/api/contacts/imports/{id}")),
        (Method::POST, format!("/api/contacts/imports/{id}/cancel")),
    ] {
        let (status, answer) = system.call(method, &path, Some(&other.key), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {answer}");
    }
    assert_eq!(
        error_file(&system, &other.key, &id).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, list) = system
        .call(Method::GET, "/api/contacts/imports", Some(&other.key), None)
        .await;
    assert_eq!(list["data"], json!([]));
    system.stop().await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// `rows` contacts with distinct phones, as CSV.
fn numbered_csv(rows: usize) -> String {
    let mut csv = String::from("phone,name\n");
    for i in 0..rows {
        csv.push_str(&format!("+5511{:09},Contact {i}\n", 900_000_000 + i));
    }
    csv
}

#[tokio::test]
async fn the_contacts_quota_stops_new_contacts_and_a_cancel_stops_the_import() {
    let mut system = TestSystem::spawn().await;
    system.start_import_worker(&[]).await;
    let tenant = system.tenant_with_admin("import-quota").await;
    let (status, plan) = system
        .call(
            Method::POST,
            "/api/plans",
            Some(&tenant.key),
            Some(json!({"name": "Small", "quotas": {"max_contacts": 3}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    let plan_id = plan["data"]["id"].as_str().expect("plan id");
    let (status, answer) = system
        .call(
            Method::PUT,
            &format!("/api/users/{}/subscription", tenant.user_id),
            Some(&tenant.key),
            Some(json!({"planId": plan_id, "status": "active"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id = start_import(&system, &tenant, "", "text/csv", numbered_csv(5)).await;
    let import = finished(&system, &tenant, &id).await;
    assert_eq!(import["progress"]["imported"], 3, "{import}");
    assert_eq!(import["progress"]["failed"], 2, "{import}");
    let (_, errors) = error_file(&system, &tenant.key, &id).await;
    assert!(
        errors.contains("the contacts quota (3) is reached"),
        "{errors}"
    );

    // A cancelled import stops; what it imported stays, and it cannot be cancelled twice.
    let other = system.tenant_with_admin("import-cancel").await;
    let id = start_import(&system, &other, "", "text/csv", numbered_csv(60_000)).await;
    let (status, answer) = system
        .call(
            Method::POST,
            &format!("/api/contacts/imports/{id}/cancel"),
            Some(&other.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let import = finished(&system, &other, &id).await;
    assert_eq!(import["status"], "cancelled", "{import}");
    let read = import["progress"]["read"].as_i64().unwrap();
    assert!(read < 60_000, "stopped early: {import}");
    let (status, answer) = system
        .call(
            Method::POST,
            &format!("/api/contacts/imports/{id}/cancel"),
            Some(&other.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    system.stop().await;
}

/// A worker killed mid-import: another one goes on from the last committed batch, and every
/// row is imported exactly once.
#[tokio::test]
async fn a_worker_killed_mid_import_resumes_without_importing_a_row_twice() {
    let mut system = TestSystem::spawn().await;
    let tenant = system.tenant_with_admin("import-crash").await;
    let rows = 120_000;
    let id = start_import(&system, &tenant, "", "text/csv", numbered_csv(rows)).await;
    let settings = [("JOB_LEASE_SECONDS", "2")];
    let first = system.start_process("worker-import", &settings);
    // Kill it once some batches are committed and most of the file is still ahead.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (_, answer) = system
            .call(
                Method::GET,
                &format!("/api/contacts/imports/{id}"),
                Some(&tenant.key),
                None,
            )
            .await;
        let read = answer["data"]["progress"]["read"].as_i64().unwrap_or(0);
        if read > 0 {
            assert!(read < rows as i64, "killed too late: {answer}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no progress: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    system.kill_process(first).await;
    system.start_process("worker-import", &settings);
    let import = finished(&system, &tenant, &id).await;
    assert_eq!(import["status"], "completed", "{import}");
    assert_eq!(
        import["progress"],
        json!({"read": rows, "imported": rows, "updated": 0, "skipped": 0, "failed": 0}),
        "{import}"
    );
    let (status, quotas) = system
        .call(Method::GET, "/api/me/quotas", Some(&tenant.key), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{quotas}");
    assert_eq!(quotas["data"]["max_contacts"]["used"], rows, "{quotas}");
    system.stop().await;
}

/// The tenant's bytes in storage as the database counts them.
async fn storage_used(system: &TestSystem, tenant: &TenantHandle) -> i64 {
    let connection = db::connect(&system.db.url, 1).await.expect("connect");
    let used = db::storage_usage::bytes_used(db::TenantScope::for_test(
        &connection,
        tenant.tenant_id.parse().expect("tenant id"),
    ))
    .await
    .expect("storage usage");
    connection.close().await.expect("close");
    used
}

/// Where an import's uploaded file is kept in this system's storage directory.
fn source_file(system: &TestSystem, tenant: &TenantHandle, id: &str) -> std::path::PathBuf {
    system
        .storage_dir
        .path()
        .join("imports")
        .join(&tenant.tenant_id)
        .join(id)
        .join("source")
}

/// Waits until the import's file is gone from storage and the tenant's count is `used`.
async fn file_deleted(system: &TestSystem, tenant: &TenantHandle, id: &str, used: i64) {
    let path = source_file(system, tenant, id);
    system_tests::eventually(
        "the import's file deleted and uncounted",
        Duration::from_secs(30),
        async || {
            let now = storage_used(system, tenant).await;
            if path.exists() || now != used {
                return Err(format!("file present: {}, bytes used {now}", path.exists()));
            }
            Ok(())
        },
    )
    .await;
}

#[tokio::test]
async fn an_import_file_is_deleted_when_the_import_completes_fails_or_is_cancelled_and_by_the_sweep()
 {
    // No import worker yet: the first upload stays queued, and is ended behind the workers'
    // backs, as if a worker died between an import's end and its file's deletion.
    let mut system = TestSystem::spawn().await;
    system
        .start_report_worker(&[("REPORT_SWEEP_SECONDS", "1")])
        .await;
    let tenant = system.tenant_with_admin("import-files").await;
    assert_eq!(storage_used(&system, &tenant).await, 0);
    let csv = "phone,name\n5511999990001,Ana\n";
    let id = start_import(&system, &tenant, "", "text/csv", csv).await;
    assert!(source_file(&system, &tenant, &id).exists());
    assert_eq!(storage_used(&system, &tenant).await, csv.len() as i64);
    let connection = db::connect(&system.db.url, 1).await.expect("connect");
    sea_orm::ConnectionTrait::execute_unprepared(
        &connection,
        &format!(
            "UPDATE contact_imports SET status = 'completed', finished_at = now() WHERE id = '{id}'"
        ),
    )
    .await
    .expect("end the import");
    connection.close().await.expect("close");
    // The sweep (worker-report's, every second here) deletes the leftover.
    file_deleted(&system, &tenant, &id, 0).await;

    system.start_import_worker(&[]).await;
    // Completed.
    let id = start_import(&system, &tenant, "", "text/csv", csv).await;
    assert_eq!(finished(&system, &tenant, &id).await["status"], "completed");
    file_deleted(&system, &tenant, &id, 0).await;
    // Failed (no phone column).
    let id = start_import(&system, &tenant, "", "text/csv", "nome\nAna\n").await;
    assert_eq!(finished(&system, &tenant, &id).await["status"], "failed");
    file_deleted(&system, &tenant, &id, 0).await;
    // Cancelled: deleted by the cancel itself, whether the worker had started or not.
    let big = numbered_csv(60_000);
    let id = start_import(&system, &tenant, "", "text/csv", big).await;
    let (status, answer) = system
        .call(
            Method::POST,
            &format!("/api/contacts/imports/{id}/cancel"),
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(!source_file(&system, &tenant, &id).exists());
    assert_eq!(storage_used(&system, &tenant).await, 0);
    assert_eq!(finished(&system, &tenant, &id).await["status"], "cancelled");
    file_deleted(&system, &tenant, &id, 0).await;
    let stored = walk(system.storage_dir.path());
    assert!(stored.is_empty(), "stored: {stored:?}");
    system.stop().await;
}

#[tokio::test]
async fn the_storage_quota_refuses_uploads_beyond_it_and_counts_bytes_exactly() {
    // A 1000-byte quota whatever the plan, and no import worker: files stay until cancelled.
    let quota = [
        ("STORAGE_QUOTA_FREE", "1000"),
        ("STORAGE_QUOTA_PRO", "1000"),
        ("STORAGE_QUOTA_ENTERPRISE", "1000"),
    ];
    let system = TestSystem::spawn_with(&quota).await;
    let tenant = system.tenant_with_admin("import-storage").await;
    let other = system.tenant_with_admin("import-storage-2").await;
    let file = |bytes: usize| {
        let mut csv = String::from("phone\n");
        while csv.len() < bytes - 1 {
            csv.push('5');
        }
        csv.push('\n');
        csv
    };
    let first = start_import(&system, &tenant, "", "text/csv", file(600)).await;
    assert_eq!(storage_used(&system, &tenant).await, 600);

    // What each refusal must leave as it was.
    let state = async || {
        let (_, list) = system
            .call(
                Method::GET,
                "/api/contacts/imports",
                Some(&tenant.key),
                None,
            )
            .await;
        (
            storage_used(&system, &tenant).await,
            list["data"].clone(),
            walk(system.storage_dir.path()),
        )
    };
    let before = state().await;
    // Declared too large up front.
    let (status, answer) = upload(&system, &tenant.key, "", "text/csv", file(500)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    assert_eq!(answer["code"], "quota_exceeded", "{answer}");
    assert_eq!(answer["success"], false, "{answer}");
    // Streamed without a length: cut where the quota ends.
    let body = file(500).into_bytes();
    let chunks = futures_util::stream::iter(
        body.chunks(64)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let (status, answer) = upload(
        &system,
        &tenant.key,
        "",
        "text/csv",
        reqwest::Body::wrap_stream(chunks),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    assert_eq!(answer["code"], "quota_exceeded", "{answer}");
    assert_eq!(state().await, before);

    // Exactly what is left fits; then not one byte more.
    let second = start_import(&system, &tenant, "", "text/csv", file(400)).await;
    assert_eq!(storage_used(&system, &tenant).await, 1000);
    let before = state().await;
    let (status, answer) = upload(&system, &tenant.key, "", "text/csv", "phone\n").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    assert_eq!(state().await, before);
    // Another tenant has its own quota.
    start_import(&system, &other, "", "text/csv", file(900)).await;
    assert_eq!(storage_used(&system, &other).await, 900);
    assert_eq!(storage_used(&system, &tenant).await, 1000);

    // A deleted file frees its bytes, exactly.
    for (id, left) in [(&first, 400), (&second, 0)] {
        let (status, answer) = system
            .call(
                Method::POST,
                &format!("/api/contacts/imports/{id}/cancel"),
                Some(&tenant.key),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(storage_used(&system, &tenant).await, left);
    }
    start_import(&system, &tenant, "", "text/csv", file(1000)).await;
    assert_eq!(storage_used(&system, &tenant).await, 1000);
    system.stop().await;
}

#[tokio::test]
async fn an_over_long_ndjson_line_fails_its_row_and_the_following_rows_import() {
    let mut system = TestSystem::spawn().await;
    system
        .start_import_worker(&[("IMPORT_MAX_RECORD_BYTES", "4096")])
        .await;
    let tenant = system.tenant_with_admin("import-long-line").await;
    let long = format!(
        "{{\"phone\": \"5511999990002\", \"note\": \"{}\"}}",
        "x".repeat(100_000)
    );
    let file =
        format!("{{\"phone\": \"5511999990001\"}}\n{long}\n{{\"phone\": \"5511999990003\"}}\n");
    let id = start_import(&system, &tenant, "", "application/x-ndjson", file).await;
    let import = finished(&system, &tenant, &id).await;
    assert_eq!(import["status"], "completed", "{import}");
    assert_eq!(
        import["progress"],
        json!({"read": 3, "imported": 2, "updated": 0, "skipped": 0, "failed": 1}),
        "{import}"
    );
    let phones: Vec<Value> = contacts(&system, &tenant)
        .await
        .iter()
        .map(|c| c["phone"].clone())
        .collect();
    assert_eq!(phones, vec![json!("5511999990001"), json!("5511999990003")]);
    let (_, errors) = error_file(&system, &tenant.key, &id).await;
    let mut reader = csv::Reader::from_reader(errors.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a row")).collect();
    assert_eq!(rows.len(), 1, "{errors}");
    assert_eq!(&rows[0][0], "2");
    assert_eq!(
        &rows[0][2],
        format!(
            "the line has {} bytes, more than the limit of 4096 (IMPORT_MAX_RECORD_BYTES)",
            long.len()
        )
    );
    system.stop().await;
}

#[tokio::test]
async fn no_cell_of_the_error_file_is_a_formula() {
    let mut system = TestSystem::spawn().await;
    system.start_import_worker(&[]).await;
    let tenant = system.tenant_with_admin("import-formulas").await;
    // Phones a spreadsheet would run: each row fails, and its value goes to the error file.
    let values = [
        "=HYPERLINK(\"http://x\",\"y\")",
        "+1+2",
        "-2+3",
        "@SUM(A1)",
        "\t=1+1",
        "\r=1+1",
    ];
    let mut file = String::from("phone,name\n");
    for value in values {
        file.push_str(&format!("\"{}\",Ana\n", value.replace('"', "\"\"")));
    }
    let id = start_import(&system, &tenant, "", "text/csv", file).await;
    let import = finished(&system, &tenant, &id).await;
    assert_eq!(import["progress"]["failed"], values.len(), "{import}");
    let (_, errors) = error_file(&system, &tenant.key, &id).await;
    let mut reader = csv::Reader::from_reader(errors.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a row")).collect();
    assert_eq!(rows.len(), values.len(), "{errors}");
    for (row, value) in rows.iter().zip(values) {
        // The value as the reader trimmed it, behind the quote that keeps it text.
        assert_eq!(&row[1], format!("'{}", value.trim()), "{errors}");
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a cell a spreadsheet would run: {cell:?}"
            );
        }
    }
    system.stop().await;
}
