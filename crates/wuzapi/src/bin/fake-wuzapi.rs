//! Runs the fake WUZAPI server until Ctrl-C or SIGTERM. Settings come from the environment;
//! see the crate README.

use std::net::ToSocketAddrs;
use std::process::ExitCode;

use wuzapi::{FakeConfig, FakeWuzapi};

const ADDR_VAR: &str = "FAKE_WUZAPI_ADDR";
const ADMIN_TOKEN_VAR: &str = "FAKE_WUZAPI_ADMIN_TOKEN";
const ACCEPT_ANY_TOKEN_VAR: &str = "FAKE_WUZAPI_ACCEPT_ANY_TOKEN";

struct Settings {
    addr: String,
    config: FakeConfig,
}

/// The variable's value; unset and empty both mean "use the default".
fn var(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => Ok(Some(value.trim().to_owned())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
    }
}

fn settings() -> Result<Settings, String> {
    let addr = var(ADDR_VAR)?.unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    match addr.to_socket_addrs().map(|mut addrs| addrs.next()) {
        Ok(Some(_)) => {}
        Ok(None) => return Err(format!("{ADDR_VAR}={addr:?} resolves to no address")),
        Err(err) => {
            return Err(format!(
                "{ADDR_VAR}={addr:?} is not a host:port address ({err})"
            ));
        }
    }
    let admin_token = var(ADMIN_TOKEN_VAR)?.unwrap_or_else(|| "admin".to_owned());
    let accept_any_token = match var(ACCEPT_ANY_TOKEN_VAR)?.map(|v| v.to_ascii_lowercase()) {
        None => true,
        Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => true,
        Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => false,
        Some(v) => {
            return Err(format!(
                "{ACCEPT_ANY_TOKEN_VAR}={v:?} must be true or false"
            ));
        }
    };
    Ok(Settings {
        addr,
        config: FakeConfig {
            accept_any_token,
            admin_token,
            ..FakeConfig::default()
        },
    })
}

#[cfg(unix)]
async fn shutdown_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = terminate.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn shutdown_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match settings() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("fake-wuzapi: {message}");
            return ExitCode::from(2);
        }
    };
    let accept_any_token = settings.config.accept_any_token;
    let fake = match FakeWuzapi::start_with(&settings.addr, settings.config) {
        Ok(fake) => fake,
        Err(err) => {
            eprintln!(
                "fake-wuzapi: cannot listen on {ADDR_VAR}={:?}: {err}",
                settings.addr
            );
            return ExitCode::FAILURE;
        }
    };
    println!(
        "fake WUZAPI listening on {} (accept any token: {accept_any_token}); Ctrl-C to stop",
        fake.base_url()
    );
    if let Err(err) = shutdown_signal().await {
        eprintln!("fake-wuzapi: cannot wait for a shutdown signal: {err}");
        fake.stop().await;
        return ExitCode::FAILURE;
    }
    println!("fake WUZAPI stopping");
    fake.stop().await;
    ExitCode::SUCCESS
}
