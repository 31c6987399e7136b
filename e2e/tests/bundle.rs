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
        let container = xtask::smoke::unique_container_name("esb-e2e-bundle");
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

#[test]
fn bundle_stops_cleanly_on_sigterm() {
    ensure_bundle().expect("cargo xtask bundle");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let docker = xtask::engine::connect().await.expect("Docker engine");
        let container = xtask::smoke::unique_container_name("esb-e2e-stop");
        let result = async {
            xtask::smoke::start(&docker, BUNDLE_TAG, &container).await?;
            let step = xtask::report::Step::start("e2e", format!("booting {BUNDLE_TAG} as {container}"));
            xtask::smoke::wait_healthy(&docker, &container, Duration::from_secs(600), &step).await?;
            step.done("healthy");

            let started = std::time::Instant::now();
            let options = bollard::query_parameters::StopContainerOptionsBuilder::default().t(60).build();
            docker.stop_container(&container, Some(options)).await?;
            let stop_time = started.elapsed();
            let state = docker.inspect_container(&container, None).await?.state.unwrap_or_default();
            let log = xtask::smoke::container_log_tail(&docker, &container).await;
            anyhow::ensure!(state.exit_code == Some(0), "exit code {:?} after SIGTERM\n{log}", state.exit_code);
            anyhow::ensure!(stop_time < Duration::from_secs(60), "stop took {stop_time:?}, so dockerd was killed, not stopped\n{log}");
            anyhow::ensure!(log.contains("stopping: services first, then dockerd"), "no orderly stop in the log\n{log}");
            anyhow::ensure!(log.contains("[esb] stopped"), "the entrypoint did not finish its stop\n{log}");
            Ok(())
        }
        .await;
        xtask::smoke::remove_container(&docker, &container).await;
        result.expect("bundle stops on SIGTERM");
    });
}

#[test]
fn bundle_restarts_after_kill() {
    ensure_bundle().expect("cargo xtask bundle");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let docker = xtask::engine::connect().await.expect("Docker engine");
        let container = xtask::smoke::unique_container_name("esb-e2e-kill");
        let result = async {
            xtask::smoke::start(&docker, BUNDLE_TAG, &container).await?;
            let step = xtask::report::Step::start("e2e", format!("booting {BUNDLE_TAG} as {container}"));
            xtask::smoke::wait_healthy(&docker, &container, Duration::from_secs(600), &step).await?;
            step.done("healthy");

            // SIGKILL leaves dockerd's pid file behind, as a crash or a host reboot would.
            docker.kill_container(&container, None::<bollard::query_parameters::KillContainerOptions>).await?;
            docker.start_container(&container, None::<bollard::query_parameters::StartContainerOptions>).await?;
            let step = xtask::report::Step::start("e2e", format!("restarting {container} after SIGKILL"));
            xtask::smoke::wait_healthy(&docker, &container, Duration::from_secs(600), &step).await?;
            step.done("healthy again");
            let log = xtask::smoke::container_log_tail(&docker, &container).await;
            anyhow::ensure!(log.contains("images already loaded"), "the restart loaded the images again\n{log}");
            Ok(())
        }
        .await;
        xtask::smoke::remove_container(&docker, &container).await;
        result.expect("bundle restarts after SIGKILL");
    });
}
