//! The same HTTPS cases against the fixture stack brought up with compose on
//! the host engine, from the stack files the bundler generates: the bundle
//! must behave exactly like the stack it carries.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camino::Utf8PathBuf;
use e2e::{block_on, cases, cert_dir, ensure_bundle, free_port, root, Target};
use xtask::manifest::{read_json, FunctionsManifest, FUNCTIONS_MANIFEST};

const PROJECT: &str = "esb-e2e-host";

/// A stack started with docker-compose, taken down with its volumes on drop.
struct HostStack {
    dir: Utf8PathBuf,
    port: u16,
}

impl HostStack {
    fn compose(&self, args: &[&str]) -> Result<()> {
        let status = Command::new("docker-compose")
            .current_dir(&self.dir)
            .args(["-p", PROJECT, "-f", "compose.yaml", "-f", "compose.functions.yaml"])
            .args(args)
            .env("ESB_GATEWAY_ADDRESS", "127.0.0.1")
            .env("ESB_GATEWAY_PORT", self.port.to_string())
            .status()
            .context("cannot run docker-compose; `.ci/docker-host.sh` installs it")?;
        if !status.success() {
            bail!("docker-compose {} failed with {status}", args.join(" "));
        }
        Ok(())
    }
}

impl Drop for HostStack {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "--volumes", "--timeout", "5"]);
    }
}

fn write_host_stack() -> Result<HostStack> {
    let out_dir = root().join("target/esb");
    let functions: FunctionsManifest = read_json(&out_dir.join(FUNCTIONS_MANIFEST))?;
    let variables = xtask::collect_images::compose_variables("unused: every image is built already");
    let compose = xtask::compose::load(&root().join("fixtures/stack/compose.yaml"), &variables)?;
    let stack = xtask::bundle::stack_files(&compose, &functions)?;

    let dir = root().join("target/e2e/host-stack");
    xtask::bundle::write_stack_dir(&dir, &stack)?;
    std::fs::create_dir_all(dir.join("certs"))?;
    for name in xtask::certs::BUNDLE_FILES {
        std::fs::copy(cert_dir().join(name), dir.join("certs").join(name)).with_context(|| format!("cannot copy {name}"))?;
    }
    Ok(HostStack { dir, port: free_port()? })
}

async fn wait_for_gateway(target: &Target, timeout: Duration) -> Result<()> {
    let (cert, key) = target.client_identity();
    let config = xtask::tls::client_config(&target.ca_cert(), Some((&cert, &key)))?;
    let started = Instant::now();
    loop {
        let attempt = xtask::tls::request(config.clone(), target.gateway, "localhost", "GET", "/esb/health", None, Duration::from_secs(5)).await;
        match attempt {
            Ok(response) if response.status == 200 => return Ok(()),
            _ if started.elapsed() > timeout => bail!("gateway on {} did not answer within {} s: {attempt:?}", target.gateway, timeout.as_secs()),
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

#[test]
fn cases_pass_against_host_stack() {
    ensure_bundle().expect("cargo xtask bundle");
    let stack = write_host_stack().expect("host stack files");
    stack.compose(&["up", "-d", "--no-build"]).expect("docker-compose up");

    let target = Target {
        name: "host".to_owned(),
        gateway: std::net::SocketAddr::from(([127, 0, 0, 1], stack.port)),
        cert_dir: cert_dir(),
    };
    block_on(async {
        wait_for_gateway(&target, Duration::from_secs(60)).await.expect("gateway on the host stack");
        let outcomes = cases::run_all(&target).await.expect("cases");
        cases::report(&target, &outcomes).expect("cases against the host stack");
    });
}
