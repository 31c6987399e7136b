//! `cargo xtask certs`: the development root CA, server and client certificates.
//!
//! The run reads the certificate folder, plans one step for the root CA and
//! each leaf (keep, issue, or stop with a problem), signs the certificates the
//! plan calls for in memory, and only then writes the files.

mod check;
mod inspect;
mod issue;
mod plan;
mod write;

#[cfg(test)]
mod tests;

use anyhow::{bail, Result};
use camino::{Utf8Path, Utf8PathBuf};
use time::{Duration, OffsetDateTime};

use crate::flags::{CertsArgs, KeyAlgorithm};
use crate::project;
use plan::{Leaf, Plan, Request, Step, CA_CERT_FILE, CA_KEY_FILE, MAX_LEAF_DAYS, RENEW_BEFORE};
use write::{Output, CERT_MODE, KEY_MODE};

/// Files of the certificate folder that a bundle may carry. The CA's private
/// key and the client's private key are never among them.
pub const BUNDLE_FILES: &[&str] = &["rootCA.crt", "server.crt", "server.key"];

/// Names every server certificate carries, beside the stack's service names.
pub const DEFAULT_SANS: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// Validity of a new root CA in days when `ensure` issues one, equal to the default of `--ca-days`.
const DEFAULT_CA_DAYS: u32 = 3650;

pub fn run(args: &CertsArgs) -> Result<()> {
    let dir = match &args.cert_dir {
        Some(dir) => project::absolute(dir)?,
        None => project::default_cert_dir(),
    };
    if args.check && args.force_ca {
        bail!("--check and --force-ca cannot be combined\nhint: run --check alone, or --force-ca alone");
    }
    let mut names = args.sans.clone();
    let compose_file = project::absolute(&args.compose_file)?;
    if compose_file.is_file() {
        let compose = crate::compose::load(&compose_file, &std::env::vars().collect())?;
        names.extend(compose.services.into_iter().map(|service| service.name));
    }
    let now = OffsetDateTime::now_utc();
    let request = Request::new(
        &names,
        args.key_algorithm,
        args.ca_days,
        args.leaf_days,
        args.force_ca,
        now,
    )?;

    if args.check {
        return check::check(&dir, &request);
    }
    apply(&dir, &request)
}

/// Makes sure `dir` contains a valid CA, server and client set whose server
/// certificate carries `DEFAULT_SANS` and `service_names` (service names and
/// any extra names); issues what is missing.
pub fn ensure(dir: &Utf8Path, service_names: &[String]) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    let request = Request::new(
        service_names,
        KeyAlgorithm::EcdsaP256,
        DEFAULT_CA_DAYS,
        MAX_LEAF_DAYS,
        false,
        now,
    )?;
    apply(dir, &request)
}

/// Plans, signs and writes. Nothing is written when the plan contains a problem.
fn apply(dir: &Utf8Path, request: &Request) -> Result<()> {
    let dir_label = display_dir(dir);
    let folder = inspect::load(dir);
    let plan = plan::plan(&folder.state(), request);
    reject_problems(&plan, &dir_label)?;

    let mut outputs = Vec::new();
    let new_ca_key;
    let (ca_cert_pem, ca_key, ca_not_after) = match &plan.ca {
        Step::Keep { not_after } => {
            report_kept_ca(&dir_label, *not_after, request.now);
            let (Some(cert), Some(key)) = (folder.ca.cert.found(), folder.ca.key.found()) else {
                unreachable!("the plan keeps the root CA only when both files were loaded");
            };
            (cert.pem.clone(), key, *not_after)
        }
        Step::Issue(reason) => {
            if request.force_ca {
                outputs.extend(back_up_ca(dir, request.now)?);
            }
            let not_after = request.now + Duration::days(i64::from(request.ca_days));
            eprintln!(
                "[certs] issuing root CA {dir_label}/{CA_CERT_FILE} ({reason}; expires {})",
                format_date(not_after)
            );
            new_ca_key = issue::generate_key(request.key_algorithm)?;
            let issued = issue::issue_ca(&new_ca_key, request.now, not_after)?;
            outputs.push(cert_output(CA_CERT_FILE, &issued.cert_pem));
            outputs.push(key_output(CA_KEY_FILE, &issued.key_pem));
            (issued.cert_pem, &new_ca_key, not_after)
        }
        Step::Reject(_) => unreachable!("problems were rejected above"),
    };

    // A leaf never outlives the root CA that signs it.
    let leaf_not_after =
        (request.now + Duration::days(i64::from(request.leaf_days))).min(ca_not_after);
    for leaf in [Leaf::Server, Leaf::Client] {
        let path = format!("{dir_label}/{}", leaf.cert_file());
        match plan.leaf(leaf) {
            Step::Keep { not_after } => {
                eprintln!(
                    "[certs] kept {} {path} (expires {})",
                    leaf.label(),
                    format_date(*not_after)
                );
            }
            Step::Issue(reason) => {
                eprintln!(
                    "[certs] issuing {} {path} ({reason}; expires {})",
                    leaf.label(),
                    format_date(leaf_not_after)
                );
                let issued = issue::issue_leaf(
                    leaf,
                    request.key_algorithm,
                    &plan.server_sans,
                    &ca_cert_pem,
                    ca_key,
                    request.now,
                    leaf_not_after,
                )?;
                outputs.push(cert_output(leaf.cert_file(), &issued.cert_pem));
                outputs.push(key_output(leaf.key_file(), &issued.key_pem));
            }
            Step::Reject(_) => unreachable!("problems were rejected above"),
        }
    }

    write::write_outputs(dir, &outputs)?;
    report_written(&dir_label, &outputs);
    Ok(())
}

fn reject_problems(plan: &Plan, dir_label: &str) -> Result<()> {
    let problems: Vec<String> = plan.problems().map(ToString::to_string).collect();
    if problems.is_empty() {
        return Ok(());
    }
    bail!(
        "certs: nothing was written to {dir_label} because of these problems:\n{}",
        problems.join("\n")
    )
}

fn report_kept_ca(dir_label: &str, not_after: OffsetDateTime, now: OffsetDateTime) {
    let path = format!("{dir_label}/{CA_CERT_FILE}");
    let expires = format_date(not_after);
    if not_after - now < RENEW_BEFORE {
        eprintln!(
            "[certs] kept root CA {path} (expires {expires}, soon: pass --force-ca to replace it)"
        );
    } else {
        eprintln!("[certs] kept root CA {path} (expires {expires})");
    }
}

fn report_written(dir_label: &str, outputs: &[Output]) {
    if outputs.is_empty() {
        eprintln!("[certs] wrote nothing: the certificates in {dir_label} are valid");
        return;
    }
    let files: Vec<&str> = outputs.iter().map(|output| output.file.as_str()).collect();
    eprintln!(
        "[certs] wrote {} files to {dir_label}: {}",
        files.len(),
        files.join(", ")
    );
}

/// Copies the current root CA files to dated names, such as
/// `rootCA-20261204T1830Z.crt`, before `--force-ca` replaces them.
fn back_up_ca(dir: &Utf8Path, now: OffsetDateTime) -> Result<Vec<Output>> {
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute()
    );

    let mut outputs = Vec::new();
    for (file, extension, mode) in [
        (CA_CERT_FILE, "crt", CERT_MODE),
        (CA_KEY_FILE, "key", KEY_MODE),
    ] {
        let path = dir.join(file);
        let contents = match std::fs::read(&path) {
            Ok(contents) => contents,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => bail!("cannot read {path} to keep a copy of the old root CA: {error}"),
        };
        let backup = format!("rootCA-{stamp}.{extension}");
        if dir.join(&backup).exists() {
            bail!(
                "cannot keep the old root CA as {}: that file exists\nhint: wait a minute so the dated name \
                 changes, or move the older copy away",
                dir.join(&backup)
            );
        }
        eprintln!("[certs] keeping the old {file} as {}", dir.join(&backup));
        outputs.push(Output {
            file: backup,
            contents,
            mode,
            no_clobber: true,
        });
    }
    Ok(outputs)
}

fn cert_output(file: &str, pem: &str) -> Output {
    Output {
        file: file.to_owned(),
        contents: pem.as_bytes().to_vec(),
        mode: CERT_MODE,
        no_clobber: false,
    }
}

fn key_output(file: &str, pem: &str) -> Output {
    Output {
        file: file.to_owned(),
        contents: pem.as_bytes().to_vec(),
        mode: KEY_MODE,
        no_clobber: false,
    }
}

/// Formats the UTC date of `instant` as `YYYY-MM-DD`.
fn format_date(instant: OffsetDateTime) -> String {
    let date = instant.to_offset(time::UtcOffset::UTC).date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Shows `dir` relative to the repository root when it lies inside it.
fn display_dir(dir: &Utf8Path) -> String {
    let root: Utf8PathBuf = project::root();
    match dir.strip_prefix(&root) {
        Ok(relative) => relative.to_string(),
        Err(_) => dir.to_string(),
    }
}
