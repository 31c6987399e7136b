//! Shared parts of the end-to-end tests: running `cargo xtask`, the targets a
//! suite runs against, and the suite itself (`cases`).

pub mod cases;

use std::net::SocketAddr;
use std::process::Command;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

/// Tag of the bundle the e2e tests build, apart from a user's `esb-bundle:latest`.
pub const BUNDLE_TAG: &str = "esb-bundle:e2e";

pub fn root() -> Utf8PathBuf {
    xtask::project::root()
}

pub fn cert_dir() -> Utf8PathBuf {
    root().join(".esb/certs")
}

/// Returns the command `cargo run --package xtask -- ARGS`, run from the
/// repository root with the certificate folder the tests use.
fn xtask_command(args: &[&str]) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.current_dir(root()).args(["run", "--quiet", "--package", "xtask", "--"]).args(args).env("CERT_DIR", cert_dir());
    // Cargo sets these for the test binary. Build scripts (ring's among them)
    // watch some of them, so passing them on would make the nested cargo
    // rebuild those crates, and the user's next `cargo xtask` rebuild them back.
    for (key, _) in std::env::vars() {
        let set_for_test = key.starts_with("CARGO_PKG_")
            || matches!(
                key.as_str(),
                "CARGO_MANIFEST_DIR" | "CARGO_MANIFEST_PATH" | "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE" | "CARGO_TARGET_TMPDIR" | "CARGO_BIN_NAME"
            );
        if set_for_test {
            command.env_remove(key);
        }
    }
    command
}

/// Runs `cargo xtask ARGS` from the repository root, as a user would; its
/// progress goes straight to the test's stderr.
pub fn run_xtask(args: &[&str]) -> Result<()> {
    eprintln!("[e2e] cargo xtask {}", args.join(" "));
    let status = xtask_command(args).status().context("cannot run cargo")?;
    if !status.success() {
        bail!("`cargo xtask {}` failed with {status}", args.join(" "));
    }
    Ok(())
}

/// Runs `cargo xtask ARGS` and returns its exit status and standard error,
/// for tests of how failures read.
pub fn run_xtask_capturing(args: &[&str], envs: &[(&str, &str)]) -> Result<(std::process::ExitStatus, String)> {
    let output = xtask_command(args).envs(envs.iter().copied()).output().context("cannot run cargo")?;
    Ok((output.status, String::from_utf8_lossy(&output.stderr).into_owned()))
}

/// Builds the fixture bundle once per test binary; later calls reuse it.
pub fn ensure_bundle() -> Result<()> {
    static BUILT: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut built = BUILT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !*built {
        run_xtask(&["bundle", "--tag", BUNDLE_TAG])?;
        *built = true;
    }
    Ok(())
}

/// Where a suite sends its requests: a gateway address and the certificates
/// the stack was built with.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub gateway: SocketAddr,
    pub cert_dir: Utf8PathBuf,
}

impl Target {
    pub fn ca_cert(&self) -> Utf8PathBuf {
        self.cert_dir.join("rootCA.crt")
    }

    pub fn client_identity(&self) -> (Utf8PathBuf, Utf8PathBuf) {
        (self.cert_dir.join("client.crt"), self.cert_dir.join("client.key"))
    }
}

/// Runs a future to completion on a new Tokio runtime, for synchronous tests.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Runtime::new().expect("a Tokio runtime").block_on(future)
}

/// A bundle container started for one test, with its gateway published on 127.0.0.1.
pub struct BootedBundle {
    pub docker: bollard::Docker,
    pub container: String,
    pub gateway: SocketAddr,
}

impl BootedBundle {
    /// Starts the e2e bundle as `docker run --privileged` would and waits until
    /// it is healthy. A container that fails to boot is removed before returning.
    pub async fn boot(name_prefix: &str) -> Result<BootedBundle> {
        let docker = xtask::engine::connect().await?;
        let container = xtask::smoke::unique_container_name(name_prefix);
        let booted = async {
            let running = xtask::smoke::start(&docker, BUNDLE_TAG, &container).await?;
            let step = xtask::report::Step::start("e2e", format!("booting {BUNDLE_TAG} as {container}"));
            xtask::smoke::wait_healthy(&docker, &container, std::time::Duration::from_secs(600), &step).await?;
            step.done("healthy");
            Ok::<_, anyhow::Error>(running.gateway)
        }
        .await;
        match booted {
            Ok(gateway) => Ok(BootedBundle { docker, container, gateway }),
            Err(error) => {
                xtask::smoke::remove_container(&docker, &container).await;
                Err(error)
            }
        }
    }

    /// Removes the container and its volumes.
    pub async fn remove(self) {
        xtask::smoke::remove_container(&self.docker, &self.container).await;
    }
}

/// Returns a TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

pub fn utf8(path: &std::path::Path) -> &Utf8Path {
    Utf8Path::from_path(path).expect("temporary paths are UTF-8")
}
