//! The end-to-end cases, written once and run against every target: each
//! sends real HTTPS requests to the target's gateway and checks what the
//! fixture functions received and returned.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use rustls::ClientConfig;
use serde_json::Value;
use xtask::tls::{self, Response};

use crate::{utf8, Target};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// TLS client configurations for one target.
struct Clients {
    /// Trusts the generated CA and presents the generated client certificate.
    trusted: Arc<ClientConfig>,
    /// Trusts the generated CA but presents no certificate.
    anonymous: Arc<ClientConfig>,
    /// Trusts the generated CA and presents a client certificate from another CA.
    foreign: Arc<ClientConfig>,
    _foreign_dir: tempfile::TempDir,
}

impl Clients {
    fn new(target: &Target) -> Result<Clients> {
        let (client_cert, client_key) = target.client_identity();
        let foreign_dir = tempfile::tempdir()?;
        let (foreign_cert, foreign_key) = foreign_client_identity(utf8(foreign_dir.path()))?;
        Ok(Clients {
            trusted: tls::client_config(&target.ca_cert(), Some((&client_cert, &client_key)))?,
            anonymous: tls::client_config(&target.ca_cert(), None)?,
            foreign: tls::client_config(&target.ca_cert(), Some((&foreign_cert, &foreign_key)))?,
            _foreign_dir: foreign_dir,
        })
    }
}

/// Writes a client certificate signed by a throwaway CA that the gateway does not trust.
fn foreign_client_identity(dir: &camino::Utf8Path) -> Result<(camino::Utf8PathBuf, camino::Utf8PathBuf)> {
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Another CA");
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let ca = rcgen::Issuer::new(ca_params, ca_key);

    let client_key = rcgen::KeyPair::generate()?;
    let mut client_params = rcgen::CertificateParams::new(vec!["intruder".to_owned()])?;
    client_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params.signed_by(&client_key, &ca)?;
    drop(ca_cert);

    let cert_path = dir.join("client.crt");
    let key_path = dir.join("client.key");
    std::fs::write(&cert_path, client_cert.pem())?;
    std::fs::write(&key_path, client_key.serialize_pem())?;
    Ok((cert_path, key_path))
}

/// One case's outcome.
pub struct Outcome {
    pub name: &'static str,
    pub result: Result<()>,
}

/// Runs every case against `target` and returns their outcomes in order.
pub async fn run_all(target: &Target) -> Result<Vec<Outcome>> {
    let clients = Clients::new(target)?;
    let mut outcomes = Vec::new();
    macro_rules! case {
        ($name:ident) => {
            outcomes.push(Outcome { name: stringify!($name), result: $name(target, &clients).await });
        };
    }
    case!(route_returns_function_output);
    case!(query_parameters_arrive);
    case!(path_parameters_arrive);
    case!(post_body_arrives);
    case!(binary_body_arrives_base64);
    case!(any_method_matches_delete);
    case!(greedy_path_uses_payload_v2);
    case!(layer_module_importable);
    case!(image_function_responds);
    case!(unknown_route_is_404);
    case!(raising_function_is_502);
    case!(slow_function_is_504);
    case!(client_without_certificate_refused);
    case!(client_from_other_ca_refused);
    case!(server_certificate_verifies_for_names);
    Ok(outcomes)
}

/// Prints the outcomes and fails when any case failed. Writes to stderr
/// directly, past the test harness's capture, so CI logs show every case.
pub fn report(target: &Target, outcomes: &[Outcome]) -> Result<()> {
    let mut stderr = std::io::stderr().lock();
    let mut failed = 0;
    for outcome in outcomes {
        match &outcome.result {
            Ok(()) => writeln!(stderr, "[e2e:{}] PASS {}", target.name, outcome.name)?,
            Err(error) => {
                failed += 1;
                writeln!(stderr, "[e2e:{}] FAIL {}: {error:#}", target.name, outcome.name)?;
            }
        }
    }
    writeln!(stderr, "[e2e:{}] cases: {} passed, {failed} failed", target.name, outcomes.len() - failed)?;
    ensure!(failed == 0, "{failed} of {} cases failed against {}", outcomes.len(), target.name);
    Ok(())
}

async fn send(target: &Target, config: &Arc<ClientConfig>, method: &str, path: &str, body: Option<&[u8]>) -> Result<Response> {
    tls::request(config.clone(), target.gateway, "localhost", method, path, body.map(<[u8]>::to_vec), REQUEST_TIMEOUT).await
}

/// Sends a request through the trusted client and returns the JSON body after checking the status.
async fn json(target: &Target, clients: &Clients, method: &str, path: &str, body: Option<&[u8]>, status: u16) -> Result<Value> {
    let response = send(target, &clients.trusted, method, path, body).await?;
    ensure!(response.status == status, "{method} {path}: expected {status}, got {} with body {}", response.status, response.text());
    serde_json::from_slice(&response.body).with_context(|| format!("{method} {path}: body is not JSON: {}", response.text()))
}

/// Returns the event the echo function received, from its JSON response.
async fn echoed_event(target: &Target, clients: &Clients, method: &str, path: &str, body: Option<&[u8]>) -> Result<Value> {
    let output = json(target, clients, method, path, body, 200).await?;
    output.get("event").cloned().with_context(|| format!("echo output has no `event`: {output}"))
}

async fn route_returns_function_output(target: &Target, clients: &Clients) -> Result<()> {
    let output = json(target, clients, "GET", "/echo", None, 200).await?;
    ensure!(output["stage"] == "dev", "STAGE from the template's Globals did not reach the function: {output}");
    ensure!(output["event"]["httpMethod"] == "GET", "event.httpMethod: {}", output["event"]["httpMethod"]);
    ensure!(output["event"]["path"] == "/echo", "event.path: {}", output["event"]["path"]);
    Ok(())
}

async fn query_parameters_arrive(target: &Target, clients: &Clients) -> Result<()> {
    let event = echoed_event(target, clients, "GET", "/echo?color=blue&size=2", None).await?;
    ensure!(event["queryStringParameters"]["color"] == "blue", "queryStringParameters: {}", event["queryStringParameters"]);
    ensure!(event["queryStringParameters"]["size"] == "2", "queryStringParameters: {}", event["queryStringParameters"]);
    Ok(())
}

async fn path_parameters_arrive(target: &Target, clients: &Clients) -> Result<()> {
    let event = echoed_event(target, clients, "GET", "/items/42", None).await?;
    ensure!(event["pathParameters"]["id"] == "42", "pathParameters: {}", event["pathParameters"]);
    ensure!(event["resource"] == "/items/{id}", "resource: {}", event["resource"]);
    Ok(())
}

async fn post_body_arrives(target: &Target, clients: &Clients) -> Result<()> {
    let event = echoed_event(target, clients, "POST", "/echo", Some(b"{\"order\": 7}")).await?;
    ensure!(event["httpMethod"] == "POST", "httpMethod: {}", event["httpMethod"]);
    ensure!(event["body"] == "{\"order\": 7}", "body: {}", event["body"]);
    ensure!(event["isBase64Encoded"] == false, "isBase64Encoded: {}", event["isBase64Encoded"]);
    Ok(())
}

async fn binary_body_arrives_base64(target: &Target, clients: &Clients) -> Result<()> {
    let event = echoed_event(target, clients, "POST", "/echo", Some(&[0xff, 0xfe, 0x00, 0x01])).await?;
    ensure!(event["isBase64Encoded"] == true, "isBase64Encoded: {}", event["isBase64Encoded"]);
    ensure!(event["body"] == "//4AAQ==", "body: {}", event["body"]);
    Ok(())
}

async fn any_method_matches_delete(target: &Target, clients: &Clients) -> Result<()> {
    let event = echoed_event(target, clients, "DELETE", "/echo", None).await?;
    ensure!(event["httpMethod"] == "DELETE", "httpMethod: {}", event["httpMethod"]);
    ensure!(event["resource"] == "/echo", "resource: {}", event["resource"]);
    Ok(())
}

async fn greedy_path_uses_payload_v2(target: &Target, clients: &Clients) -> Result<()> {
    let event = echoed_event(target, clients, "GET", "/files/reports/2026/q4.csv", None).await?;
    ensure!(event["version"] == "2.0", "an HttpApi route should send a 2.0 event, got version {}", event["version"]);
    ensure!(event["pathParameters"]["proxy"] == "reports/2026/q4.csv", "pathParameters: {}", event["pathParameters"]);
    ensure!(event["rawPath"] == "/files/reports/2026/q4.csv", "rawPath: {}", event["rawPath"]);
    Ok(())
}

async fn layer_module_importable(target: &Target, clients: &Clients) -> Result<()> {
    let output = json(target, clients, "GET", "/greet/ada", None, 200).await?;
    ensure!(output["message"] == "Hello, ada!", "greeter output: {output}");
    Ok(())
}

async fn image_function_responds(target: &Target, clients: &Clients) -> Result<()> {
    let output = json(target, clients, "GET", "/image", None, 200).await?;
    ensure!(output["message"] == "hello from an image function", "image function output: {output}");
    ensure!(output["handler"] == "configured", "ImageConfig.Command was not applied: {output}");
    Ok(())
}

async fn unknown_route_is_404(target: &Target, clients: &Clients) -> Result<()> {
    let output = json(target, clients, "GET", "/no/such/route", None, 404).await?;
    ensure!(output["message"] == "Not Found", "404 body: {output}");
    Ok(())
}

async fn raising_function_is_502(target: &Target, clients: &Clients) -> Result<()> {
    let output = json(target, clients, "GET", "/fail", None, 502).await?;
    ensure!(output["errorType"] == "InventoryError", "502 body: {output}");
    ensure!(output["errorMessage"] == "inventory service is unavailable", "502 body: {output}");
    Ok(())
}

async fn slow_function_is_504(target: &Target, clients: &Clients) -> Result<()> {
    let response = send(target, &clients.trusted, "GET", "/slow", None).await?;
    ensure!(response.status == 504, "expected 504 for a function past its 2 s timeout, got {} {}", response.status, response.text());
    ensure!(response.latency < Duration::from_secs(5), "the timeout took {:?}, longer than the function's sleep", response.latency);
    Ok(())
}

async fn client_without_certificate_refused(target: &Target, clients: &Clients) -> Result<()> {
    match send(target, &clients.anonymous, "GET", "/echo", None).await {
        Ok(response) => bail!("a client without a certificate got {}", response.status),
        Err(_) => Ok(()),
    }
}

async fn client_from_other_ca_refused(target: &Target, clients: &Clients) -> Result<()> {
    match send(target, &clients.foreign, "GET", "/echo", None).await {
        Ok(response) => bail!("a client certificate from another CA got {}", response.status),
        Err(_) => Ok(()),
    }
}

async fn server_certificate_verifies_for_names(target: &Target, clients: &Clients) -> Result<()> {
    for name in ["localhost", "127.0.0.1"] {
        let response = tls::request(clients.trusted.clone(), target.gateway, name, "GET", "/esb/health", None, REQUEST_TIMEOUT)
            .await
            .with_context(|| format!("server certificate as `{name}`"))?;
        ensure!(response.status == 200, "health as `{name}`: {}", response.status);
    }
    let wrong = tls::request(clients.trusted.clone(), target.gateway, "wrong.example", "GET", "/esb/health", None, REQUEST_TIMEOUT).await;
    ensure!(wrong.is_err(), "the server certificate verified for a name it does not carry");
    Ok(())
}
