//! The binary as deployed: a bad setting stops it at start, naming the variable. (Also makes
//! `cargo nextest run --workspace` build the binary the system tests start as a process.)

#[test]
fn a_bad_setting_stops_the_worker_naming_the_variable() {
    for (var, value) in [
        ("STORAGE_URL", "ftp://files.example/reports"),
        ("REPORT_TTL_HOURS", "0"),
        ("REPORT_TTL_SECONDS", "soon"),
        ("REPORT_SWEEP_SECONDS", "0"),
        ("WORKER_REPORT_CONCURRENCY", "0"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_worker-report"))
            .env(var, value)
            .output()
            .expect("run worker-report");
        assert_eq!(output.status.code(), Some(2), "{var}={value}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(var), "{var}={value}: {stderr}");
    }
}
