//! The fixture bundle, end to end. `cargo xtask bundle` builds it and `cargo
//! xtask smoke` boots and checks it. The HTTPS cases run against a booted copy
//! through the port it publishes on 127.0.0.1. Other copies are stopped and
//! killed the ways a site's host would.

use std::time::{Duration, Instant};

use anyhow::ensure;
use bollard::query_parameters::{KillContainerOptions, StartContainerOptions, StopContainerOptionsBuilder};
use e2e::{block_on, cases, cert_dir, ensure_bundle, run_xtask, BootedBundle, Target, BUNDLE_TAG};

#[test]
fn bundle_builds_and_smoke_passes() {
    ensure_bundle().expect("cargo xtask bundle");
    run_xtask(&["smoke", "--image", BUNDLE_TAG]).expect("cargo xtask smoke");
}

#[test]
fn cases_pass_against_bundle() {
    ensure_bundle().expect("cargo xtask bundle");
    block_on(async {
        let bundle = BootedBundle::boot("esb-e2e-bundle").await.expect("bundle boots");
        let target = Target { name: "bundle".to_owned(), gateway: bundle.gateway, cert_dir: cert_dir() };
        let result = async {
            let outcomes = cases::run_all(&target).await?;
            cases::report(&target, &outcomes)
        }
        .await;
        bundle.remove().await;
        result.expect("cases against the bundle");
    });
}

#[test]
fn bundle_stops_cleanly_on_sigterm() {
    ensure_bundle().expect("cargo xtask bundle");
    block_on(async {
        let bundle = BootedBundle::boot("esb-e2e-stop").await.expect("bundle boots");
        let (docker, container) = (&bundle.docker, &bundle.container);
        let result = async {
            let started = Instant::now();
            docker.stop_container(container, Some(StopContainerOptionsBuilder::default().t(60).build())).await?;
            let stop_time = started.elapsed();

            let state = docker.inspect_container(container, None).await?.state.unwrap_or_default();
            let log = xtask::smoke::container_log_tail(docker, container).await;
            ensure!(state.exit_code == Some(0), "exit code {:?} after SIGTERM\n{log}", state.exit_code);
            ensure!(stop_time < Duration::from_secs(60), "stop took {stop_time:?}, so dockerd was killed, not stopped\n{log}");
            ensure!(log.contains("stopping: services first, then dockerd"), "no orderly stop in the log\n{log}");
            ensure!(log.contains("[esb] stopped"), "the entrypoint did not finish its stop\n{log}");
            Ok(())
        }
        .await;
        bundle.remove().await;
        result.expect("bundle stops on SIGTERM");
    });
}

#[test]
fn bundle_restarts_after_kill() {
    ensure_bundle().expect("cargo xtask bundle");
    block_on(async {
        let bundle = BootedBundle::boot("esb-e2e-kill").await.expect("bundle boots");
        let (docker, container) = (&bundle.docker, &bundle.container);
        let result = async {
            // SIGKILL leaves dockerd's pid file behind, as a crash or a host reboot would.
            docker.kill_container(container, None::<KillContainerOptions>).await?;
            docker.start_container(container, None::<StartContainerOptions>).await?;
            let step = xtask::report::Step::start("e2e", format!("restarting {container} after SIGKILL"));
            xtask::smoke::wait_healthy(docker, container, Duration::from_secs(600), &step).await?;
            step.done("healthy again");

            let log = xtask::smoke::container_log_tail(docker, container).await;
            ensure!(log.contains("images already loaded"), "the restart loaded the images again\n{log}");
            Ok(())
        }
        .await;
        bundle.remove().await;
        result.expect("bundle restarts after SIGKILL");
    });
}
