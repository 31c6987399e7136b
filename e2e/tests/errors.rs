//! How failures read: each test runs `cargo xtask` on a broken input and
//! checks that the error names what failed, on which input, and what to do.

use e2e::{root, run_xtask_capturing};

#[test]
fn unreachable_engine_names_socket() {
    let (status, stderr) = run_xtask_capturing(&["smoke"], &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")]).unwrap();
    assert!(!status.success());
    assert!(stderr.contains("unix:///nonexistent/docker.sock"), "{stderr}");
    assert!(stderr.contains("hint: check that DOCKER_HOST names a running engine"), "{stderr}");
}

#[test]
fn malformed_template_names_line() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("template.yaml");
    std::fs::write(&template, "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: [unclosed\n").unwrap();

    let (status, stderr) = run_xtask_capturing(&["build-functions", "--plan", "--template", template.to_str().unwrap()], &[]).unwrap();
    assert!(!status.success());
    assert!(stderr.contains(template.to_str().unwrap()), "{stderr}");
    assert!(stderr.contains(":5:") || stderr.contains("line 5"), "no line number in: {stderr}");
}

#[test]
fn malformed_compose_names_line() {
    let dir = tempfile::tempdir().unwrap();
    let compose = dir.path().join("compose.yaml");
    std::fs::write(&compose, "services:\n  gateway:\n    image: [unclosed\n").unwrap();

    let (status, stderr) = run_xtask_capturing(&["bundle", "--compose-file", compose.to_str().unwrap()], &[]).unwrap();
    assert!(!status.success());
    assert!(stderr.contains(&format!("{}:", compose.display())), "{stderr}");
    assert!(stderr.contains("invalid YAML"), "{stderr}");
}

#[test]
fn missing_images_listed_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let compose = dir.path().join("compose.yaml");
    std::fs::write(
        &compose,
        "services:\n  cache:\n    image: esb-e2e/absent-cache:1\n  queue:\n    image: esb-e2e/absent-queue:1\n",
    )
    .unwrap();
    let out_dir = dir.path().join("out");

    let (status, stderr) = run_xtask_capturing(
        &["bundle", "--compose-file", compose.to_str().unwrap(), "--out-dir", out_dir.to_str().unwrap(), "--tag", "esb-bundle:e2e-never"],
        &[],
    )
    .unwrap();
    assert!(!status.success());
    assert!(stderr.contains("2 images are not present"), "{stderr}");
    assert!(stderr.contains("`esb-e2e/absent-cache:1` named by service `cache`"), "{stderr}");
    assert!(stderr.contains("`esb-e2e/absent-queue:1` named by service `queue`"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(!out_dir.join("images.tar").exists(), "a failed run left images.tar behind");
    assert!(root().exists());
}
