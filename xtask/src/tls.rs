//! A small HTTPS client for checking what a stack serves: it trusts only the
//! given root CA and presents a client certificate when one is given.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use camino::Utf8Path;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Builds a client configuration that trusts only `ca_cert` and, when given,
/// authenticates with `client_cert` and `client_key`.
pub fn client_config(ca_cert: &Utf8Path, client_identity: Option<(&Utf8Path, &Utf8Path)>) -> Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_cert).with_context(|| format!("cannot read CA certificate {ca_cert}"))? {
        let cert = cert.with_context(|| format!("invalid PEM in {ca_cert}"))?;
        roots.add(cert).with_context(|| format!("invalid CA certificate in {ca_cert}"))?;
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("no TLS protocol version available")?
        .with_root_certificates(roots);
    let config = match client_identity {
        None => builder.with_no_client_auth(),
        Some((cert_path, key_path)) => {
            let certs = CertificateDer::pem_file_iter(cert_path)
                .with_context(|| format!("cannot read client certificate {cert_path}"))?
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("invalid PEM in {cert_path}"))?;
            let key = PrivateKeyDer::from_pem_file(key_path).with_context(|| format!("cannot read client key {key_path}"))?;
            builder.with_client_auth_cert(certs, key).with_context(|| format!("client certificate {cert_path} does not match {key_path}"))?
        }
    };
    Ok(Arc::new(config))
}

/// An HTTP response, read whole.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub latency: Duration,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one HTTP/1.1 request over TLS to `address`, verifying the server's
/// certificate for `server_name`, and reads the whole response within `timeout`.
pub async fn request(
    config: Arc<ClientConfig>,
    address: SocketAddr,
    server_name: &str,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<Response> {
    let started = Instant::now();
    let exchange = async {
        let tcp = TcpStream::connect(address).await.with_context(|| format!("cannot connect to {address}"))?;
        let name = ServerName::try_from(server_name.to_owned()).with_context(|| format!("invalid server name `{server_name}`"))?;
        let tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .with_context(|| format!("TLS handshake with {address} as `{server_name}` failed"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .context("HTTP handshake failed")?;
        tokio::spawn(connection);

        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("{server_name}:{}", address.port()))
            .header("user-agent", "esb-xtask")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .context("invalid request")?;
        let response = sender.send_request(request).await.with_context(|| format!("{method} {path} failed"))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        let body = response.into_body().collect().await.context("reading the response body failed")?.to_bytes().to_vec();
        Ok::<_, anyhow::Error>(Response { status, headers, body, latency: started.elapsed() })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .with_context(|| format!("{method} {path} on {address} timed out after {} s", timeout.as_secs()))?
}
