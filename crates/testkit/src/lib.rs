#![doc = include_str!("../README.md")]

pub mod otlp;
pub mod redis_cluster;
pub mod redis_keys;
pub mod redis_server;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database};

/// A migrated database that exists for one test and is dropped with this value.
pub struct TestDatabase {
    pub url: String,
    name: String,
    server_url: String,
}

fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

impl TestDatabase {
    pub async fn create() -> anyhow::Result<Self> {
        let server_url = server_url();
        let (base, _) = server_url
            .rsplit_once('/')
            .ok_or_else(|| anyhow::anyhow!("TEST_DATABASE_URL has no database name"))?;
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(&server_url).await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        admin.close().await?;
        // From here on the database is dropped with this value, also when migrating fails.
        let database = Self {
            url: format!("{base}/{name}"),
            name,
            server_url,
        };
        let db = Database::connect(&database.url).await?;
        Migrator::up(&db, None).await?;
        db.close().await?;
        Ok(database)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let server_url = self.server_url.clone();
        let name = self.name.clone();
        // Drop runs outside async context: use a private runtime on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let admin = Database::connect(&server_url).await?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await?;
                admin.close().await?;
                anyhow::Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("testkit: could not drop database {}", self.name);
        }
    }
}

/// A queue prefix no other test uses.
pub fn random_queue_prefix() -> String {
    format!("test-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// A random queue prefix whose queues and exchanges are deleted when this value is dropped,
/// also when the test panicked. `wait_delays` names the wait queues the test's workers declare.
pub struct TestQueues {
    pub prefix: String,
    wait_delays: Vec<std::time::Duration>,
}

/// The broker tests use (`AMQP_URL`, as the services read it).
pub fn amqp_url() -> String {
    std::env::var("AMQP_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

impl TestQueues {
    pub fn new(wait_delays: &[std::time::Duration]) -> Self {
        Self {
            prefix: random_queue_prefix(),
            wait_delays: wait_delays.to_vec(),
        }
    }
}

impl Drop for TestQueues {
    fn drop(&mut self) {
        use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
        let prefix = self.prefix.clone();
        // The test's own delays, and the runtime's default back-off (2 s doubling) for workers
        // a test starts without its settings.
        let mut waits: Vec<u128> = self.wait_delays.iter().map(|d| d.as_millis()).collect();
        waits.extend([2_000, 4_000, 8_000, 16_000]);
        waits.sort_unstable();
        waits.dedup();
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let connection =
                    lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
                        .await?;
                // A broker may refuse to delete a queue that was never declared with a 404 that
                // closes the channel (RabbitMQ 3.10 accepts it): one channel per name, so one
                // missing queue does not keep the others alive.
                for queue in common::QueueName::ALL.map(common::QueueName::as_str) {
                    let mut names = vec![
                        format!("{prefix}.{queue}"),
                        format!("{prefix}.{queue}.dead"),
                    ];
                    names.extend(waits.iter().map(|ms| format!("{prefix}.{queue}.wait.{ms}")));
                    for name in names {
                        let channel = connection.create_channel().await?;
                        let _ = channel
                            .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                            .await;
                        close_quietly(&channel).await;
                    }
                }
                for exchange in ["jobs", "dead"] {
                    let channel = connection.create_channel().await?;
                    let _ = channel
                        .exchange_delete(
                            format!("{prefix}.{exchange}").as_str().into(),
                            ExchangeDeleteOptions::default(),
                        )
                        .await;
                    close_quietly(&channel).await;
                }
                let _ = connection.close(200, "bye".into()).await;
                anyhow::Ok(())
            })
        })
        .join();
        if !matches!(deleted, Ok(Ok(()))) {
            eprintln!(
                "testkit: could not delete the queues of prefix {}",
                self.prefix
            );
        }
    }
}

/// Closes a channel the broker left open, and waits for it: a channel only dropped is closed
/// in the background, and if the connection is closing by then lapin logs a "Connection error".
async fn close_quietly(channel: &lapin::Channel) {
    if channel.status().connected() {
        let _ = channel.close(200, "done".into()).await;
    }
}

/// A TCP proxy on loopback that a test can cut and restore, to play a network failure between
/// a service and a dependency (say, a worker and RabbitMQ) without touching the dependency.
pub struct CuttableProxy {
    pub port: u16,
    cut: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl CuttableProxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    pub async fn start(upstream: std::net::SocketAddr) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (cut, _) = tokio::sync::watch::channel(false);
        let cut = std::sync::Arc::new(cut);
        let state = cut.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if *state.borrow() {
                    drop(client); // refused while cut
                    continue;
                }
                let mut cut_signal = state.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_signal.wait_for(|cut| *cut) => {}
                    }
                    // Dropping both ends resets the connection, as a failed link would.
                });
            }
        });
        Ok(Self { port, cut, task })
    }

    /// Drops every connection and refuses new ones until [`restore`](Self::restore).
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
