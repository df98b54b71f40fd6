//! The `gateway` binary as an operator starts it: a setting it cannot use stops it at once,
//! with exit status 2 and a message naming the setting (not a panic, not a retry loop).

use std::process::Command;

#[test]
fn an_unusable_setting_stops_the_gateway_with_a_message_naming_it() {
    let output = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("serve")
        .env("PORT", "eighty")
        .output()
        .expect("run gateway");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("gateway: "), "{stderr}");
    assert!(stderr.contains("PORT"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_gateway_that_cannot_start_says_why_in_one_line() {
    // The port is taken: the gateway gets past its database and stops at the listener.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().unwrap().port().to_string();
    let database = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let output = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("serve")
        .env("PORT", &port)
        .env("DATABASE_URL", database)
        .env("DEV_MODE", "true")
        .env("OUTBOX_RELAY", "false")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run gateway");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        format!("gateway: cannot listen on 127.0.0.1:{port}: Address already in use (os error 98)"),
        "one line, no backtrace"
    );
}
