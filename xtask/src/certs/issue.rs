//! Key generation and certificate signing with rcgen.

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rsa::pkcs8::EncodePrivateKey;
use rustls::pki_types::PrivatePkcs8KeyDer;
use time::OffsetDateTime;

use super::plan::{Leaf, San};
use crate::flags::KeyAlgorithm;

/// Organization of every subject this tool issues.
const ORGANIZATION: &str = "ESB development";

/// A signed certificate and its private key, both PEM-encoded.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Generates a private key.
pub fn generate_key(algorithm: KeyAlgorithm) -> Result<KeyPair> {
    match algorithm {
        KeyAlgorithm::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .context("failed to generate an ECDSA P-256 key"),
        KeyAlgorithm::Rsa2048 => generate_rsa_2048(),
    }
}

/// ring can sign with RSA keys but cannot generate them, so the `rsa` crate
/// generates the key and rcgen loads it as PKCS#8.
fn generate_rsa_2048() -> Result<KeyPair> {
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
        .context("failed to generate an RSA key")?;
    let pkcs8 = key
        .to_pkcs8_der()
        .context("failed to encode the RSA key as PKCS#8")?;
    let pkcs8 = PrivatePkcs8KeyDer::from(pkcs8.as_bytes());
    KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256)
        .context("failed to load the RSA key")
}

/// Issues a self-signed root CA that may sign leaves but no further CAs.
pub fn issue_ca(
    key: &KeyPair,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<Issued> {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject("ESB development root CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = not_before;
    params.not_after = not_after;

    let cert = params
        .self_signed(key)
        .context("failed to sign the root CA certificate")?;
    Ok(Issued {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Issues a leaf with a new key of `algorithm`, signed by the root CA whose
/// certificate is `ca_cert_pem` and whose key is `ca_key`. `sans` is used by
/// the server leaf only.
pub fn issue_leaf(
    leaf: Leaf,
    algorithm: KeyAlgorithm,
    sans: &[San],
    ca_cert_pem: &str,
    ca_key: &KeyPair,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<Issued> {
    let issuer = Issuer::from_ca_cert_pem(ca_cert_pem, ca_key)
        .context("failed to read the root CA certificate")?;
    let key = generate_key(algorithm)?;

    let mut params = CertificateParams::default();
    params.not_before = not_before;
    params.not_after = not_after;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    match leaf {
        Leaf::Server => {
            params.distinguished_name = subject("ESB development server");
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            params.subject_alt_names = sans.iter().map(san_type).collect::<Result<_>>()?;
        }
        Leaf::Client => {
            params.distinguished_name = subject("ESB development client");
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
    }

    let cert = params
        .signed_by(&key, &issuer)
        .with_context(|| format!("failed to sign the {}", leaf.label()))?;
    Ok(Issued {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn subject(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, ORGANIZATION);
    name
}

fn san_type(san: &San) -> Result<SanType> {
    Ok(match san {
        San::Dns(name) => {
            let name = name
                .clone()
                .try_into()
                .with_context(|| format!("`{name}` is not a valid DNS name"))?;
            SanType::DnsName(name)
        }
        San::Ip(ip) => SanType::IpAddress(*ip),
    })
}
