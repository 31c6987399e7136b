//! Searching tar archives for a secret: every file of an archive, and of the
//! archives inside it (image layers, and the images.tar a bundle carries),
//! read as a stream so that gigabytes never sit in memory.

use std::io::Read;

use anyhow::{Context, Result};

/// Largest file read whole to search it; a PEM key is a few hundred bytes.
/// Larger files are searched only when they are archives.
const MAX_SCANNED_FILE: u64 = 1 << 20;

/// Maximum depth of archives inside archives that is opened: an image export
/// (1) contains layers (2) that may contain an images.tar (3) with layers (4).
const MAX_DEPTH: usize = 4;

/// Result of a search: the archives opened and the files that matched.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// Number of archives opened, the outer one included.
    pub archives: usize,
    /// Files whose contents include the needle, as `outer.tar:inner/file`.
    pub holders: Vec<String>,
}

/// Returns the base64 body of a PEM file as its lines lay it out, so that
/// a copy of the file, or of its body, matches.
pub fn pem_body(pem: &str) -> String {
    pem.lines().filter(|line| !line.starts_with("-----")).collect::<Vec<_>>().join("\n")
}

/// Searches the tar archive read from `reader`, and every archive inside it,
/// for files whose contents include `needle`.
pub fn find_in_archive<R: Read>(mut reader: R, needle: &[u8]) -> Result<Findings> {
    let mut findings = Findings::default();
    scan(&mut reader, needle, "", 1, &mut findings).context("cannot read the archive")?;
    Ok(findings)
}

// Takes `dyn Read` because a generic reader would nest one type per archive level without end.
fn scan(reader: &mut dyn Read, needle: &[u8], prefix: &str, depth: usize, findings: &mut Findings) -> std::io::Result<()> {
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = format!("{prefix}{}", entry.path()?.display());
        let nested_prefix = format!("{name}:");
        if entry.size() > MAX_SCANNED_FILE {
            // Too large to be a key file: search it only as an archive. A
            // member that is not one ends that search, not its parent's.
            if depth < MAX_DEPTH {
                let _ = scan(&mut entry as &mut dyn Read, needle, &nested_prefix, depth + 1, findings);
            }
            continue;
        }
        let mut contents = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut contents)?;
        let opened_as_archive = name.ends_with(".tar")
            && depth < MAX_DEPTH
            && scan(&mut &contents[..], needle, &nested_prefix, depth + 1, findings).is_ok();
        if !opened_as_archive && contains(&contents, needle) {
            findings.holders.push(name);
        }
    }
    findings.archives += 1;
    Ok(())
}

/// Returns whether `needle` occurs in `haystack`; an empty needle never does.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, contents) in files {
            crate::base_images::append_bytes(&mut builder, path, contents, 0o644).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn finds_key_in_nested_layers() {
        let key = b"-----BEGIN PRIVATE KEY-----\nSECRETBODY\n-----END PRIVATE KEY-----\n";
        let inner_layer = tar_of(&[("app/leaked.key", key)]);
        let images_tar = tar_of(&[("manifest.json", b"[]"), ("abc/layer.tar", &inner_layer)]);
        let bundle_layer = tar_of(&[("esb/images.tar", &images_tar), ("etc/hostname", b"bundle\n")]);
        let export = tar_of(&[("manifest.json", b"[]"), ("def/layer.tar", &bundle_layer)]);

        let findings = find_in_archive(&export[..], b"SECRETBODY").unwrap();
        assert_eq!(findings.holders, ["def/layer.tar:esb/images.tar:abc/layer.tar:app/leaked.key"]);
        assert_eq!(findings.archives, 4);
    }

    #[test]
    fn clean_archive_has_no_holders() {
        let layer = tar_of(&[("etc/hostname", b"bundle\n")]);
        let export = tar_of(&[("manifest.json", b"[]"), ("def/layer.tar", &layer)]);

        let findings = find_in_archive(&export[..], b"SECRETBODY").unwrap();
        assert!(findings.holders.is_empty());
        assert_eq!(findings.archives, 2);
    }

    #[test]
    fn pem_body_drops_armor() {
        assert_eq!(pem_body("-----BEGIN X-----\nAAA\nBBB\n-----END X-----\n"), "AAA\nBBB");
    }
}
