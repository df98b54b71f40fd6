//! The binary as deployed: a missing or bad setting stops it at start, naming the variable.
//! (Also makes `cargo nextest run --workspace` build the binary.)

fn run(env: &[(&str, &str)]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_worker-notification"));
    // The test runner's own settings must not decide the outcome.
    for var in [
        "DEV_MODE",
        "VAPID_PRIVATE_KEY",
        "VAPID_SUBJECT",
        "WEB_PUSH_ENABLED",
    ] {
        command.env_remove(var);
    }
    command
        .envs(env.iter().copied())
        .output()
        .expect("run worker-notification")
}

#[test]
fn a_missing_or_bad_setting_stops_the_worker_naming_the_variable() {
    const KEY: &str = "LjBAd5FPjyATr0bUyk2SN0nW1Ph_61Bf_bWy-MFGRfI";
    let cases: [(&[(&str, &str)], &str); 6] = [
        // Web Push without a key, outside development mode.
        (&[], "VAPID_PRIVATE_KEY"),
        (
            &[
                ("VAPID_PRIVATE_KEY", "c2hvcnQ"),
                ("VAPID_SUBJECT", "mailto:ops@example.com"),
            ],
            "VAPID_PRIVATE_KEY",
        ),
        (&[("VAPID_PRIVATE_KEY", KEY)], "VAPID_SUBJECT"),
        (
            &[
                ("VAPID_PRIVATE_KEY", KEY),
                ("VAPID_SUBJECT", "ops@example.com"),
            ],
            "VAPID_SUBJECT",
        ),
        (
            &[("DEV_MODE", "true"), ("WEB_PUSH_TTL_SECONDS", "-1")],
            "WEB_PUSH_TTL_SECONDS",
        ),
        (
            &[
                ("DEV_MODE", "true"),
                ("WORKER_NOTIFICATION_CONCURRENCY", "0"),
            ],
            "WORKER_NOTIFICATION_CONCURRENCY",
        ),
    ];
    for (env, var) in cases {
        let output = run(env);
        assert_eq!(output.status.code(), Some(2), "{env:?}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(var), "{env:?}: {stderr}");
        assert!(
            !stderr.contains(KEY),
            "the private key is never echoed: {stderr}"
        );
    }
}
