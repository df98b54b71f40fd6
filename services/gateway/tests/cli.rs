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
