//! `cargo xtask smoke`: runs a bundle image as a site would (`docker run
//! --privileged`), waits until it is healthy, checks what it contains and serves,
//! prints one line per check and removes everything it started.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bollard::models::{ContainerCreateBody, HealthStatusEnum, HostConfig, PortBinding};
use bollard::query_parameters::{CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder};
use bollard::Docker;
use futures_util::StreamExt;
use serde::Serialize;

use crate::bundle::{GATEWAY_PORT, PROJECT};
use crate::flags::SmokeArgs;
use crate::manifest::{BundleManifest, FunctionsManifest};
use crate::{engine, project, report, scan, tls};

/// The outcome of one check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

impl Check {
    fn new(name: impl Into<String>, passed: bool, detail: impl Into<String>) -> Check {
        Check { name: name.into(), passed, detail: detail.into() }
    }
}

/// A running bundle container and how to reach its gateway.
pub struct Running {
    pub container: String,
    pub gateway: SocketAddr,
}

pub async fn run(args: &SmokeArgs) -> Result<()> {
    let docker = engine::connect().await?;
    let cert_dir = match &args.cert_dir {
        Some(dir) => project::absolute(dir)?,
        None => project::default_cert_dir(),
    };
    let tls_config = tls::client_config(
        &cert_dir.join("rootCA.crt"),
        Some((&cert_dir.join("client.crt"), &cert_dir.join("client.key"))),
    )
    .context("smoke needs the certificates the bundle was built with\nhint: pass --cert-dir, or run `cargo xtask certs`")?;
    if engine::image_id(&docker, &args.image).await?.is_none() {
        bail!("bundle image `{}` is not present\nhint: build it with `cargo xtask bundle --tag {}`", args.image, args.image);
    }

    let container = unique_container_name("esb-smoke");
    let outcome = tokio::select! {
        outcome = scan_boot_and_check(&docker, args, &container, &cert_dir, tls_config) => outcome,
        signal = termination_signal() => Err(anyhow::anyhow!("interrupted by {signal}")),
    };
    remove_container(&docker, &container).await;

    let checks = outcome?;
    let failed = checks.iter().filter(|check| !check.passed).count();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&checks)?);
    }
    if failed > 0 {
        bail!("smoke: {failed} of {} checks failed for {}", checks.len(), args.image);
    }
    report::line("smoke", format!("all {} checks passed for {}", checks.len(), args.image));
    Ok(())
}

/// Returns a container name no other run uses: the prefix, this process's ID
/// and the current time in nanoseconds.
pub fn unique_container_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|time| time.subsec_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{nanos:08x}", std::process::id())
}

/// Waits for Ctrl-C or SIGTERM (how CI cancels a job) and returns its name.
async fn termination_signal() -> &'static str {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "Ctrl-C";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = terminate.recv() => "SIGTERM",
    }
}

async fn scan_boot_and_check(
    docker: &Docker,
    args: &SmokeArgs,
    container: &str,
    cert_dir: &camino::Utf8Path,
    tls_config: Arc<rustls::ClientConfig>,
) -> Result<Vec<Check>> {
    let key_check = check_no_ca_key_in_layers(docker, &args.image, &cert_dir.join("rootCA.key")).await?;
    print_check(&key_check);
    let mut checks = vec![key_check];
    checks.extend(boot_and_check(docker, args, container, tls_config).await?);
    Ok(checks)
}

async fn boot_and_check(docker: &Docker, args: &SmokeArgs, container: &str, tls_config: Arc<rustls::ClientConfig>) -> Result<Vec<Check>> {
    let running = start(docker, &args.image, container).await?;
    let boot = report::Step::start("smoke", format!("booting {} as {container}; gateway on {}", args.image, running.gateway));
    wait_healthy(docker, container, Duration::from_secs(args.boot_timeout), &boot).await?;
    boot.done("healthy");

    let mut checks = Vec::new();
    let bundle: BundleManifest = serde_json::from_str(&exec_output(docker, container, &["cat", "/esb/bundle.json"]).await?)
        .context("/esb/bundle.json in the bundle is not valid")?;
    let functions: FunctionsManifest = serde_json::from_str(&exec_output(docker, container, &["cat", "/esb/functions.json"]).await?)
        .context("/esb/functions.json in the bundle is not valid")?;

    checks.push(check_images(docker, container, &bundle).await?);
    checks.push(check_services(docker, container).await?);
    checks.push(check_dockerd_sockets(docker, container).await?);
    checks.push(check_health(tls_config.clone(), running.gateway).await);
    checks.extend(check_routes(tls_config, running.gateway, &functions).await);
    checks.iter().for_each(print_check);
    Ok(checks)
}

fn print_check(check: &Check) {
    report::line("smoke", format!("{} {:<28} {}", if check.passed { "PASS" } else { "FAIL" }, check.name, check.detail));
}

/// Creates and starts a privileged bundle container whose gateway port is
/// published on a free port of 127.0.0.1.
pub async fn start(docker: &Docker, image: &str, container: &str) -> Result<Running> {
    let port_key = format!("{GATEWAY_PORT}/tcp");
    let bindings = HashMap::from([(
        port_key.clone(),
        Some(vec![PortBinding { host_ip: Some("127.0.0.1".to_owned()), host_port: Some(String::new()) }]),
    )]);
    let body = ContainerCreateBody {
        image: Some(image.to_owned()),
        labels: Some(HashMap::from([("com.esb.smoke".to_owned(), "true".to_owned())])),
        exposed_ports: Some(vec![port_key.clone()]),
        host_config: Some(HostConfig { privileged: Some(true), port_bindings: Some(bindings), ..HostConfig::default() }),
        ..ContainerCreateBody::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(container).build();
    docker
        .create_container(Some(options), body)
        .await
        .with_context(|| format!("cannot create container {container} from {image}"))?;
    docker
        .start_container(container, None::<bollard::query_parameters::StartContainerOptions>)
        .await
        .with_context(|| format!("cannot start container {container}\nhint: the bundle needs --privileged; run `bash .ci/docker-host.sh` as root on hosts whose capability bounding set is partial"))?;

    let inspect = docker.inspect_container(container, None).await?;
    let port = inspect
        .network_settings
        .and_then(|settings| settings.ports)
        .and_then(|ports| ports.get(&port_key).cloned().flatten())
        .and_then(|bindings| bindings.into_iter().find_map(|binding| binding.host_port))
        .and_then(|port| port.parse::<u16>().ok())
        .with_context(|| format!("container {container} has no published port for {port_key}"))?;
    Ok(Running { container: container.to_owned(), gateway: SocketAddr::from(([127, 0, 0, 1], port)) })
}

/// Waits until the container's health check passes; fails with its last log
/// lines when it exits or does not turn healthy within `timeout`.
pub async fn wait_healthy(docker: &Docker, container: &str, timeout: Duration, step: &report::Step) -> Result<()> {
    let started = Instant::now();
    loop {
        let inspect = docker.inspect_container(container, None).await.with_context(|| format!("cannot inspect {container}"))?;
        let state = inspect.state.unwrap_or_default();
        if state.running != Some(true) {
            bail!(
                "bundle container {container} exited with code {} before it was healthy\n{}",
                state.exit_code.unwrap_or(-1),
                container_log_tail(docker, container).await
            );
        }
        let health = state.health.and_then(|health| health.status);
        if health == Some(HealthStatusEnum::HEALTHY) {
            return Ok(());
        }
        if started.elapsed() > timeout {
            bail!(
                "bundle container {container} was not healthy after {} s (health: {health:?})\n{}\nhint: raise --boot-timeout on slow hosts",
                timeout.as_secs(),
                container_log_tail(docker, container).await
            );
        }
        step.set_message(&format!("health: {}", health.map(|status| status.to_string()).unwrap_or_else(|| "none".to_owned())));
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Returns the last 30 lines of a container's output, for error messages.
pub async fn container_log_tail(docker: &Docker, container: &str) -> String {
    let options = LogsOptionsBuilder::default().stdout(true).stderr(true).tail("30").build();
    let mut logs = docker.logs(container, Some(options));
    let mut text = String::from("last lines of the bundle's output:");
    while let Some(Ok(chunk)) = logs.next().await {
        for line in chunk.to_string().lines() {
            text.push_str("\n  | ");
            text.push_str(line);
        }
    }
    text
}

/// Removes the container and its anonymous volumes, whatever state it is in.
pub async fn remove_container(docker: &Docker, container: &str) {
    let options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
    match docker.remove_container(container, Some(options)).await {
        Ok(()) => report::line("smoke", format!("removed {container} and its volumes")),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
        Err(error) => report::line("smoke", format!("warning: cannot remove {container}: {error}; remove it with `docker rm -fv {container}`")),
    }
}

/// Runs a command inside the container and returns its standard output;
/// fails with its standard error when it exits non-zero.
pub async fn exec_output(docker: &Docker, container: &str, command: &[&str]) -> Result<String> {
    let (code, stdout, stderr) = exec_capture(docker, container, command).await?;
    if code != 0 {
        bail!("{command:?} in {container} exited with {code}: {}", stderr.trim());
    }
    Ok(stdout)
}

/// Runs a command inside the container and returns its exit code, standard
/// output and standard error.
pub async fn exec_capture(docker: &Docker, container: &str, command: &[&str]) -> Result<(i64, String, String)> {
    let config = bollard::models::ExecConfig {
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: Some(command.iter().map(|part| part.to_string()).collect()),
        ..Default::default()
    };
    let exec = docker.create_exec(container, config).await.with_context(|| format!("cannot run {command:?} in {container}"))?;
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let bollard::exec::StartExecResults::Attached { mut output, .. } = docker.start_exec(&exec.id, None).await? {
        while let Some(chunk) = output.next().await {
            match chunk? {
                bollard::container::LogOutput::StdOut { message } => stdout.push_str(&String::from_utf8_lossy(&message)),
                bollard::container::LogOutput::StdErr { message } => stderr.push_str(&String::from_utf8_lossy(&message)),
                _ => {}
            }
        }
    }
    let code = docker.inspect_exec(&exec.id).await?.exit_code.unwrap_or(-1);
    Ok((code, stdout, stderr))
}

async fn check_images(docker: &Docker, container: &str, bundle: &BundleManifest) -> Result<Check> {
    let mut command = vec!["docker", "image", "inspect", "--format", "{{.Id}}"];
    command.extend(bundle.images.iter().map(|image| image.reference.as_str()));
    // `docker image inspect` exits 1 when any image is missing but still
    // prints the IDs of the others, so its output is read whatever the code.
    let (_, output, errors) = exec_capture(docker, container, &command).await?;
    let present: BTreeSet<&str> = output.lines().map(str::trim).collect();
    let missing: Vec<&str> = bundle
        .images
        .iter()
        .filter(|image| !present.contains(image.id.as_str()))
        .map(|image| image.reference.as_str())
        .collect();
    let total = bundle.images.len();
    Ok(if missing.is_empty() {
        Check::new("images loaded", true, format!("{total} of {total} images of bundle.json present"))
    } else {
        let engine_message = errors.lines().next().map(|line| format!(" ({line})")).unwrap_or_default();
        Check::new("images loaded", false, format!("missing or different: {}{engine_message}", missing.join(", ")))
    })
}

async fn check_services(docker: &Docker, container: &str) -> Result<Check> {
    let expected = exec_output(docker, container, &["cat", "/esb/stack/services.txt"]).await?;
    let project_filter = format!("label=com.docker.compose.project={PROJECT}");
    let running = exec_output(
        docker,
        container,
        &["docker", "ps", "--filter", &project_filter, "--filter", "status=running", "--format", "{{.Label \"com.docker.compose.service\"}}"],
    )
    .await?;
    let running: BTreeSet<&str> = running.lines().map(str::trim).collect();
    let expected: Vec<&str> = expected.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    let stopped: Vec<&str> = expected.iter().copied().filter(|service| !running.contains(service)).collect();
    Ok(if stopped.is_empty() {
        Check::new("services running", true, format!("{} of {} compose services running", expected.len(), expected.len()))
    } else {
        Check::new("services running", false, format!("not running: {}", stopped.join(", ")))
    })
}

/// Checks that the inner dockerd listens on no TCP port: its API must be
/// reachable through the unix socket only.
async fn check_dockerd_sockets(docker: &Docker, container: &str) -> Result<Check> {
    let script = "pid=$(pgrep -xo dockerd) || exit 3; for fd in /proc/$pid/fd/*; do readlink \"$fd\"; done; echo ---; cat /proc/net/tcp /proc/net/tcp6 2>/dev/null";
    let output = exec_output(docker, container, &["sh", "-c", script]).await?;
    let ports = dockerd_listening_ports(&output);
    Ok(if ports.is_empty() {
        Check::new("dockerd on unix socket only", true, "no TCP listener owned by dockerd")
    } else {
        Check::new("dockerd on unix socket only", false, format!("dockerd listens on TCP ports {ports:?}"))
    })
}

/// Parses `readlink` lines of a process's file descriptors, a `---` line and
/// then /proc/net/tcp tables; returns the TCP ports the process listens on.
pub fn dockerd_listening_ports(output: &str) -> Vec<u16> {
    let (fds, tables) = output.split_once("---").unwrap_or((output, ""));
    let inodes: BTreeSet<&str> = fds
        .lines()
        .filter_map(|link| link.trim().strip_prefix("socket:[")?.strip_suffix(']'))
        .collect();
    let mut ports = Vec::new();
    for line in tables.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // Columns: sl local_address rem_address st ... inode (the 10th).
        if fields.len() < 10 || fields[3] != "0A" || !inodes.contains(fields[9]) {
            continue;
        }
        if let Some(port) = fields[1].rsplit_once(':').and_then(|(_, port)| u16::from_str_radix(port, 16).ok()) {
            ports.push(port);
        }
    }
    ports
}

async fn check_health(tls_config: Arc<rustls::ClientConfig>, gateway: SocketAddr) -> Check {
    match tls::request(tls_config, gateway, "localhost", "GET", "/esb/health", None, Duration::from_secs(10)).await {
        Ok(response) if response.status == 200 => Check::new(
            "gateway HTTPS",
            true,
            format!("GET /esb/health 200 in {} ms, certificate verified against rootCA.crt", response.latency.as_millis()),
        ),
        Ok(response) => Check::new("gateway HTTPS", false, format!("GET /esb/health returned {}", response.status)),
        Err(error) => Check::new("gateway HTTPS", false, format!("{error:#}")),
    }
}

/// Checks that no file in any layer of `image` contains the root CA's private
/// key, including the layers of the images in the bundle's images.tar. It
/// reads the image as `docker save` writes it, streamed through a temporary file.
async fn check_no_ca_key_in_layers(docker: &Docker, image: &str, ca_key_path: &camino::Utf8Path) -> Result<Check> {
    let name = "no CA private key in layers";
    let key_text = match std::fs::read_to_string(ca_key_path) {
        Ok(text) => text,
        Err(error) => return Ok(Check::new(name, false, format!("cannot read {ca_key_path} to compare: {error}"))),
    };
    let key_body = scan::pem_body(&key_text);

    let step = report::Step::start("smoke", format!("scanning the layers of {image} for {ca_key_path}"));
    let archive = tempfile::NamedTempFile::new().context("cannot create a temporary file for the image export")?;
    let mut file = tokio::fs::File::from_std(archive.reopen()?);
    let mut stream = docker.export_image(image);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.with_context(|| format!("exporting {image} failed"))?;
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk).await?;
    }
    tokio::io::AsyncWriteExt::flush(&mut file).await?;
    drop(file);

    let path = archive.path().to_owned();
    let findings = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path)?;
        scan::find_in_archive(std::io::BufReader::new(file), key_body.as_bytes())
    })
    .await??;
    step.done(format!("opened {} archives", findings.archives));
    Ok(if findings.holders.is_empty() {
        Check::new(name, true, format!("{} archives (layers and nested images) scanned, key not found", findings.archives))
    } else {
        Check::new(name, false, format!("found in {}", findings.holders.join(", ")))
    })
}

/// A request that exercises one route, with path parameters filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteProbe {
    pub method: String,
    pub path: String,
    pub route: String,
    pub expected_status: Option<u16>,
}

/// Returns one probe per route of the functions manifest: `{name}` becomes
/// `smoke`, a greedy `{name+}` becomes `smoke/probe`, `ANY` becomes `GET`.
pub fn route_probes(functions: &FunctionsManifest) -> Vec<RouteProbe> {
    let mut probes = Vec::new();
    for function in &functions.functions {
        for route in &function.routes {
            let path: Vec<String> = route
                .path
                .split('/')
                .map(|segment| match segment {
                    _ if segment.starts_with('{') && segment.ends_with("+}") => "smoke/probe".to_owned(),
                    _ if segment.starts_with('{') && segment.ends_with('}') => "smoke".to_owned(),
                    _ => segment.to_owned(),
                })
                .collect();
            let method = if route.method == "ANY" { "GET".to_owned() } else { route.method.clone() };
            probes.push(RouteProbe {
                route: format!("{} {}", route.method, route.path),
                method,
                path: path.join("/"),
                expected_status: function.expected_status,
            });
        }
    }
    probes
}

async fn check_routes(tls_config: Arc<rustls::ClientConfig>, gateway: SocketAddr, functions: &FunctionsManifest) -> Vec<Check> {
    let mut checks = Vec::new();
    for probe in route_probes(functions) {
        let result = tls::request(tls_config.clone(), gateway, "localhost", &probe.method, &probe.path, None, Duration::from_secs(60)).await;
        let check = match result {
            Ok(response) => {
                let passed = match probe.expected_status {
                    Some(expected) => response.status == expected,
                    None => (200..300).contains(&response.status),
                };
                let expectation = probe.expected_status.map(|status| format!(" (expected {status})")).unwrap_or_default();
                Check::new(
                    format!("route {}", probe.route),
                    passed,
                    format!("{} {} -> {}{expectation} in {} ms", probe.method, probe.path, response.status, response.latency.as_millis()),
                )
            }
            Err(error) => Check::new(format!("route {}", probe.route), false, format!("{error:#}")),
        };
        checks.push(check);
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::FunctionImage;
    use crate::sam::Route;

    #[test]
    fn listening_ports_of_dockerd_only() {
        let output = "/dev/null\nsocket:[1111]\nsocket:[2222]\n---\n  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:0941 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0\n   1: 00000000:20FB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3333 1 0\n   2: 0100007F:0941 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2222 1 0\n";
        assert_eq!(dockerd_listening_ports(output), vec![0x0941]);
    }

    #[test]
    fn no_sockets_no_ports() {
        assert!(dockerd_listening_ports("/dev/null\n---\n").is_empty());
    }

    #[test]
    fn probes_fill_parameters() {
        let function = FunctionImage {
            logical_id: "Echo".into(),
            name: "echo".into(),
            service: "fn-echo".into(),
            image: "i".into(),
            image_id: "sha256:1".into(),
            timeout_seconds: 3,
            memory_mb: 128,
            environment: Default::default(),
            routes: vec![
                Route { method: "ANY".into(), path: "/echo".into(), payload_format: "1.0".into() },
                Route { method: "GET".into(), path: "/items/{id}".into(), payload_format: "1.0".into() },
                Route { method: "GET".into(), path: "/files/{proxy+}".into(), payload_format: "1.0".into() },
            ],
            expected_status: Some(502),
            image_config: None,
        };
        let probes = route_probes(&FunctionsManifest { functions: vec![function] });

        assert_eq!(probes[0].method, "GET");
        assert_eq!(probes[0].path, "/echo");
        assert_eq!(probes[1].path, "/items/smoke");
        assert_eq!(probes[2].path, "/files/smoke/probe");
        assert_eq!(probes[2].route, "GET /files/{proxy+}");
        assert_eq!(probes[2].expected_status, Some(502));
    }
}
