//! `cargo xtask certs --check`: a report of each certificate on stdout, and an
//! error when any of them is missing, invalid or expires soon.

use anyhow::{bail, Result};
use camino::Utf8Path;

use super::inspect::{self, Loaded, Pair};
use super::plan::{self, Leaf, Request, Step, CA_CERT_FILE, RENEW_BEFORE};
use super::{display_dir, format_date};

/// Prints the report and fails when any certificate needs attention.
pub fn check(dir: &Utf8Path, request: &Request) -> Result<()> {
    let dir_label = display_dir(dir);
    let folder = inspect::load(dir);
    let plan = plan::plan(&folder.state(), request);
    let ca_der = folder.ca.cert.found().map(|cert| cert.der.as_slice());

    let entries = [
        (CA_CERT_FILE, &folder.ca, &plan.ca),
        (Leaf::Server.cert_file(), &folder.server, &plan.server),
        (Leaf::Client.cert_file(), &folder.client, &plan.client),
    ];
    let mut failed = Vec::new();
    for (file, pair, step) in entries {
        let status = status(step, request);
        println!("{file}");
        print_facts(pair, ca_der);
        println!("  status: {}", status.as_deref().unwrap_or("ok"));
        if status.is_some() {
            failed.push(file);
        }
    }

    if !failed.is_empty() {
        bail!(
            "certs --check: {} of 3 certificates in {dir_label} are missing, invalid or expire within 30 days: {}\nhint: \
             run `cargo xtask certs` to re-issue the leaves. A root CA problem needs `cargo xtask certs --force-ca`.",
            failed.len(),
            failed.join(", ")
        );
    }
    eprintln!("[certs] all certificates in {dir_label} are valid and chain to {CA_CERT_FILE}");
    Ok(())
}

/// Returns what is wrong with a certificate, or `None` when it is valid for
/// longer than `RENEW_BEFORE`.
fn status(step: &Step, request: &Request) -> Option<String> {
    match step {
        Step::Keep { not_after } if *not_after - request.now < RENEW_BEFORE => {
            Some(format!("expires soon, on {}", format_date(*not_after)))
        }
        Step::Keep { .. } => None,
        Step::Issue(reason) => Some(format!("needs a new certificate: {reason}")),
        Step::Reject(problem) => Some(format!("invalid: {} {}", problem.file, problem.message)),
    }
}

fn print_facts(pair: &Pair, ca_der: Option<&[u8]>) {
    let cert = match &pair.cert {
        Loaded::Found(cert) => cert,
        Loaded::Missing => {
            println!("  missing");
            return;
        }
        Loaded::Invalid(problem) => {
            println!("  {}", problem.message);
            return;
        }
    };

    println!("  subject: {}", cert.facts.subject);
    if !cert.facts.sans.is_empty() {
        let sans: Vec<String> = cert.facts.sans.iter().map(ToString::to_string).collect();
        println!("  SANs: {}", sans.join(", "));
    }
    println!("  expires: {}", format_date(cert.facts.not_after));
    let chains = ca_der.is_some_and(|ca_der| inspect::is_signed_by(&cert.der, ca_der));
    println!(
        "  chains to {CA_CERT_FILE}: {}",
        if chains { "yes" } else { "no" }
    );
}
