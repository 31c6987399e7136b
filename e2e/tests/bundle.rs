//! The fixture bundle, end to end: `cargo xtask bundle` builds it, `cargo
//! xtask smoke` boots and checks it, and the HTTPS cases run against a booted
//! copy through the port it publishes on 127.0.0.1.

use std::time::Duration;

use e2e::{cases, cert_dir, ensure_bundle, run_xtask, Target, BUNDLE_TAG};

#[test]
fn bundle_builds_and_smoke_passes() {
    ensure_bundle().expect("cargo xtask bundle");
    run_xtask(&["smoke", "--image", BUNDLE_TAG]).expect("cargo xtask smoke");
}

#[test]
fn cases_pass_against_bundle() {
    ensure_bundle().expect("cargo xtask bundle");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let docker = xtask::engine::connect().await.expect("Docker engine");
        let container = format!("esb-e2e-bundle-{}", std::process::id());
        let result = async {
            let running = xtask::smoke::start(&docker, BUNDLE_TAG, &container).await?;
            let step = xtask::report::Step::start("e2e", format!("booting {BUNDLE_TAG} as {container}"));
            xtask::smoke::wait_healthy(&docker, &container, Duration::from_secs(600), &step).await?;
            step.done("healthy");
            let target = Target { name: "bundle".to_owned(), gateway: running.gateway, cert_dir: cert_dir() };
            let outcomes = cases::run_all(&target).await?;
            cases::report(&target, &outcomes)
        }
        .await;
        xtask::smoke::remove_container(&docker, &container).await;
        result.expect("cases against the bundle");
    });
}
