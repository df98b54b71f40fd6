//! The binary as deployed: a bad setting stops it at start, naming the variable. (Also makes
//! `cargo nextest run --workspace` build the binary the system tests and the benchmark start.)

#[test]
fn a_bad_setting_stops_the_worker_naming_the_variable() {
    for (var, value) in [
        ("WEBHOOK_RETRY_SCHEDULE", "5s,soon"),
        ("WEBHOOK_DISABLE_AFTER", "forever"),
        ("WORKER_WEBHOOK_CONCURRENCY", "0"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_worker-webhook"))
            .env("DEV_MODE", "true")
            .env(var, value)
            .output()
            .expect("run worker-webhook");
        assert_eq!(output.status.code(), Some(2), "{var}={value}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(var), "{var}={value}: {stderr}");
    }
}
