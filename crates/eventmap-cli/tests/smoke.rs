//! The binary starts and describes itself. (Having an integration test here also makes
//! `cargo test --workspace` build `eventmap`, which the end-to-end tests in `tests/` run.)

use std::process::Command;

#[test]
fn help_lists_the_commands() {
    let out = Command::new(env!("CARGO_BIN_EXE_eventmap"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for command in ["check", "map", "transforms"] {
        assert!(
            text.contains(command),
            "--help does not mention {command}:\n{text}"
        );
    }
}

#[test]
fn transforms_lists_the_builtins() {
    let out = Command::new(env!("CARGO_BIN_EXE_eventmap"))
        .arg("transforms")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l.starts_with("sha256_email")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("minor_units")), "{text}");
}
