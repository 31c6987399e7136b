//! The repository root, found once, and the default paths under it.

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

/// Returns the workspace root: the parent of the `xtask` crate's folder.
pub fn root() -> Utf8PathBuf {
    let manifest_dir = Utf8Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().expect("xtask lives one level below the workspace root").to_owned()
}

/// Default folder of the generated certificates.
pub fn default_cert_dir() -> Utf8PathBuf {
    root().join(".esb/certs")
}

/// Resolves a user-given path against the current directory and returns it absolute.
pub fn absolute(path: &Utf8Path) -> Result<Utf8PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_owned());
    }
    let current = std::env::current_dir().context("cannot read the current directory")?;
    let current = Utf8PathBuf::from_path_buf(current)
        .map_err(|path| anyhow::anyhow!("current directory {} is not UTF-8", path.display()))?;
    Ok(current.join(path))
}
