//! Reading the certificate folder: each PEM file is read once, and
//! the facts that planning needs are derived from the parsed contents.

use std::io::ErrorKind;
use std::net::IpAddr;

use camino::Utf8Path;
use rcgen::KeyPair;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use super::plan::{
    CertFacts, FolderState, Leaf, PairState, Problem, San, CA_CERT_FILE, CA_KEY_FILE,
};

/// Outcome of reading one file.
pub enum Loaded<T> {
    Missing,
    Invalid(Problem),
    Found(T),
}

impl<T> Loaded<T> {
    pub fn found(&self) -> Option<&T> {
        match self {
            Loaded::Found(value) => Some(value),
            _ => None,
        }
    }
}

/// A parsed certificate file.
pub struct LoadedCert {
    /// The file's text, used as is when the root CA signs a new leaf.
    pub pem: String,
    pub der: Vec<u8>,
    pub facts: CertFacts,
}

/// A certificate file and its private key file.
pub struct Pair {
    pub cert: Loaded<LoadedCert>,
    pub key: Loaded<KeyPair>,
}

/// The three pairs of the certificate folder.
pub struct Folder {
    pub ca: Pair,
    pub server: Pair,
    pub client: Pair,
}

/// Reads the root CA, server and client files of `dir`. A missing folder reads as all files missing.
pub fn load(dir: &Utf8Path) -> Folder {
    let ca_hint = "restore it from a backup, or pass --force-ca to replace the root CA (the old files are kept \
                   under a dated name)";
    Folder {
        ca: load_pair(dir, CA_CERT_FILE, CA_KEY_FILE, ca_hint),
        server: load_leaf(dir, Leaf::Server),
        client: load_leaf(dir, Leaf::Client),
    }
}

fn load_leaf(dir: &Utf8Path, leaf: Leaf) -> Pair {
    let hint = format!(
        "delete {} and {} to issue new ones from the root CA",
        leaf.cert_file(),
        leaf.key_file()
    );
    load_pair(dir, leaf.cert_file(), leaf.key_file(), &hint)
}

fn load_pair(dir: &Utf8Path, cert_file: &str, key_file: &str, hint: &str) -> Pair {
    let cert = match read_text(dir, cert_file, hint) {
        Loaded::Found(text) => parse_cert(text).map_or_else(
            |message| Loaded::Invalid(problem(cert_file, message, hint)),
            Loaded::Found,
        ),
        Loaded::Missing => Loaded::Missing,
        Loaded::Invalid(problem) => Loaded::Invalid(problem),
    };
    let key = match read_text(dir, key_file, hint) {
        Loaded::Found(text) => match KeyPair::from_pem(&text) {
            Ok(key) => Loaded::Found(key),
            Err(error) => Loaded::Invalid(problem(
                key_file,
                format!("is not a PEM PKCS#8 private key that ring can load ({error})"),
                hint,
            )),
        },
        Loaded::Missing => Loaded::Missing,
        Loaded::Invalid(problem) => Loaded::Invalid(problem),
    };
    Pair { cert, key }
}

fn read_text(dir: &Utf8Path, file: &str, hint: &str) -> Loaded<String> {
    let path = dir.join(file);
    match std::fs::read(&path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Loaded::Found(text),
            Err(_) => Loaded::Invalid(problem(file, "is not a PEM text file".to_owned(), hint)),
        },
        Err(error) if error.kind() == ErrorKind::NotFound => Loaded::Missing,
        Err(error) => Loaded::Invalid(problem(file, format!("cannot be read: {error}"), hint)),
    }
}

fn problem(file: &str, message: String, hint: &str) -> Problem {
    Problem {
        file: file.to_owned(),
        message,
        hint: hint.to_owned(),
    }
}

fn parse_cert(pem: String) -> Result<LoadedCert, String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|error| format!("is not a PEM file ({error})"))?;
    if block.label != "CERTIFICATE" {
        return Err(format!(
            "contains a PEM block labelled `{}`, expected `CERTIFICATE`",
            block.label
        ));
    }
    let der = block.contents;
    let (_, cert) = X509Certificate::from_der(&der)
        .map_err(|error| format!("is not a valid X.509 certificate ({error})"))?;
    let facts = cert_facts(&cert).map_err(|error| format!("has an invalid extension ({error})"))?;
    Ok(LoadedCert { pem, der, facts })
}

fn cert_facts(cert: &X509Certificate<'_>) -> Result<CertFacts, x509_parser::error::X509Error> {
    let mut sans = Vec::new();
    if let Some(extension) = cert.subject_alternative_name()? {
        for name in &extension.value.general_names {
            match name {
                GeneralName::DNSName(dns) => sans.push(San::Dns(dns.to_ascii_lowercase())),
                GeneralName::IPAddress(bytes) => {
                    if let Some(ip) = ip_from_bytes(bytes) {
                        sans.push(San::Ip(ip));
                    }
                }
                _ => {}
            }
        }
    }
    let usage = cert.extended_key_usage()?.map(|extension| extension.value);
    let any_usage = usage.is_some_and(|usage| usage.any);

    Ok(CertFacts {
        subject: cert.subject().to_string(),
        sans,
        not_after: cert.validity().not_after.to_datetime(),
        is_ca: cert.is_ca(),
        can_sign_certs: cert
            .key_usage()?
            .is_some_and(|extension| extension.value.key_cert_sign()),
        server_auth: any_usage || usage.is_some_and(|usage| usage.server_auth),
        client_auth: any_usage || usage.is_some_and(|usage| usage.client_auth),
    })
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(octets) = <[u8; 4]>::try_from(bytes) {
        return Some(IpAddr::from(octets));
    }
    <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from)
}

impl Folder {
    /// Derives the state that planning reads: which files exist, whether keys
    /// match certificates, and whether each certificate is signed by the root CA.
    pub fn state(&self) -> FolderState {
        let ca_cert = self.ca.cert.found();
        FolderState {
            ca: pair_state(&self.ca, ca_cert),
            server: pair_state(&self.server, ca_cert),
            client: pair_state(&self.client, ca_cert),
        }
    }
}

fn pair_state(pair: &Pair, ca_cert: Option<&LoadedCert>) -> PairState {
    match (&pair.cert, &pair.key) {
        (Loaded::Invalid(problem), _) | (_, Loaded::Invalid(problem)) => {
            PairState::Unreadable(problem.clone())
        }
        (Loaded::Missing, Loaded::Missing) => PairState::Missing,
        (Loaded::Missing, Loaded::Found(_)) => PairState::CertMissing,
        (Loaded::Found(cert), Loaded::Missing) => PairState::KeyMissing(cert.facts.clone()),
        (Loaded::Found(cert), Loaded::Found(key)) => PairState::Present {
            cert: cert.facts.clone(),
            key_matches: key_matches(&cert.der, key),
            signed_by_ca: ca_cert.is_some_and(|ca_cert| is_signed_by(&cert.der, &ca_cert.der)),
        },
    }
}

/// Compares the certificate's public key with the public half of `key`.
fn key_matches(cert_der: &[u8], key: &KeyPair) -> bool {
    let Ok((_, cert)) = X509Certificate::from_der(cert_der) else {
        return false;
    };
    cert.public_key().subject_public_key.data.as_ref() == key.public_key_raw()
}

/// Checks that `issuer_der`'s subject issued `cert_der` and that its key made the signature.
pub fn is_signed_by(cert_der: &[u8], issuer_der: &[u8]) -> bool {
    let (Ok((_, cert)), Ok((_, issuer))) = (
        X509Certificate::from_der(cert_der),
        X509Certificate::from_der(issuer_der),
    ) else {
        return false;
    };
    cert.issuer().as_raw() == issuer.subject().as_raw()
        && cert.verify_signature(Some(issuer.public_key())).is_ok()
}
