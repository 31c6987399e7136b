//! Tests of the whole task on temporary folders: files on disk, and TLS
//! handshakes between rustls clients and servers that use them.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use camino::{Utf8Path, Utf8PathBuf};
use clap::Parser;
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    ClientConfig, ClientConnection, Connection, RootCertStore, ServerConfig, ServerConnection,
};
use time::{Duration, OffsetDateTime};

use super::plan::{Leaf, Request};
use super::{apply, check, ensure, issue, DEFAULT_CA_DAYS};
use crate::flags::{Cli, Command, KeyAlgorithm};

const ALL_FILES: [&str; 6] = [
    "rootCA.crt",
    "rootCA.key",
    "server.crt",
    "server.key",
    "client.crt",
    "client.key",
];

/// A fresh folder path inside a temporary directory that lives as long as the value.
struct TempCertDir {
    _temp: tempfile::TempDir,
    path: Utf8PathBuf,
}

fn temp_cert_dir() -> TempCertDir {
    let temp = tempfile::tempdir().unwrap();
    let path = Utf8Path::from_path(temp.path()).unwrap().join("certs");
    TempCertDir { _temp: temp, path }
}

fn request(names: &[&str], key_algorithm: KeyAlgorithm, force_ca: bool) -> Request {
    let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    Request::new(
        &names,
        key_algorithm,
        3650,
        825,
        force_ca,
        OffsetDateTime::now_utc(),
    )
    .unwrap()
}

fn snapshot(dir: &Utf8Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in dir.read_dir_utf8().unwrap() {
        let entry = entry.unwrap();
        files.insert(
            entry.file_name().to_owned(),
            std::fs::read(entry.path()).unwrap(),
        );
    }
    files
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

fn cert_chain(path: &Utf8Path) -> Vec<CertificateDer<'static>> {
    vec![CertificateDer::from_pem_file(path).unwrap()]
}

fn private_key(path: &Utf8Path) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(path).unwrap()
}

fn roots(ca_file: &Utf8Path) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(ca_file).unwrap())
        .unwrap();
    Arc::new(roots)
}

/// Builds a client that trusts only the root CA of `ca_dir`. It presents the
/// client certificate of `client_dir` if one is given.
fn client_config(ca_dir: &Utf8Path, client_dir: Option<&Utf8Path>) -> ClientConfig {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(&ca_dir.join("rootCA.crt")));
    match client_dir {
        Some(dir) => builder
            .with_client_auth_cert(
                cert_chain(&dir.join("client.crt")),
                private_key(&dir.join("client.key")),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    }
}

/// Builds a server that presents `cert_file` and `key_file`. It requires a
/// client certificate from the root CA of `client_ca_dir` if one is given.
fn server_config(
    cert_file: &Utf8Path,
    key_file: &Utf8Path,
    client_ca_dir: Option<&Utf8Path>,
) -> ServerConfig {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca_dir {
        Some(dir) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(
                roots(&dir.join("rootCA.crt")),
                provider(),
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    builder
        .with_single_cert(cert_chain(cert_file), private_key(key_file))
        .unwrap()
}

/// Runs a TLS handshake in memory, then one application byte from client to
/// server, so a server that rejects the client certificate under TLS 1.3 is seen too.
fn handshake(
    client: ClientConfig,
    server: ServerConfig,
    server_name: &str,
) -> Result<(), rustls::Error> {
    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    let mut client = Connection::from(ClientConnection::new(Arc::new(client), name)?);
    let mut server = Connection::from(ServerConnection::new(Arc::new(server))?);

    for _ in 0..10 {
        transfer(&mut client, &mut server)?;
        transfer(&mut server, &mut client)?;
        if !client.is_handshaking() && !server.is_handshaking() {
            break;
        }
    }
    assert!(
        !client.is_handshaking() && !server.is_handshaking(),
        "the handshake did not finish"
    );

    std::io::Write::write_all(&mut client.writer(), b"x").unwrap();
    transfer(&mut client, &mut server)?;
    let mut received = [0u8; 1];
    std::io::Read::read_exact(&mut server.reader(), &mut received).unwrap();
    Ok(())
}

fn transfer(from: &mut Connection, to: &mut Connection) -> Result<(), rustls::Error> {
    let mut bytes = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut bytes).unwrap();
    }
    let mut unread = bytes.as_slice();
    while !unread.is_empty() {
        to.read_tls(&mut unread).unwrap();
        to.process_new_packets()?;
    }
    Ok(())
}

fn server_handshake(dir: &Utf8Path, server_name: &str) -> Result<(), rustls::Error> {
    let server = server_config(&dir.join("server.crt"), &dir.join("server.key"), None);
    handshake(client_config(dir, None), server, server_name)
}

fn mutual_handshake(ca_dir: &Utf8Path, client_dir: &Utf8Path) -> Result<(), rustls::Error> {
    let server = server_config(
        &ca_dir.join("server.crt"),
        &ca_dir.join("server.key"),
        Some(ca_dir),
    );
    handshake(client_config(ca_dir, Some(client_dir)), server, "localhost")
}

#[test]
fn server_accepted_for_every_san() {
    let dir = temp_cert_dir();
    ensure(&dir.path, &["gateway".to_owned()]).unwrap();

    for name in ["localhost", "127.0.0.1", "::1", "gateway"] {
        let result = server_handshake(&dir.path, name);
        assert!(result.is_ok(), "handshake for {name} failed: {result:?}");
    }
}

#[test]
fn server_rejected_for_other_name() {
    let dir = temp_cert_dir();
    ensure(&dir.path, &[]).unwrap();

    let result = server_handshake(&dir.path, "other.example");
    assert!(
        matches!(result, Err(rustls::Error::InvalidCertificate(_))),
        "{result:?}"
    );
}

#[test]
fn expired_server_rejected() {
    let dir = temp_cert_dir();
    ensure(&dir.path, &[]).unwrap();

    // Sign a server certificate that expired yesterday with the folder's root CA.
    let ca_pem = std::fs::read_to_string(dir.path.join("rootCA.crt")).unwrap();
    let ca_key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(dir.path.join("rootCA.key")).unwrap())
            .unwrap();
    let now = OffsetDateTime::now_utc();
    let sans = request(&[], KeyAlgorithm::EcdsaP256, false).sans;
    let expired = issue::issue_leaf(
        Leaf::Server,
        KeyAlgorithm::EcdsaP256,
        &sans,
        &ca_pem,
        &ca_key,
        now - Duration::days(10),
        now - Duration::days(1),
    )
    .unwrap();
    let cert_file = dir.path.join("expired.crt");
    let key_file = dir.path.join("expired.key");
    std::fs::write(&cert_file, expired.cert_pem).unwrap();
    std::fs::write(&key_file, expired.key_pem).unwrap();

    let server = server_config(&cert_file, &key_file, None);
    let result = handshake(client_config(&dir.path, None), server, "localhost");
    assert!(
        matches!(
            result,
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ExpiredContext { .. }
            ))
        ),
        "{result:?}"
    );
}

#[test]
fn client_cert_accepted_by_mutual_tls() {
    let dir = temp_cert_dir();
    ensure(&dir.path, &[]).unwrap();

    let result = mutual_handshake(&dir.path, &dir.path);
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn client_cert_from_other_ca_rejected() {
    let dir = temp_cert_dir();
    let other = temp_cert_dir();
    ensure(&dir.path, &[]).unwrap();
    ensure(&other.path, &[]).unwrap();

    let result = mutual_handshake(&dir.path, &other.path);
    assert!(
        matches!(result, Err(rustls::Error::InvalidCertificate(_))),
        "{result:?}"
    );
}

#[test]
fn server_cert_cannot_authenticate_client() {
    let dir = temp_cert_dir();
    ensure(&dir.path, &[]).unwrap();

    // Present the server certificate as a client certificate: it lacks clientAuth.
    let client = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(&dir.path.join("rootCA.crt")))
        .with_client_auth_cert(
            cert_chain(&dir.path.join("server.crt")),
            private_key(&dir.path.join("server.key")),
        )
        .unwrap();
    let server = server_config(
        &dir.path.join("server.crt"),
        &dir.path.join("server.key"),
        Some(&dir.path),
    );
    let result = handshake(client, server, "localhost");
    assert!(
        matches!(result, Err(rustls::Error::InvalidCertificate(_))),
        "{result:?}"
    );
}

#[test]
fn first_run_writes_six_files() {
    let dir = temp_cert_dir();
    ensure(&dir.path, &[]).unwrap();

    let files: Vec<String> = snapshot(&dir.path).into_keys().collect();
    let mut expected: Vec<String> = ALL_FILES.iter().map(|file| file.to_string()).collect();
    expected.sort();
    assert_eq!(files, expected, "no temporary file may be left behind");
}

#[test]
fn file_modes() {
    let dir = temp_cert_dir();
    ensure(&dir.path, &[]).unwrap();

    for file in ALL_FILES {
        let mode = std::fs::metadata(dir.path.join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        let expected = if file.ends_with(".key") { 0o600 } else { 0o644 };
        assert_eq!(mode, expected, "mode of {file} is {mode:o}");
    }
    let folder_mode = std::fs::metadata(&dir.path).unwrap().permissions().mode() & 0o777;
    assert_eq!(folder_mode, 0o700, "mode of the folder is {folder_mode:o}");
}

#[test]
fn second_run_changes_nothing() {
    let dir = temp_cert_dir();
    ensure(&dir.path, &["gateway".to_owned()]).unwrap();
    let before = snapshot(&dir.path);

    ensure(&dir.path, &["gateway".to_owned()]).unwrap();
    assert_eq!(snapshot(&dir.path), before);
}

#[test]
fn missing_san_reissues_server_only() {
    let dir = temp_cert_dir();
    ensure(&dir.path, &[]).unwrap();
    let before = snapshot(&dir.path);

    ensure(&dir.path, &["gateway".to_owned()]).unwrap();
    let after = snapshot(&dir.path);
    for file in ["rootCA.crt", "rootCA.key", "client.crt", "client.key"] {
        assert_eq!(after[file], before[file], "{file} changed");
    }
    for file in ["server.crt", "server.key"] {
        assert_ne!(after[file], before[file], "{file} did not change");
    }
    assert!(server_handshake(&dir.path, "gateway").is_ok());
}

#[test]
fn force_ca_keeps_old_ca_under_dated_name() {
    let dir = temp_cert_dir();
    ensure(&dir.path, &[]).unwrap();
    let before = snapshot(&dir.path);

    apply(&dir.path, &request(&[], KeyAlgorithm::EcdsaP256, true)).unwrap();
    let after = snapshot(&dir.path);

    let backups: Vec<&String> = after
        .keys()
        .filter(|file| file.starts_with("rootCA-"))
        .collect();
    assert_eq!(backups.len(), 2, "{backups:?}");
    for backup in backups {
        let original = if backup.ends_with(".crt") {
            "rootCA.crt"
        } else {
            "rootCA.key"
        };
        assert_eq!(
            after[backup], before[original],
            "{backup} is not the old {original}"
        );
        // The dated name carries the date and time to the minute in UTC, as in rootCA-20261204T1830Z.crt.
        assert_eq!(backup.len(), "rootCA-20261204T1830Z.crt".len(), "{backup}");
    }
    for file in ALL_FILES {
        assert_ne!(after[file], before[file], "{file} did not change");
    }
    assert!(mutual_handshake(&dir.path, &dir.path).is_ok());
}

#[test]
fn force_ca_keeps_earlier_copy() {
    let dir = temp_cert_dir();
    ensure(&dir.path, &[]).unwrap();
    // One request, so both runs compute the same dated name.
    let forced = request(&[], KeyAlgorithm::EcdsaP256, true);
    apply(&dir.path, &forced).unwrap();
    let before = snapshot(&dir.path);

    let error = apply(&dir.path, &forced).unwrap_err().to_string();
    assert!(error.contains("that file exists"), "{error}");
    assert!(error.contains("\nhint: "), "{error}");
    assert_eq!(snapshot(&dir.path), before);
}

#[test]
fn rsa_set_completes_handshakes() {
    let dir = temp_cert_dir();
    apply(&dir.path, &request(&[], KeyAlgorithm::Rsa2048, false)).unwrap();

    for file in ["rootCA.key", "server.key", "client.key"] {
        let key = rcgen::KeyPair::from_pem(&std::fs::read_to_string(dir.path.join(file)).unwrap())
            .unwrap();
        assert_eq!(key.algorithm(), &rcgen::PKCS_RSA_SHA256, "{file}");
    }
    assert!(server_handshake(&dir.path, "127.0.0.1").is_ok());
    assert!(mutual_handshake(&dir.path, &dir.path).is_ok());
}

#[test]
fn mismatched_ca_key_changes_nothing() {
    let dir = temp_cert_dir();
    let other = temp_cert_dir();
    ensure(&dir.path, &[]).unwrap();
    ensure(&other.path, &[]).unwrap();
    std::fs::copy(other.path.join("rootCA.key"), dir.path.join("rootCA.key")).unwrap();
    let before = snapshot(&dir.path);

    // The new name alone would re-issue the server certificate.
    let error = ensure(&dir.path, &["gateway".to_owned()])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("rootCA.key: does not match the certificate in rootCA.crt"),
        "{error}"
    );
    assert!(error.contains("\nhint: "), "{error}");
    assert_eq!(snapshot(&dir.path), before);
}

#[test]
fn leaf_from_other_ca_changes_nothing() {
    let dir = temp_cert_dir();
    let other = temp_cert_dir();
    ensure(&dir.path, &[]).unwrap();
    ensure(&other.path, &[]).unwrap();
    for file in ["server.crt", "server.key"] {
        std::fs::copy(other.path.join(file), dir.path.join(file)).unwrap();
    }
    let before = snapshot(&dir.path);

    let error = ensure(&dir.path, &["gateway".to_owned()])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("server.crt: is not signed by the root CA"),
        "{error}"
    );
    assert_eq!(snapshot(&dir.path), before);
}

#[test]
fn unparseable_file_changes_nothing() {
    let dir = temp_cert_dir();
    ensure(&dir.path, &[]).unwrap();
    std::fs::write(dir.path.join("client.crt"), "not a certificate\n").unwrap();
    std::fs::write(
        dir.path.join("rootCA.key"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let before = snapshot(&dir.path);

    let error = ensure(&dir.path, &[]).unwrap_err().to_string();
    assert!(error.contains("client.crt: is not a PEM file"), "{error}");
    assert!(
        error.contains("rootCA.key: is not a PEM PKCS#8 private key"),
        "{error}"
    );
    assert_eq!(snapshot(&dir.path), before);
}

#[test]
fn check_passes_on_fresh_set() {
    let dir = temp_cert_dir();
    ensure(&dir.path, &["gateway".to_owned()]).unwrap();

    let result = check::check(
        &dir.path,
        &request(&["gateway"], KeyAlgorithm::EcdsaP256, false),
    );
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn check_fails_on_missing_file() {
    let dir = temp_cert_dir();
    ensure(&dir.path, &[]).unwrap();
    std::fs::remove_file(dir.path.join("client.key")).unwrap();

    let error = check::check(&dir.path, &request(&[], KeyAlgorithm::EcdsaP256, false))
        .unwrap_err()
        .to_string();
    assert!(error.contains("client.crt"), "{error}");
}

#[test]
fn check_fails_on_missing_san() {
    let dir = temp_cert_dir();
    ensure(&dir.path, &[]).unwrap();

    let error = check::check(
        &dir.path,
        &request(&["gateway"], KeyAlgorithm::EcdsaP256, false),
    )
    .unwrap_err();
    assert!(error.to_string().contains("server.crt"), "{error}");
}

#[test]
fn check_fails_on_expiring_leaf() {
    let dir = temp_cert_dir();
    let mut short = request(&[], KeyAlgorithm::EcdsaP256, false);
    short.leaf_days = 20;
    apply(&dir.path, &short).unwrap();

    let error = check::check(&dir.path, &request(&[], KeyAlgorithm::EcdsaP256, false))
        .unwrap_err()
        .to_string();
    assert!(error.contains("server.crt, client.crt"), "{error}");
}

#[test]
fn defaults_match_command_line() {
    let cli = Cli::try_parse_from(["cargo xtask", "certs"]).unwrap();
    let Command::Certs(args) = cli.command else {
        panic!("parsed another command")
    };
    assert_eq!(args.ca_days, DEFAULT_CA_DAYS);
    assert_eq!(args.leaf_days, super::MAX_LEAF_DAYS);
    assert_eq!(args.key_algorithm, KeyAlgorithm::EcdsaP256);
}
