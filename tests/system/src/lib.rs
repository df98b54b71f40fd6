#![doc = include_str!("../README.md")]
// Test support reads top to bottom like the tests it serves (set up, act, check), so it is
// exempt from the workspace's limit on function length.
#![allow(clippy::too_many_lines)]

use std::time::Duration;

use common::config::Env;
use gateway::Application;
use gateway::config::GatewayConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::TestDatabase;
use tokio_util::sync::CancellationToken;
use worker::BuildJob;
use worker_campaign::CampaignJob;
use wuzapi::FakeWuzapi;

pub mod contract;
pub mod fake_dns;
pub mod fake_push;
pub mod receiver;

/// The wait queues the test settings make workers declare (retries, deferrals).
pub const WAIT_DELAYS: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_millis(400),
    Duration::from_secs(1),
];

/// Calls `check` every 50 ms until it gives `Some`, for at most `within`; panics saying
/// `what` never happened, with the last thing `check` saw (`last`).
pub async fn eventually<T>(
    what: &str,
    within: Duration,
    mut check: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match check().await {
            Ok(done) => return done,
            Err(last) => assert!(
                tokio::time::Instant::now() < deadline,
                "{what} never happened within {within:?}; last: {last}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A campaign worker built as `worker-campaign`'s main builds it.
pub async fn start_worker(env: &Env) -> worker::Worker<CampaignJob> {
    start_job_worker::<CampaignJob>(env, worker_campaign::config::from_env).await
}

/// A worker of job type `J` built as its binary's main builds it.
pub async fn start_job_worker<J: BuildJob>(
    env: &Env,
    settings_of: impl FnOnce(
        &Env,
    )
        -> Result<(worker::WorkerSettings, J::Config), common::config::ConfigError>,
) -> worker::Worker<J> {
    let (settings, config) = settings_of(env).expect("worker config");
    let db = db::connect(
        &settings.core.database_url,
        settings.database_max_connections,
    )
    .await
    .expect("connect");
    let job = J::build(config, db.clone()).expect("job");
    worker::Worker::build(settings, db, job)
        .await
        .expect("build worker")
}

/// One isolated copy of the system.
pub struct TestSystem {
    pub base_url: String,
    pub worker_url: String,
    pub wuzapi: FakeWuzapi,
    pub http: reqwest::Client,
    /// A superadmin's API key.
    pub admin_key: String,
    pub db: TestDatabase,
    pub queue_prefix: String,
    queues: testkit::TestQueues,
    shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// Services running as their own processes ([`TestSystem::spawn_processes`]).
    processes: Vec<ServiceProcess>,
    /// Uploads and generated files of this system (`STORAGE_URL`); removed with it, also when
    /// a test panics.
    pub storage_dir: tempfile::TempDir,
}

/// A service binary running as a child process; killed if the test ends without stopping it.
struct ServiceProcess {
    name: &'static str,
    child: tokio::process::Child,
}

impl ServiceProcess {
    fn start(name: &'static str, args: &[&str], env: &[(String, String)]) -> Self {
        let mut command = tokio::process::Command::new(service_binary(name));
        command
            .args(args)
            .envs(env.iter().cloned())
            .kill_on_drop(true);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Self { name, child }
    }

    /// [`start`](Self::start) with standard output and error appended to the file `log`.
    fn start_logging(
        name: &'static str,
        args: &[&str],
        env: &[(String, String)],
        log: &std::path::Path,
    ) -> Self {
        let file = |what: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap_or_else(|e| panic!("open {} for {name}'s {what}: {e}", log.display()))
        };
        let child = tokio::process::Command::new(service_binary(name))
            .args(args)
            .envs(env.iter().cloned())
            .stdout(file("output"))
            .stderr(file("errors"))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Self { name, child }
    }

    /// SIGTERM, as an orchestrator stops a service, then its exit status.
    async fn stop(mut self) {
        let pid = self.child.id().expect("running").to_string();
        let signalled = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("run kill");
        assert!(signalled.success(), "kill -TERM {pid} ({})", self.name);
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} stops within 20 s of SIGTERM", self.name))
            .expect("wait");
        assert!(status.success(), "{} exited with {status}", self.name);
    }
}

/// A workspace binary next to the running test or bench (`target/<profile>/<name>`).
pub fn service_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("own path");
    // A test runs from target/<profile>/deps, a bench binary from target/<profile>.
    let candidates = exe.ancestors().skip(1).take(2);
    let found = candidates
        .map(|dir| dir.join(name))
        .find(|path| path.exists());
    found.unwrap_or_else(|| {
        panic!(
            "no `{name}` binary next to {}: `cargo nextest run --workspace` (or `just test`) builds it",
            exe.display()
        )
    })
}

/// Settings every service of one test shares; everything else keeps its default.
fn env_for(
    db_url: &str,
    prefix: &str,
    wuzapi_url: &str,
    storage_url: &str,
    extra: &[(&str, &str)],
) -> Env {
    let pairs = env_pairs(db_url, prefix, wuzapi_url, storage_url, extra);
    Env::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// The pairs behind [`env_for`]; later pairs win.
fn env_pairs(
    db_url: &str,
    prefix: &str,
    wuzapi_url: &str,
    storage_url: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> =
        ["AMQP_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD"]
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
            .collect();
    // Each test's cache entries live under its own prefix, so tests sharing one Redis never
    // read each other's entries; they expire with their TTLs.
    pairs.push(("CACHE_KEY_PREFIX".to_owned(), format!("{prefix}:")));
    pairs.extend(
        [
            ("DATABASE_URL", db_url),
            ("QUEUE_PREFIX", prefix),
            ("WUZAPI_URL", wuzapi_url),
            ("STORAGE_URL", storage_url),
            ("PORT", "0"),
            ("WORKER_HTTP_PORT", "0"),
            ("DATABASE_MAX_CONNECTIONS", "4"),
            ("WORKER_CAMPAIGN_BACKOFF_MS", "200"),
            ("WORKER_HEARTBEAT_MS", "500"),
            ("JOB_LEASE_SECONDS", "5"),
            ("CAMPAIGN_OUTAGE_PROBE_MS", "500"),
            // No "typing..." unless a test asks for it: sends keep their pace.
            ("CAMPAIGN_TYPING_MIN_MS", "0"),
            ("CAMPAIGN_TYPING_MS_PER_CHAR", "0"),
            ("QUEUE_METRICS_INTERVAL_MS", "200"),
            ("DEV_MODE", "true"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    pairs
}

impl TestSystem {
    /// Gateway, campaign worker and fake WUZAPI on free ports, a fresh database, a new prefix.
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Like [`spawn`](Self::spawn), with extra settings for the gateway only.
    pub async fn spawn_with(gateway_env: &[(&str, &str)]) -> Self {
        Self::spawn_configured(gateway_env, &[]).await
    }

    /// Like [`spawn`](Self::spawn), with extra settings for the gateway and for the worker.
    pub async fn spawn_configured(
        gateway_env: &[(&str, &str)],
        worker_env: &[(&str, &str)],
    ) -> Self {
        Self::spawn_inner(gateway_env, Some(worker_env)).await
    }

    /// A gateway and the fake WUZAPI, and no worker: the caller starts its own (processes, in
    /// the benchmark), with [`worker_env`](Self::worker_env).
    pub async fn spawn_gateway_only(gateway_env: &[(&str, &str)]) -> Self {
        Self::spawn_inner(gateway_env, None).await
    }

    /// The settings a worker of this system needs, plus `extra`.
    pub fn worker_env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        env_pairs(
            &self.db.url,
            &self.queue_prefix,
            &self.wuzapi.base_url(),
            &self.storage_url(),
            extra,
        )
    }

    /// `STORAGE_URL` of every service of this system.
    pub fn storage_url(&self) -> String {
        format!("file://{}", self.storage_dir.path().display())
    }

    async fn spawn_inner(
        gateway_env: &[(&str, &str)],
        worker_env: Option<&[(&str, &str)]>,
    ) -> Self {
        let mut system = Self::fresh().await;
        system.base_url = system.start_gateway(gateway_env).await;
        if let Some(worker_env) = worker_env {
            system.worker_url = system.start_worker(worker_env).await;
        }
        system
    }

    /// The gateway and a campaign worker as their own processes (the built binaries, as
    /// deployed), both with `env` on top of the test settings; a fresh database and prefix.
    pub async fn spawn_processes(env: &[(&str, &str)]) -> Self {
        let mut system = Self::fresh().await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port()
            .to_string();
        let mut pairs = env.to_vec();
        pairs.push(("PORT", &port));
        let env = system.worker_env(&pairs);
        system.processes = vec![
            ServiceProcess::start("gateway", &["serve"], &env),
            ServiceProcess::start("worker-campaign", &[], &env),
        ];
        system.base_url = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let url = format!("{}/readyz", system.base_url);
            let ready = system.http.get(url).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the gateway process is not ready after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        system
    }

    /// A fresh database with a superadmin, a fake WUZAPI and a queue prefix; no services yet.
    async fn fresh() -> Self {
        telemetry::init_tracing("system-tests");
        let db = TestDatabase::create().await.expect("create test database");
        let wuzapi = FakeWuzapi::start("127.0.0.1:0").expect("start fake WUZAPI");
        let queues = testkit::TestQueues::new(&WAIT_DELAYS);
        let connection = db::connect(&db.url, 1).await.expect("connect");
        let (_, admin_key) = db::tenants::bootstrap_superadmin(&connection, "root@example.com")
            .await
            .expect("bootstrap superadmin");
        connection.close().await.expect("close");
        Self {
            base_url: String::new(),
            worker_url: String::new(),
            wuzapi,
            http: reqwest::Client::new(),
            admin_key,
            db,
            queue_prefix: queues.prefix.clone(),
            queues,
            shutdown: CancellationToken::new(),
            tasks: Vec::new(),
            processes: Vec::new(),
            storage_dir: tempfile::tempdir().expect("storage directory"),
        }
    }

    /// The settings of a service of this system, plus `extra`.
    fn env(&self, extra: &[(&str, &str)]) -> Env {
        env_for(
            &self.db.url,
            &self.queue_prefix,
            &self.wuzapi.base_url(),
            &self.storage_url(),
            extra,
        )
    }

    /// Starts one more campaign worker (another replica) with extra settings; returns its
    /// probe URL.
    pub async fn start_worker(&mut self, extra_env: &[(&str, &str)]) -> String {
        let env = self.env(extra_env);
        let worker = start_worker(&env).await;
        let url = format!("http://127.0.0.1:{}", worker.http_port());
        self.tasks.push(tokio::spawn(
            worker.run_until_stopped(self.shutdown.clone()),
        ));
        url
    }

    /// Starts a worker of job type `J` in this process, built as its binary builds it, with
    /// extra settings; returns its probe URL.
    pub async fn start_job_worker<J: BuildJob>(
        &mut self,
        extra_env: &[(&str, &str)],
        settings_of: impl FnOnce(
            &Env,
        ) -> Result<
            (worker::WorkerSettings, J::Config),
            common::config::ConfigError,
        >,
    ) -> String {
        let env = self.env(extra_env);
        let worker = start_job_worker::<J>(&env, settings_of).await;
        let url = format!("http://127.0.0.1:{}", worker.http_port());
        self.tasks.push(tokio::spawn(
            worker.run_until_stopped(self.shutdown.clone()),
        ));
        url
    }

    /// Starts an import worker (`worker-import`) with extra settings; returns its probe URL.
    pub async fn start_import_worker(&mut self, extra_env: &[(&str, &str)]) -> String {
        self.start_job_worker::<worker_import::ImportJob>(
            extra_env,
            worker_import::config::from_env,
        )
        .await
    }

    /// Starts a notification worker (`worker-notification`) with extra settings; returns its
    /// probe URL.
    pub async fn start_notification_worker(&mut self, extra_env: &[(&str, &str)]) -> String {
        self.start_job_worker::<worker_notification::NotificationJob>(
            extra_env,
            worker_notification::config::from_env,
        )
        .await
    }

    /// Starts a webhook worker (`worker-webhook`) with extra settings; returns its probe URL.
    pub async fn start_webhook_worker(&mut self, extra_env: &[(&str, &str)]) -> String {
        self.start_job_worker::<worker_webhook::WebhookJob>(
            extra_env,
            worker_webhook::config::from_env,
        )
        .await
    }

    /// Starts a report worker (`worker-report`) with extra settings; returns its probe URL.
    pub async fn start_report_worker(&mut self, extra_env: &[(&str, &str)]) -> String {
        self.start_job_worker::<worker_report::ReportJob>(
            extra_env,
            worker_report::config::from_env,
        )
        .await
    }

    /// Starts an inbound-event worker (`worker-inbound`) with extra settings; returns its probe
    /// URL.
    pub async fn start_inbound_worker(&mut self, extra_env: &[(&str, &str)]) -> String {
        self.start_job_worker::<worker_inbound::InboundJob>(
            extra_env,
            worker_inbound::config::from_env,
        )
        .await
    }

    /// Starts a service binary (`worker-import`, ...) as its own process on this system's
    /// settings plus `extra_env`; returns its pid, for [`kill_process`](Self::kill_process).
    pub fn start_process(&mut self, name: &'static str, extra_env: &[(&str, &str)]) -> u32 {
        let env = self.worker_env(extra_env);
        let process = ServiceProcess::start(name, &[], &env);
        let pid = process.child.id().expect("running");
        self.processes.push(process);
        pid
    }

    /// SIGKILLs a process [`start_process`](Self::start_process) started, as a crash would.
    pub async fn kill_process(&mut self, pid: u32) {
        let index = self
            .processes
            .iter()
            .position(|p| p.child.id() == Some(pid))
            .expect("a process of this system");
        let mut process = self.processes.remove(index);
        process.child.kill().await.expect("SIGKILL");
    }

    /// Starts one more gateway on the same database and queues (a second replica, or a
    /// replacement with other settings) and returns its base URL.
    pub async fn start_gateway(&mut self, extra_env: &[(&str, &str)]) -> String {
        let env = self.env(extra_env);
        let app = Application::build(GatewayConfig::from_env(&env).expect("gateway config"))
            .await
            .expect("build gateway");
        let url = format!("http://127.0.0.1:{}", app.port());
        self.tasks
            .push(tokio::spawn(app.run_until_stopped(self.shutdown.clone())));
        url
    }

    /// Starts one more gateway as its own process (the built binary, as deployed) on this
    /// system's database and prefix, without an outbox relay, and returns its base URL once it
    /// is ready. Its metrics are its own, unlike those of gateways in this test's process.
    pub async fn start_gateway_process(&mut self, extra_env: &[(&str, &str)]) -> String {
        self.launch_gateway_process(extra_env, None).await
    }

    /// [`start_gateway_process`](Self::start_gateway_process) with its standard output and
    /// error appended to `log` (a file the test then reads: what the gateway logged).
    pub async fn start_gateway_process_logging_to(
        &mut self,
        extra_env: &[(&str, &str)],
        log: &std::path::Path,
    ) -> String {
        self.launch_gateway_process(extra_env, Some(log)).await
    }

    async fn launch_gateway_process(
        &mut self,
        extra_env: &[(&str, &str)],
        log: Option<&std::path::Path>,
    ) -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port()
            .to_string();
        let mut pairs = vec![("PORT", port.as_str()), ("OUTBOX_RELAY", "false")];
        pairs.extend_from_slice(extra_env);
        let env = self.worker_env(&pairs);
        self.processes.push(match log {
            Some(log) => ServiceProcess::start_logging("gateway", &["serve"], &env, log),
            None => ServiceProcess::start("gateway", &["serve"], &env),
        });
        let base_url = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        // `/healthz`, not `/readyz`: a test may start a gateway whose Redis is down on purpose.
        loop {
            let live = self.http.get(format!("{base_url}/healthz")).send().await;
            if live.is_ok_and(|r| r.status().is_success()) {
                return base_url;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the gateway process is not live after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the services the way SIGTERM does and reports whether they stopped cleanly.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        for task in self.tasks.drain(..) {
            let result = tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .expect("service stops within 15 s");
            result.expect("service task").expect("service result");
        }
        for process in self.processes.drain(..) {
            process.stop().await;
        }
        // The queues go with `self.queues`, also when a test panicked before this.
        drop(self.queues);
    }

    /// A request with `key` as bearer; returns the status and the JSON body (`Null` if none).
    /// Panics when the answer contradicts the OpenAPI document ([`contract::check`]).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base_url));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        if let Err(contradiction) = contract::check(&method, path, status, &text) {
            panic!("{contradiction}");
        }
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A plain user (role `user`) of `tenant`'s default account, created by its admin, with a
    /// key.
    pub async fn plain_user(&self, tenant: &TenantHandle, email: &str) -> TenantHandle {
        let (status, user) = self
            .call(
                Method::POST,
                "/api/users",
                Some(&tenant.key),
                Some(json!({"email": email, "role": "user"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        let user_id = user["data"]["id"].as_str().expect("user id").to_owned();
        let (status, key) = self
            .call(
                Method::POST,
                &format!("/api/users/{user_id}/api-keys"),
                Some(&tenant.key),
                Some(json!({"name": "tests"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        TenantHandle {
            tenant_id: tenant.tenant_id.clone(),
            user_id,
            key: key["data"]["key"].as_str().expect("raw key").to_owned(),
        }
    }

    /// Creates a tenant with a tenant admin and returns the admin's key and the tenant id.
    pub async fn tenant_with_admin(&self, slug: &str) -> TenantHandle {
        let (status, tenant) = self
            .call(
                Method::POST,
                "/api/admin/tenants",
                Some(&self.admin_key),
                Some(json!({"name": format!("Tenant {slug}"), "slug": slug, "plan": "pro"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{tenant}");
        let tenant_id = tenant["data"]["id"].as_str().expect("tenant id").to_owned();
        let (status, user) = self
            .call(
                Method::POST,
                "/api/users",
                Some(&self.admin_key),
                Some(json!({"email": format!("admin@{slug}.example"), "role": "tenant_admin", "tenantId": tenant_id})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        let user_id = user["data"]["id"].as_str().expect("user id").to_owned();
        let (status, key) = self
            .call(
                Method::POST,
                &format!("/api/users/{user_id}/api-keys"),
                Some(&self.admin_key),
                Some(json!({"name": "tests"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        TenantHandle {
            tenant_id,
            user_id,
            key: key["data"]["key"].as_str().expect("raw key").to_owned(),
        }
    }

    /// `POST /api/inboxes` with `token` as the WUZAPI user token; returns the inbox id once its
    /// events are set up on WUZAPI (or failed to be), which the gateway does after answering.
    pub async fn create_inbox(&self, tenant: &TenantHandle, token: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/inboxes",
                Some(&tenant.key),
                Some(json!({"name": "Sales", "token": token})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["data"]["id"].as_str().expect("inbox id").to_owned();
        self.settled_inbox_events(tenant, &id).await;
        id
    }

    /// The inbox's `events` (`GET /api/inboxes`) once their setup on WUZAPI, which the gateway
    /// runs after answering the inbox's creation, has settled: configured, or failed with why.
    pub async fn settled_inbox_events(&self, tenant: &TenantHandle, inbox: &str) -> Value {
        eventually(
            "the inbox's events set up on WUZAPI",
            Duration::from_secs(30),
            async || {
                let (status, body) = self
                    .call(
                        Method::GET,
                        "/api/inboxes?fields=id,events&limit=500",
                        Some(&tenant.key),
                        None,
                    )
                    .await;
                if status != StatusCode::OK {
                    return Err(format!("{status}: {body}"));
                }
                let events = body["data"]
                    .as_array()
                    .and_then(|rows| rows.iter().find(|row| row["id"] == inbox))
                    .map(|row| row["events"].clone());
                match events {
                    Some(events) if events["configured"] == true || events["error"].is_string() => {
                        Ok(events)
                    }
                    other => Err(format!("{other:?}")),
                }
            },
        )
        .await
    }

    /// `POST /api/contacts`; returns the contact id.
    pub async fn create_contact(
        &self,
        tenant: &TenantHandle,
        phone: &str,
        name: &str,
        fields: Value,
    ) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/contacts",
                Some(&tenant.key),
                Some(json!({"phone": phone, "name": name, "fields": fields})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"]["id"].as_str().expect("contact id").to_owned()
    }

    /// Writes `count` contacts straight into the database (phones `first_phone`, `first_phone + 1`,
    /// ...) for tests and benches that need more than the API would create quickly; returns ids.
    pub async fn insert_contacts(
        &self,
        tenant: &TenantHandle,
        count: usize,
        first_phone: i64,
    ) -> Vec<String> {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        let connection = db::connect(&self.db.url, 1).await.expect("connect");
        let tenant_id: uuid::Uuid = tenant.tenant_id.parse().expect("tenant id");
        connection
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO contacts (id, tenant_id, account_id, phone, name)
                 SELECT gen_random_uuid(), $1, (SELECT id FROM accounts WHERE tenant_id = $1),
                        ($3 + g)::text, 'C' || g
                   FROM generate_series(0, $2 - 1) AS g",
                [tenant_id.into(), (count as i32).into(), first_phone.into()],
            ))
            .await
            .expect("insert contacts");
        let rows = connection
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT id FROM contacts WHERE tenant_id = $1 AND phone::bigint >= $2 AND phone::bigint < $2 + $3",
                [tenant_id.into(), first_phone.into(), (count as i64).into()],
            ))
            .await
            .expect("contact ids");
        connection.close().await.expect("close");
        rows.iter()
            .map(|r| r.try_get::<uuid::Uuid>("", "id").expect("id").to_string())
            .collect()
    }

    /// `POST /api/campaigns` sending `template` to `contact_ids` with 0-5 ms between messages;
    /// returns `data` (`campaign` and `job`).
    pub async fn create_campaign(
        &self,
        tenant: &TenantHandle,
        inbox_id: &str,
        template: &str,
        contact_ids: &[String],
    ) -> Value {
        self.post_campaign(tenant, "Launch", inbox_id, template, contact_ids, (0, 5))
            .await
    }

    /// A campaign to `count` new contacts (phones from `first_phone`) through a new inbox with
    /// WUZAPI token `token`, `delay_ms` apart; returns its id.
    pub async fn paced_campaign(
        &self,
        tenant: &TenantHandle,
        token: &str,
        count: usize,
        first_phone: i64,
        delay_ms: (u32, u32),
    ) -> String {
        let inbox = self.create_inbox(tenant, token).await;
        let contacts = self.insert_contacts(tenant, count, first_phone).await;
        let data = self
            .post_campaign(tenant, "Paced", &inbox, "Hi {{name}}", &contacts, delay_ms)
            .await;
        data["campaign"]["id"]
            .as_str()
            .expect("campaign id")
            .to_owned()
    }

    /// `POST /api/campaigns`, asserting 202; returns `data` (`campaign` and `job`).
    async fn post_campaign(
        &self,
        tenant: &TenantHandle,
        name: &str,
        inbox_id: &str,
        template: &str,
        contact_ids: &[String],
        delay_ms: (u32, u32),
    ) -> Value {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/campaigns",
                Some(&tenant.key),
                Some(json!({
                    "name": name,
                    "inboxId": inbox_id,
                    "template": template,
                    "contactIds": contact_ids,
                    "delayMinMs": delay_ms.0,
                    "delayMaxMs": delay_ms.1,
                })),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body["data"].clone()
    }

    /// `POST /api/invitations` of `email` as `role` into `tenant`; returns the one-time token.
    pub async fn invitation(&self, tenant: &TenantHandle, email: &str, role: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/invitations",
                Some(&tenant.key),
                Some(json!({"email": email, "role": role})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"]["token"].as_str().expect("token").to_owned()
    }

    /// The value of a counter or gauge with exactly this label set (`name{a="b"}`) on the
    /// `/metrics` of the service at `base` (0 when the series is absent).
    pub async fn metric_at(&self, base: &str, series: &str) -> f64 {
        let text = self
            .http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("body");
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// Waits until no job of `queue` due within the next minute is in one of `busy` states and
    /// no outbox row of it is due within the minute: the queue's workers have finished with
    /// what they were given, so a test can then assert what did not happen. `busy` is
    /// `[Waiting, Active]` where a delayed job is at rest (a paused campaign), and also
    /// `Delayed` where no retry may be left. A job scheduled further ahead (tomorrow's
    /// allowance, a send window hours away) is at rest too.
    pub async fn wait_for_jobs_settled(&self, queue: common::QueueName, busy: &[common::JobState]) {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        let connection = db::connect(&self.db.url, 1).await.unwrap();
        let states = busy
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",");
        eventually(
            &format!("{} jobs settled", queue.as_str()),
            Duration::from_secs(30),
            async || {
                let row = connection
                    .query_one_raw(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "SELECT (SELECT count(*) FROM jobs
                                  WHERE queue = $1 AND state = ANY(string_to_array($2, ','))
                                    AND run_at <= now() + interval '1 minute')
                              + (SELECT count(*) FROM outbox
                                  WHERE queue = $1 AND available_at <= now() + interval '1 minute') AS n",
                        [queue.as_str().into(), states.clone().into()],
                    ))
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or("no row")?;
                let busy: i64 = row.try_get("", "n").map_err(|e| e.to_string())?;
                if busy == 0 {
                    Ok(())
                } else {
                    Err(format!("{busy} jobs in {states:?} or outbox rows"))
                }
            },
        )
        .await;
        connection.close().await.ok();
    }

    /// Polls the campaign's job until it is completed or failed, or its campaign is paused or
    /// cancelled (the job then waits for its owner).
    pub async fn wait_for_campaign_job(&self, key: &str, campaign_id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (status, body) = self
                .call(
                    Method::GET,
                    &format!("/api/jobs/campaign/{campaign_id}/status"),
                    Some(key),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let state = body["data"]["state"].as_str().unwrap_or_default();
            let campaign = body["data"]["campaignStatus"].as_str().unwrap_or_default();
            let stopped = ["paused", "cancelled"].contains(&campaign) && state != "active";
            if state == "completed" || state == "failed" || stopped {
                return body["data"].clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job still {state} after 60 s: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub struct TenantHandle {
    pub tenant_id: String,
    pub user_id: String,
    pub key: String,
}
