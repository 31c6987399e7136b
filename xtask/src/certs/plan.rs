//! Planning: from the parsed state of the certificate folder and the request,
//! decide for the root CA and each leaf whether to keep it, issue it, or stop
//! with a problem. Pure, so every rule is tested without touching disk.

use std::fmt;
use std::net::IpAddr;

use anyhow::{bail, Result};
use rustls::pki_types::DnsName;
use time::{Duration, OffsetDateTime};

use crate::flags::KeyAlgorithm;

/// A certificate is renewed, or reported by `--check`, when it expires sooner than this.
pub const RENEW_BEFORE: Duration = Duration::days(30);

/// Maximum leaf validity. iOS 13 and macOS 10.15 reject TLS server certificates
/// issued after 2019-07-01 that are valid for more than 825 days (Apple support
/// article HT210176, "Requirements for trusted certificates in iOS 13 and macOS 10.15").
pub const MAX_LEAF_DAYS: u32 = 825;

/// A subject alternative name of the server certificate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum San {
    /// DNS name, stored in lower case because DNS names compare case-insensitively.
    Dns(String),
    Ip(IpAddr),
}

impl San {
    /// Parses an IP address, or else a DNS name as TLS clients accept it.
    pub fn parse(text: &str) -> Result<San> {
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(San::Ip(ip));
        }
        match DnsName::try_from(text) {
            Ok(_) => Ok(San::Dns(text.to_ascii_lowercase())),
            Err(_) => bail!("`{text}` is neither an IP address nor a valid DNS name"),
        }
    }
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(name) => f.write_str(name),
            San::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// Options of one run: server names, key algorithm, validity periods and
/// whether to replace the root CA.
#[derive(Debug, Clone)]
pub struct Request {
    /// Names the server certificate must carry, sorted and without duplicates.
    pub sans: Vec<San>,
    pub key_algorithm: KeyAlgorithm,
    pub ca_days: u32,
    pub leaf_days: u32,
    pub force_ca: bool,
    pub now: OffsetDateTime,
}

impl Request {
    /// Validates the options and collects the server names: `DEFAULT_SANS`,
    /// then `names`. Reports every invalid name at once.
    pub fn new(
        names: &[String],
        key_algorithm: KeyAlgorithm,
        ca_days: u32,
        leaf_days: u32,
        force_ca: bool,
        now: OffsetDateTime,
    ) -> Result<Request> {
        if leaf_days > MAX_LEAF_DAYS {
            bail!(
                "--leaf-days {leaf_days} is too long: server and client certificates may be valid for at most \
                 {MAX_LEAF_DAYS} days\nhint: pass --leaf-days {MAX_LEAF_DAYS} or less"
            );
        }
        if leaf_days == 0 || ca_days == 0 {
            bail!("--leaf-days {leaf_days} and --ca-days {ca_days} must both be at least 1");
        }
        // X.509 dates end with the year 9999, and so does the `time` crate without its large-dates feature.
        if now
            .checked_add(Duration::days(i64::from(ca_days)))
            .is_none()
        {
            bail!("--ca-days {ca_days} reaches past the year 9999\nhint: pass a smaller --ca-days, such as 3650");
        }

        let mut sans = Vec::new();
        let mut invalid = Vec::new();
        let all_names = super::DEFAULT_SANS
            .iter()
            .copied()
            .chain(names.iter().map(String::as_str));
        for name in all_names {
            match San::parse(name) {
                Ok(san) => sans.push(san),
                Err(error) => invalid.push(error.to_string()),
            }
        }
        if !invalid.is_empty() {
            bail!(
                "invalid subject alternative names for the server certificate:\n  {}\nhint: pass DNS names such as \
                 `gateway` or IP addresses such as `10.0.0.5`",
                invalid.join("\n  ")
            );
        }
        sans.sort();
        sans.dedup();

        Ok(Request {
            sans,
            key_algorithm,
            ca_days,
            leaf_days,
            force_ca,
            now,
        })
    }
}

/// The facts of one parsed certificate that planning and `--check` use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// Subject distinguished name, as `CN=..., O=...`.
    pub subject: String,
    pub sans: Vec<San>,
    pub not_after: OffsetDateTime,
    /// basicConstraints CA:true.
    pub is_ca: bool,
    /// keyUsage keyCertSign.
    pub can_sign_certs: bool,
    pub server_auth: bool,
    pub client_auth: bool,
}

/// A problem that stops the run before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// File name inside the certificate folder.
    pub file: String,
    pub message: String,
    pub hint: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}\nhint: {}", self.file, self.message, self.hint)
    }
}

/// State of a certificate and its private key in the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairState {
    /// Neither file exists.
    Missing,
    /// The key exists, the certificate does not.
    CertMissing,
    /// The certificate exists, the key does not.
    KeyMissing(CertFacts),
    /// A file exists but cannot be read or parsed.
    Unreadable(Problem),
    Present {
        cert: CertFacts,
        /// The key's public half is the certificate's public key.
        key_matches: bool,
        /// For a leaf: issued and signed by the root CA. For the root CA: self-signed.
        signed_by_ca: bool,
    },
}

/// State of the whole certificate folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderState {
    pub ca: PairState,
    pub server: PairState,
    pub client: PairState,
}

/// The two leaf certificates of the folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    Server,
    Client,
}

impl Leaf {
    pub fn cert_file(self) -> &'static str {
        match self {
            Leaf::Server => "server.crt",
            Leaf::Client => "client.crt",
        }
    }

    pub fn key_file(self) -> &'static str {
        match self {
            Leaf::Server => "server.key",
            Leaf::Client => "client.key",
        }
    }

    /// Name in progress lines and messages.
    pub fn label(self) -> &'static str {
        match self {
            Leaf::Server => "server certificate",
            Leaf::Client => "client certificate",
        }
    }

    /// Extended key usage the leaf must carry.
    pub fn usage(self) -> &'static str {
        match self {
            Leaf::Server => "serverAuth",
            Leaf::Client => "clientAuth",
        }
    }
}

pub const CA_CERT_FILE: &str = "rootCA.crt";
pub const CA_KEY_FILE: &str = "rootCA.key";

/// Cause of issuing a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Missing(&'static str),
    /// `--force-ca` replaces the root CA.
    Forced,
    /// The root CA is new, so the leaf must be signed again.
    NewCa,
    MissingSans(Vec<San>),
    MissingUsage(&'static str),
    ExpiresSoon(OffsetDateTime),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Missing(what) => write!(f, "{what} missing"),
            Reason::Forced => f.write_str("--force-ca"),
            Reason::NewCa => f.write_str("new root CA"),
            Reason::MissingSans(sans) => {
                let names: Vec<String> = sans.iter().map(San::to_string).collect();
                write!(f, "missing SAN {}", names.join(", "))
            }
            Reason::MissingUsage(usage) => write!(f, "missing extended key usage {usage}"),
            Reason::ExpiresSoon(not_after) => {
                write!(f, "expires {}", super::format_date(*not_after))
            }
        }
    }
}

/// Action for one certificate and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Keep {
        not_after: OffsetDateTime,
    },
    Issue(Reason),
    /// Nothing may be written because of this problem.
    Reject(Problem),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub ca: Step,
    pub server: Step,
    pub client: Step,
    /// Names of a newly issued server certificate: the requested ones and
    /// those the current server certificate carries, so a re-issue drops none.
    pub server_sans: Vec<San>,
}

impl Plan {
    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        [&self.ca, &self.server, &self.client]
            .into_iter()
            .filter_map(|step| match step {
                Step::Reject(problem) => Some(problem),
                _ => None,
            })
    }

    pub fn leaf(&self, leaf: Leaf) -> &Step {
        match leaf {
            Leaf::Server => &self.server,
            Leaf::Client => &self.client,
        }
    }
}

/// Decides the step for the root CA and both leaves.
pub fn plan(state: &FolderState, request: &Request) -> Plan {
    let ca = plan_ca(&state.ca, request);
    let server = plan_leaf(Leaf::Server, &state.server, &ca, request);
    let client = plan_leaf(Leaf::Client, &state.client, &ca, request);

    let mut server_sans = request.sans.clone();
    if let PairState::KeyMissing(cert) | PairState::Present { cert, .. } = &state.server {
        server_sans.extend(cert.sans.iter().cloned());
    }
    server_sans.sort();
    server_sans.dedup();

    Plan {
        ca,
        server,
        client,
        server_sans,
    }
}

fn plan_ca(state: &PairState, request: &Request) -> Step {
    let force_hint = "or pass --force-ca to replace the root CA (the old files are kept under a dated name) and \
                      re-issue both leaves";
    if request.force_ca {
        return Step::Issue(Reason::Forced);
    }

    match state {
        PairState::Missing => Step::Issue(Reason::Missing("rootCA.crt and rootCA.key")),
        PairState::Unreadable(problem) => Step::Reject(problem.clone()),
        PairState::CertMissing => ca_problem(
            CA_CERT_FILE,
            "missing, but rootCA.key exists".to_owned(),
            format!("restore rootCA.crt, {force_hint}"),
        ),
        PairState::KeyMissing(_) => ca_problem(
            CA_KEY_FILE,
            "missing, but rootCA.crt exists, so no certificate can be signed".to_owned(),
            format!("restore rootCA.key, {force_hint}"),
        ),
        PairState::Present {
            cert,
            key_matches,
            signed_by_ca,
        } => {
            if !key_matches {
                return ca_problem(
                    CA_KEY_FILE,
                    "does not match the certificate in rootCA.crt".to_owned(),
                    format!("restore the key that belongs to rootCA.crt, {force_hint}"),
                );
            }
            if !cert.is_ca || !cert.can_sign_certs || !signed_by_ca {
                return ca_problem(
                    CA_CERT_FILE,
                    "is not a self-signed CA certificate with basicConstraints CA:true and keyCertSign".to_owned(),
                    format!("restore the root CA, {force_hint}"),
                );
            }
            if cert.not_after <= request.now {
                return ca_problem(
                    CA_CERT_FILE,
                    format!("expired on {}", super::format_date(cert.not_after)),
                    "pass --force-ca to issue a new root CA, then install the new rootCA.crt wherever the old \
                     one is trusted"
                        .to_owned(),
                );
            }
            Step::Keep {
                not_after: cert.not_after,
            }
        }
    }
}

fn ca_problem(file: &str, message: String, hint: String) -> Step {
    Step::Reject(Problem {
        file: file.to_owned(),
        message,
        hint,
    })
}

fn plan_leaf(leaf: Leaf, state: &PairState, ca: &Step, request: &Request) -> Step {
    let missing = match state {
        PairState::Missing => Some(Reason::Missing("certificate and key")),
        PairState::CertMissing => Some(Reason::Missing("certificate")),
        PairState::KeyMissing(_) => Some(Reason::Missing("key")),
        _ => None,
    };

    // An unreadable leaf file is never overwritten, because it may be something the user needs.
    if let PairState::Unreadable(problem) = state {
        return Step::Reject(problem.clone());
    }
    // A new root CA invalidates every other leaf, whatever state it is in.
    if let Step::Issue(_) = ca {
        return Step::Issue(missing.unwrap_or(Reason::NewCa));
    }
    if let Some(reason) = missing {
        return Step::Issue(reason);
    }

    let PairState::Present {
        cert,
        key_matches,
        signed_by_ca,
    } = state
    else {
        unreachable!("missing and unreadable files are handled above");
    };
    let (key_matches, signed_by_ca) = (*key_matches, *signed_by_ca);
    let delete_hint = format!(
        "delete {} and {} to issue new ones from the root CA, or pass --force-ca to replace the root CA and both \
         leaves",
        leaf.cert_file(),
        leaf.key_file()
    );
    if !key_matches {
        return Step::Reject(Problem {
            file: leaf.key_file().to_owned(),
            message: format!("does not match the certificate in {}", leaf.cert_file()),
            hint: delete_hint,
        });
    }
    // When the root CA itself has a problem, that problem is the one to report.
    if !signed_by_ca && matches!(ca, Step::Keep { .. }) {
        return Step::Reject(Problem {
            file: leaf.cert_file().to_owned(),
            message: "is not signed by the root CA in rootCA.crt".to_owned(),
            hint: delete_hint,
        });
    }

    let has_usage = match leaf {
        Leaf::Server => cert.server_auth,
        Leaf::Client => cert.client_auth,
    };
    if !has_usage {
        return Step::Issue(Reason::MissingUsage(leaf.usage()));
    }
    if leaf == Leaf::Server {
        let missing_sans: Vec<San> = request
            .sans
            .iter()
            .filter(|san| !cert.sans.contains(san))
            .cloned()
            .collect();
        if !missing_sans.is_empty() {
            return Step::Issue(Reason::MissingSans(missing_sans));
        }
    }
    // A leaf that already ends with its root CA cannot last longer when
    // re-issued, so re-issuing it would only rewrite the files on every run.
    let ends_with_ca = matches!(ca, Step::Keep { not_after } if cert.not_after >= *not_after);
    if cert.not_after - request.now < RENEW_BEFORE && !ends_with_ca {
        return Step::Issue(Reason::ExpiresSoon(cert.not_after));
    }
    Step::Keep {
        not_after: cert.not_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn request(names: &[&str]) -> Request {
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        Request::new(&names, KeyAlgorithm::EcdsaP256, 3650, 825, false, now()).unwrap()
    }

    fn ca_facts() -> CertFacts {
        CertFacts {
            subject: "CN=ca".to_owned(),
            sans: Vec::new(),
            not_after: now() + Duration::days(3000),
            is_ca: true,
            can_sign_certs: true,
            server_auth: false,
            client_auth: false,
        }
    }

    fn leaf_facts(leaf: Leaf, names: &[&str]) -> CertFacts {
        CertFacts {
            subject: "CN=leaf".to_owned(),
            sans: names.iter().map(|name| San::parse(name).unwrap()).collect(),
            not_after: now() + Duration::days(800),
            is_ca: false,
            can_sign_certs: false,
            server_auth: leaf == Leaf::Server,
            client_auth: leaf == Leaf::Client,
        }
    }

    fn present(cert: CertFacts) -> PairState {
        PairState::Present {
            cert,
            key_matches: true,
            signed_by_ca: true,
        }
    }

    fn valid_folder(server_names: &[&str]) -> FolderState {
        FolderState {
            ca: present(ca_facts()),
            server: present(leaf_facts(Leaf::Server, server_names)),
            client: present(leaf_facts(Leaf::Client, &[])),
        }
    }

    fn rejected_file(step: &Step) -> &str {
        match step {
            Step::Reject(problem) => &problem.file,
            other => panic!("expected a problem, got {other:?}"),
        }
    }

    #[test]
    fn empty_folder_issues_everything() {
        let empty = FolderState {
            ca: PairState::Missing,
            server: PairState::Missing,
            client: PairState::Missing,
        };
        let plan = plan(&empty, &request(&[]));
        assert!(matches!(plan.ca, Step::Issue(Reason::Missing(_))));
        assert!(matches!(plan.server, Step::Issue(Reason::Missing(_))));
        assert!(matches!(plan.client, Step::Issue(Reason::Missing(_))));
        assert_eq!(plan.problems().count(), 0);
    }

    #[test]
    fn valid_folder_is_kept() {
        let plan = plan(
            &valid_folder(&["localhost", "127.0.0.1", "::1", "gateway"]),
            &request(&["gateway"]),
        );
        assert!(matches!(plan.ca, Step::Keep { .. }));
        assert!(matches!(plan.server, Step::Keep { .. }));
        assert!(matches!(plan.client, Step::Keep { .. }));
    }

    #[test]
    fn missing_san_reissues_server_only() {
        let plan = plan(
            &valid_folder(&["localhost", "127.0.0.1", "::1"]),
            &request(&["gateway", "10.0.0.5"]),
        );
        assert!(matches!(plan.ca, Step::Keep { .. }));
        let expected = vec![
            San::Dns("gateway".to_owned()),
            San::Ip("10.0.0.5".parse().unwrap()),
        ];
        assert_eq!(plan.server, Step::Issue(Reason::MissingSans(expected)));
        assert!(matches!(plan.client, Step::Keep { .. }));
    }

    #[test]
    fn reissued_server_keeps_old_sans() {
        let plan = plan(
            &valid_folder(&["localhost", "127.0.0.1", "::1", "old-service"]),
            &request(&["gateway"]),
        );
        assert!(plan
            .server_sans
            .contains(&San::Dns("old-service".to_owned())));
        assert!(plan.server_sans.contains(&San::Dns("gateway".to_owned())));
        assert!(plan.server_sans.contains(&San::Ip("::1".parse().unwrap())));
    }

    #[test]
    fn leaf_expiring_soon_is_reissued() {
        let mut folder = valid_folder(crate::certs::DEFAULT_SANS);
        let soon = now() + Duration::days(29);
        folder.client = present(CertFacts {
            not_after: soon,
            ..leaf_facts(Leaf::Client, &[])
        });
        let plan = plan(&folder, &request(&[]));
        assert_eq!(plan.client, Step::Issue(Reason::ExpiresSoon(soon)));
        assert!(matches!(plan.server, Step::Keep { .. }));
    }

    #[test]
    fn leaf_ending_with_ca_is_kept() {
        let mut folder = valid_folder(crate::certs::DEFAULT_SANS);
        let ca_end = now() + Duration::days(10);
        folder.ca = present(CertFacts {
            not_after: ca_end,
            ..ca_facts()
        });
        folder.client = present(CertFacts {
            not_after: ca_end,
            ..leaf_facts(Leaf::Client, &[])
        });
        let plan = plan(&folder, &request(&[]));
        assert_eq!(plan.client, Step::Keep { not_after: ca_end });
    }

    #[test]
    fn leaf_without_usage_is_reissued() {
        let mut folder = valid_folder(crate::certs::DEFAULT_SANS);
        folder.server = present(leaf_facts(Leaf::Client, crate::certs::DEFAULT_SANS));
        let plan = plan(&folder, &request(&[]));
        assert_eq!(plan.server, Step::Issue(Reason::MissingUsage("serverAuth")));
    }

    #[test]
    fn force_ca_reissues_everything() {
        let mut request = request(&[]);
        request.force_ca = true;
        let mut folder = valid_folder(crate::certs::DEFAULT_SANS);
        folder.ca = PairState::Present {
            cert: ca_facts(),
            key_matches: false,
            signed_by_ca: true,
        };
        let plan = plan(&folder, &request);
        assert_eq!(plan.ca, Step::Issue(Reason::Forced));
        assert_eq!(plan.server, Step::Issue(Reason::NewCa));
        assert_eq!(plan.client, Step::Issue(Reason::NewCa));
    }

    #[test]
    fn missing_ca_reissues_leaves() {
        let mut folder = valid_folder(crate::certs::DEFAULT_SANS);
        folder.ca = PairState::Missing;
        let plan = plan(&folder, &request(&[]));
        assert_eq!(plan.server, Step::Issue(Reason::NewCa));
        assert_eq!(plan.client, Step::Issue(Reason::NewCa));
    }

    #[test]
    fn mismatched_ca_key_is_rejected() {
        let mut folder = valid_folder(crate::certs::DEFAULT_SANS);
        folder.ca = PairState::Present {
            cert: ca_facts(),
            key_matches: false,
            signed_by_ca: true,
        };
        let plan = plan(&folder, &request(&[]));
        assert_eq!(rejected_file(&plan.ca), CA_KEY_FILE);
        assert!(plan
            .problems()
            .all(|problem| problem.hint.contains("--force-ca")));
    }

    #[test]
    fn half_present_ca_is_rejected() {
        let mut folder = valid_folder(crate::certs::DEFAULT_SANS);
        folder.ca = PairState::KeyMissing(ca_facts());
        assert_eq!(rejected_file(&plan(&folder, &request(&[])).ca), CA_KEY_FILE);

        folder.ca = PairState::CertMissing;
        assert_eq!(
            rejected_file(&plan(&folder, &request(&[])).ca),
            CA_CERT_FILE
        );
    }

    #[test]
    fn expired_ca_is_rejected() {
        let mut folder = valid_folder(crate::certs::DEFAULT_SANS);
        folder.ca = present(CertFacts {
            not_after: now() - Duration::days(1),
            ..ca_facts()
        });
        assert_eq!(
            rejected_file(&plan(&folder, &request(&[])).ca),
            CA_CERT_FILE
        );
    }

    #[test]
    fn ca_expiring_soon_is_kept() {
        let mut folder = valid_folder(crate::certs::DEFAULT_SANS);
        folder.ca = present(CertFacts {
            not_after: now() + Duration::days(10),
            ..ca_facts()
        });
        assert!(matches!(plan(&folder, &request(&[])).ca, Step::Keep { .. }));
    }

    #[test]
    fn non_ca_root_is_rejected() {
        let mut folder = valid_folder(crate::certs::DEFAULT_SANS);
        folder.ca = present(CertFacts {
            is_ca: false,
            ..ca_facts()
        });
        assert_eq!(
            rejected_file(&plan(&folder, &request(&[])).ca),
            CA_CERT_FILE
        );
    }

    #[test]
    fn leaf_from_other_ca_is_rejected() {
        let mut folder = valid_folder(crate::certs::DEFAULT_SANS);
        folder.server = PairState::Present {
            cert: leaf_facts(Leaf::Server, crate::certs::DEFAULT_SANS),
            key_matches: true,
            signed_by_ca: false,
        };
        let plan = plan(&folder, &request(&[]));
        assert_eq!(rejected_file(&plan.server), "server.crt");
        assert!(matches!(plan.client, Step::Keep { .. }));
    }

    #[test]
    fn mismatched_leaf_key_is_rejected() {
        let mut folder = valid_folder(crate::certs::DEFAULT_SANS);
        folder.client = PairState::Present {
            cert: leaf_facts(Leaf::Client, &[]),
            key_matches: false,
            signed_by_ca: true,
        };
        assert_eq!(
            rejected_file(&plan(&folder, &request(&[])).client),
            "client.key"
        );
    }

    #[test]
    fn unreadable_files_are_all_reported() {
        let unreadable = |file: &str| {
            PairState::Unreadable(Problem {
                file: file.to_owned(),
                message: "bad".to_owned(),
                hint: "h".to_owned(),
            })
        };
        let folder = FolderState {
            ca: unreadable("rootCA.crt"),
            server: unreadable("server.key"),
            client: PairState::Missing,
        };
        let plan = plan(&folder, &request(&[]));
        let files: Vec<&str> = plan
            .problems()
            .map(|problem| problem.file.as_str())
            .collect();
        assert_eq!(files, ["rootCA.crt", "server.key"]);
    }

    #[test]
    fn unreadable_leaf_survives_new_ca() {
        let unreadable = PairState::Unreadable(Problem {
            file: "server.crt".to_owned(),
            message: "bad".to_owned(),
            hint: "h".to_owned(),
        });
        let mut forced = request(&[]);
        forced.force_ca = true;
        let mut folder = valid_folder(crate::certs::DEFAULT_SANS);
        folder.server = unreadable;

        assert_eq!(rejected_file(&plan(&folder, &forced).server), "server.crt");
        folder.ca = PairState::Missing;
        assert_eq!(
            rejected_file(&plan(&folder, &request(&[])).server),
            "server.crt"
        );
    }

    #[test]
    fn request_rejects_date_past_9999() {
        let error =
            Request::new(&[], KeyAlgorithm::EcdsaP256, u32::MAX, 825, false, now()).unwrap_err();
        assert!(error.to_string().contains("year 9999"), "{error}");
    }

    #[test]
    fn leaf_without_key_is_reissued() {
        let mut folder = valid_folder(crate::certs::DEFAULT_SANS);
        folder.client = PairState::KeyMissing(leaf_facts(Leaf::Client, &[]));
        assert_eq!(
            plan(&folder, &request(&[])).client,
            Step::Issue(Reason::Missing("key"))
        );
    }

    #[test]
    fn request_rejects_long_leaf_validity() {
        let error =
            Request::new(&[], KeyAlgorithm::EcdsaP256, 3650, 826, false, now()).unwrap_err();
        assert!(error.to_string().contains("at most 825 days"), "{error}");
    }

    #[test]
    fn request_reports_every_invalid_name() {
        let names = vec![
            "good".to_owned(),
            "bad name".to_owned(),
            "also bad!".to_owned(),
        ];
        let error =
            Request::new(&names, KeyAlgorithm::EcdsaP256, 3650, 825, false, now()).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("`bad name`"), "{message}");
        assert!(message.contains("`also bad!`"), "{message}");
    }

    #[test]
    fn request_normalises_names() {
        let names = vec![
            "Gateway".to_owned(),
            "localhost".to_owned(),
            "::0001".to_owned(),
        ];
        let request =
            Request::new(&names, KeyAlgorithm::EcdsaP256, 3650, 825, false, now()).unwrap();
        let shown: Vec<String> = request.sans.iter().map(San::to_string).collect();
        assert_eq!(shown, ["gateway", "localhost", "127.0.0.1", "::1"]);
    }
}
