//! The gateway's and Lambda runtime's own unittest suite (Python, standard
//! library only), run here so that `cargo test --workspace` covers it too. It
//! starts both programs on 127.0.0.1 with throwaway certificates.

use std::process::Command;

use e2e::root;

#[test]
fn gateway_python_suite_passes() {
    let output = Command::new("python3")
        .current_dir(root())
        .args(["-m", "unittest", "discover", "-s", "fixtures/stack/gateway", "-t", "fixtures/stack/gateway"])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3 is needed to run the gateway's unittest suite");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "python3 -m unittest failed:\n{stderr}");
    assert!(!stderr.contains("skipped"), "part of the gateway suite was skipped (is openssl missing?):\n{stderr}");
    let summary = stderr.lines().filter(|line| line.starts_with("Ran ")).collect::<Vec<_>>();
    assert_eq!(summary.len(), 1, "no unittest summary in:\n{stderr}");
}
