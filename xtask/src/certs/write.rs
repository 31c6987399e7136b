//! Writing the certificate folder. Every file is first written and synced
//! under a temporary name in the same folder, then all are renamed into place,
//! so an interrupted run leaves only `.*.tmp` files, never a truncated PEM.

use std::fs::{DirBuilder, File, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};

use anyhow::{Context, Result};
use camino::Utf8Path;
use tempfile::NamedTempFile;

/// Mode of private key files.
pub const KEY_MODE: u32 = 0o600;
/// Mode of certificate files.
pub const CERT_MODE: u32 = 0o644;

/// One file to write into the certificate folder.
pub struct Output {
    pub file: String,
    pub contents: Vec<u8>,
    pub mode: u32,
    /// When set, an existing file of that name is an error instead of being
    /// replaced. The dated copies of an old root CA are written this way.
    pub no_clobber: bool,
}

/// Writes `outputs` into `dir`, creating it with mode 0700 when it does not exist.
pub fn write_outputs(dir: &Utf8Path, outputs: &[Output]) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the certificate folder {dir}"))?;

    let mut staged = Vec::new();
    for output in outputs {
        staged.push(stage(dir, output)?);
    }

    // The renames are not atomic as a group: a crash between two of them can
    // leave new leaves beside the old root CA, which the next run reports.
    for (output, temp) in outputs.iter().zip(staged) {
        let path = dir.join(&output.file);
        let persisted = if output.no_clobber {
            temp.persist_noclobber(&path)
        } else {
            temp.persist(&path)
        };
        persisted
            .map_err(|error| error.error)
            .with_context(|| format!("cannot write {path}"))?;
    }

    File::open(dir)
        .and_then(|folder| folder.sync_all())
        .with_context(|| format!("cannot sync the certificate folder {dir}"))
}

fn stage(dir: &Utf8Path, output: &Output) -> Result<NamedTempFile> {
    let path = dir.join(&output.file);
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{}.", output.file))
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file for {path}"))?;

    // The temporary file is created with mode 0600, so a key is never readable by others.
    temp.as_file()
        .set_permissions(Permissions::from_mode(output.mode))
        .with_context(|| format!("cannot set the mode of {path}"))?;
    temp.write_all(&output.contents)
        .with_context(|| format!("cannot write {path}"))?;
    temp.as_file()
        .sync_all()
        .with_context(|| format!("cannot sync {path}"))?;
    Ok(temp)
}
