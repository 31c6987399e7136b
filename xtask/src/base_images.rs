//! `cargo xtask base-images`: the offline base images, made from Debian
//! packages because no registry can be reached on ESB's build hosts.
//!
//! Each root file system comes from `debootstrap --variant=minbase` against the
//! Debian mirror of the host's apt sources and is imported as an image whose
//! tag carries a hash of its recipe, so the same recipe is never rebuilt.
//! Sites with a registry can use the public images instead: `docker:dind` for
//! the bundle (`bundle --dind-base`) and `public.ecr.aws/lambda/python:3.11`
//! for functions (`--base-image python3.11=...`).

use std::process::Stdio;

use anyhow::{bail, Context, Result};
use bollard::Docker;
use bytes::Bytes;
use camino::{Utf8Path, Utf8PathBuf};
use futures_util::Stream;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::engine::{self, BuildSpec};
use crate::flags::{BaseImagesArgs, BaseRecipeArgs};
use crate::{project, report};

/// Bumped when the way a root file system is made changes, so old images are not reused.
const RECIPE_VERSION: &str = "1";

/// Packages of the Docker-in-Docker base: Debian's engine and compose v1.
const DIND_PACKAGES: &[&str] = &["docker.io", "docker-compose", "iptables", "ca-certificates", "procps"];

/// Packages of the Lambda-style Python base.
const PYTHON_PACKAGES: &[&str] = &["python3", "ca-certificates"];

/// The Python version Debian bookworm ships, which the offline base runs.
pub const PYTHON_VERSION: &str = "3.11";

/// File of the Lambda-compatible invocation endpoint, relative to the repository root.
const LAMBDA_RUNTIME: &str = "xtask/assets/python-base/lambda_runtime.py";

/// Tags of the base images, ready to use.
#[derive(Debug, Clone)]
pub struct BaseImages {
    pub dind: String,
    pub python: String,
}

/// One root file system made by debootstrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootFsRecipe {
    pub name: &'static str,
    pub suite: String,
    pub mirror: String,
    pub packages: Vec<&'static str>,
    /// Dockerfile instructions applied on import.
    pub changes: Vec<String>,
}

impl RootFsRecipe {
    /// Returns the image tag, `esb-base/NAME-rootfs:SUITE-HASH`, that identifies this recipe.
    pub fn tag(&self) -> String {
        let mut hasher = Sha256::new();
        for part in [RECIPE_VERSION, self.name, &self.suite, &self.mirror] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        for part in self.packages.iter().copied().chain(self.changes.iter().map(String::as_str)) {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        let hash = hex::encode(hasher.finalize());
        format!("esb-base/{}-rootfs:{}-{}", self.name, self.suite, &hash[..12])
    }
}

pub fn dind_recipe(suite: &str, mirror: &str) -> RootFsRecipe {
    RootFsRecipe {
        name: "dind",
        suite: suite.to_owned(),
        mirror: mirror.to_owned(),
        packages: DIND_PACKAGES.to_vec(),
        // The inner engine needs a real file system for overlay2, not the container's own overlay.
        changes: vec!["VOLUME /var/lib/docker".to_owned()],
    }
}

pub fn python_recipe(suite: &str, mirror: &str) -> RootFsRecipe {
    RootFsRecipe {
        name: "python",
        suite: suite.to_owned(),
        mirror: mirror.to_owned(),
        packages: PYTHON_PACKAGES.to_vec(),
        changes: Vec::new(),
    }
}

pub async fn run(args: &BaseImagesArgs) -> Result<()> {
    let docker = engine::connect().await?;
    let images = ensure(&docker, &args.recipe, args.force, Needed::ALL).await?;
    println!("{}", images.dind);
    println!("{}", images.python);
    Ok(())
}

/// Returns the tags the base images of `recipe` have, without building them.
pub fn planned(recipe: &BaseRecipeArgs) -> Result<BaseImages> {
    let mirror = mirror_for_tags(recipe);
    let python_root_fs = python_recipe(&recipe.suite, &mirror);
    Ok(BaseImages {
        dind: dind_recipe(&recipe.suite, &mirror).tag(),
        python: python_base(&python_root_fs.tag())?.tag,
    })
}

/// Returns the mirror, or a placeholder on hosts without Debian apt sources:
/// tags made with it name base images that such a host cannot build, which
/// matters only when a step needs them, and `ensure` then reports the mirror.
fn mirror_for_tags(recipe: &BaseRecipeArgs) -> String {
    mirror(recipe).unwrap_or_else(|_| "no-debian-mirror".to_owned())
}

fn mirror(recipe: &BaseRecipeArgs) -> Result<String> {
    match &recipe.mirror {
        Some(mirror) => Ok(mirror.trim_end_matches('/').to_owned()),
        None => host_debian_mirror(),
    }
}

/// Selection of the base images a step uses. The others are not built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needed {
    pub dind: bool,
    pub python: bool,
}

impl Needed {
    pub const ALL: Needed = Needed { dind: true, python: true };
}

/// Builds the needed base images that are missing and returns the tags of
/// all of them, built or not. A site whose flags name other images for both
/// needs neither root nor a Debian mirror.
pub async fn ensure(docker: &Docker, recipe: &BaseRecipeArgs, force: bool, needed: Needed) -> Result<BaseImages> {
    let mirror = if needed.dind || needed.python { mirror(recipe)? } else { mirror_for_tags(recipe) };
    let work_dir = project::root().join("target/esb/rootfs");

    let dind = dind_recipe(&recipe.suite, &mirror);
    if needed.dind {
        ensure_root_fs(docker, &dind, &work_dir, force).await?;
    }

    let python_root_fs = python_recipe(&recipe.suite, &mirror);
    let python = if needed.python {
        ensure_root_fs(docker, &python_root_fs, &work_dir, force).await?;
        ensure_python_base(docker, &python_root_fs.tag(), force).await?
    } else {
        python_base(&python_root_fs.tag())?.tag
    };

    Ok(BaseImages { dind: dind.tag(), python })
}

async fn ensure_root_fs(docker: &Docker, recipe: &RootFsRecipe, work_dir: &Utf8Path, force: bool) -> Result<()> {
    let tag = recipe.tag();
    if !force && engine::image_id(docker, &tag).await?.is_some() {
        report::line("base-images", format!("{tag} is present (same recipe), not rebuilt"));
        return Ok(());
    }
    check_debootstrap()?;

    let target = work_dir.join(recipe.name);
    remove_root_fs(&target)?;
    std::fs::create_dir_all(work_dir).with_context(|| format!("cannot create {work_dir}"))?;

    let step = report::Step::start(
        "base-images",
        format!("debootstrap {} ({}) from {}", recipe.name, recipe.packages.join(", "), recipe.mirror),
    );
    let log_path = work_dir.join(format!("{}.debootstrap.log", recipe.name));
    run_debootstrap(recipe, &target, &log_path).await?;
    trim_root_fs(&target)?;
    step.set_message("importing");
    let image_id = engine::import_root_fs(docker, &tag, &recipe.changes, tar_directory(&target)?).await?;
    let size = engine::image_size(docker, &tag).await?;
    step.done(format!("imported {tag} ({}, {})", short_id(&image_id), report::format_bytes(size)));

    remove_root_fs(&target)
}

fn check_debootstrap() -> Result<()> {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join("debootstrap").is_file()))
        .unwrap_or(false);
    if !found {
        bail!("debootstrap is not installed; it makes the offline base images\nhint: run `bash .ci/docker-host.sh` as root, or `apt-get install debootstrap`");
    }
    if !nix_is_root() {
        bail!("debootstrap must run as root to make the base images\nhint: run `cargo xtask base-images` as root once; later runs reuse the images");
    }
    Ok(())
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .and_then(|line| line.split_whitespace().nth(2).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

async fn run_debootstrap(recipe: &RootFsRecipe, target: &Utf8Path, log_path: &Utf8Path) -> Result<()> {
    let log = std::fs::File::create(log_path).with_context(|| format!("cannot create {log_path}"))?;
    let status = tokio::process::Command::new("debootstrap")
        .arg("--variant=minbase")
        .arg(format!("--include={}", recipe.packages.join(",")))
        .arg(&recipe.suite)
        .arg(target)
        .arg(&recipe.mirror)
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .await
        .context("cannot start debootstrap")?;
    if !status.success() {
        let text = std::fs::read_to_string(log_path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
        bail!(
            "debootstrap of the {} base failed ({status}) against {}; last lines of {log_path}:\n  | {}\nhint: check that the mirror is reachable, or pass --mirror",
            recipe.name,
            recipe.mirror,
            tail.join("\n  | ")
        );
    }
    Ok(())
}

/// Removes what a container image does not need: downloaded packages, package
/// lists, documentation and translations.
fn trim_root_fs(root: &Utf8Path) -> Result<()> {
    for dir in ["var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/info"] {
        let path = root.join(dir);
        if !path.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&path).with_context(|| format!("cannot read {path}"))? {
            let entry = entry?;
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                std::fs::remove_dir_all(entry.path())?;
            } else if entry.file_name() != "lock" {
                std::fs::remove_file(entry.path())?;
            }
        }
    }
    Ok(())
}

/// Streams `root` as a tar archive made by GNU tar, which keeps ownership,
/// hard links and special permission bits the way a root file system needs.
fn tar_directory(root: &Utf8Path) -> Result<impl Stream<Item = std::io::Result<Bytes>> + Send + 'static> {
    let mut child = tokio::process::Command::new("tar")
        .args(["--numeric-owner", "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*", "-C"])
        .arg(root)
        .args(["-cf", "-", "."])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start tar")?;
    let stdout = child.stdout.take().expect("stdout is piped");
    Ok(futures_util::stream::unfold(Some((stdout, child)), |state| async move {
        let (mut stdout, mut child) = state?;
        let mut buffer = vec![0u8; 1 << 20];
        match stdout.read(&mut buffer).await {
            Ok(0) => match child.wait().await {
                Ok(status) if status.success() => None,
                Ok(status) => Some((Err(std::io::Error::other(format!("tar exited with {status}"))), None)),
                Err(error) => Some((Err(error), None)),
            },
            Ok(read) => {
                buffer.truncate(read);
                Some((Ok(Bytes::from(buffer)), Some((stdout, child))))
            }
            Err(error) => Some((Err(error), None)),
        }
    }))
}

/// Deletes a root file system left by an earlier run, unmounting first what
/// an interrupted debootstrap may have left mounted inside it (/proc, /sys).
fn remove_root_fs(root: &Utf8Path) -> Result<()> {
    if !root.exists() {
        return Ok(());
    }
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut inside: Vec<&str> = mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .filter(|mount_point| Utf8Path::new(mount_point).starts_with(root))
        .collect();
    inside.sort_by_key(|mount_point| std::cmp::Reverse(mount_point.len()));
    for mount_point in inside {
        let status = std::process::Command::new("umount").arg("-l").arg(mount_point).status()?;
        if !status.success() {
            bail!("cannot unmount {mount_point} inside the old root file system {root}; unmount it by hand, then run again");
        }
    }
    std::fs::remove_dir_all(root).with_context(|| format!("cannot remove the old root file system {root}"))
}

/// The Lambda-style Python base: its root file system plus the invocation
/// endpoint and the environment Lambda functions expect.
struct PythonBase {
    tag: String,
    dockerfile: String,
    runtime: Vec<u8>,
}

fn python_base(root_fs_tag: &str) -> Result<PythonBase> {
    let runtime_path = project::root().join(LAMBDA_RUNTIME);
    let runtime = std::fs::read(&runtime_path).with_context(|| format!("cannot read {runtime_path}"))?;
    let dockerfile = python_dockerfile(root_fs_tag);

    let mut hasher = Sha256::new();
    hasher.update(dockerfile.as_bytes());
    hasher.update(&runtime);
    let tag = format!("esb-base/python:{PYTHON_VERSION}-{}", &hex::encode(hasher.finalize())[..12]);
    Ok(PythonBase { tag, dockerfile, runtime })
}

async fn ensure_python_base(docker: &Docker, root_fs_tag: &str, force: bool) -> Result<String> {
    let PythonBase { tag, dockerfile, runtime } = python_base(root_fs_tag)?;
    if !force && engine::image_id(docker, &tag).await?.is_some() {
        report::line("base-images", format!("{tag} is present (same recipe), not rebuilt"));
        return Ok(tag);
    }

    let step = report::Step::start("base-images", format!("building {tag}"));
    let context = engine::stream_tar(move |builder| {
        append_bytes(builder, "Dockerfile", dockerfile.as_bytes(), 0o644)?;
        append_bytes(builder, "lambda_runtime.py", &runtime, 0o644)
    });
    let spec = BuildSpec { tag: tag.clone(), dockerfile: "Dockerfile".to_owned(), ..BuildSpec::default() };
    let image_id = engine::build_image(docker, &spec, context, &step).await?;
    step.done(format!("built {tag} ({})", short_id(&image_id)));
    Ok(tag)
}

fn python_dockerfile(root_fs_tag: &str) -> String {
    format!(
        "FROM {root_fs_tag}\n\
         ENV LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime PYTHONUNBUFFERED=1 LANG=C.UTF-8\n\
         COPY lambda_runtime.py /var/runtime/lambda_runtime.py\n\
         RUN mkdir -p /var/task /opt\n\
         WORKDIR /var/task\n\
         EXPOSE 8080\n\
         ENTRYPOINT [\"python3\", \"/var/runtime/lambda_runtime.py\"]\n"
    )
}

/// Adds a regular file with the given contents to a tar being written.
pub fn append_bytes<W: std::io::Write>(builder: &mut tar::Builder<W>, path: &str, contents: &[u8], mode: u32) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(contents.len() as u64);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, path, contents)
}

pub fn short_id(image_id: &str) -> &str {
    let id = image_id.strip_prefix("sha256:").unwrap_or(image_id);
    &id[..id.len().min(12)]
}

/// Finds the Debian mirror the host's apt sources use.
fn host_debian_mirror() -> Result<String> {
    let mut sources = Vec::new();
    for path in ["/etc/apt/sources.list"] {
        if let Ok(text) = std::fs::read_to_string(path) {
            sources.push(text);
        }
    }
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<Utf8PathBuf> = entries
            .filter_map(|entry| Utf8PathBuf::from_path_buf(entry.ok()?.path()).ok())
            .collect();
        paths.sort();
        for path in paths {
            if let Ok(text) = std::fs::read_to_string(&path) {
                sources.push(text);
            }
        }
    }
    debian_mirror(&sources).context(
        "no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d\nhint: pass --mirror URL or set ESB_DEBIAN_MIRROR",
    )
}

/// Returns the first Debian archive URI (not the security archive) in apt
/// source texts, in the one-line `deb URI SUITE ...` or the deb822 format.
pub fn debian_mirror(sources: &[String]) -> Option<String> {
    let is_archive = |uri: &str| uri.trim_end_matches('/').ends_with("/debian") && !uri.contains("security");
    for text in sources {
        for line in text.lines().map(str::trim) {
            if line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            match words.next() {
                Some("deb") => {
                    let uri = words.find(|word| !word.starts_with('['))?;
                    if is_archive(uri) {
                        return Some(uri.trim_end_matches('/').to_owned());
                    }
                }
                Some("URIs:") => {
                    if let Some(uri) = words.find(|uri| is_archive(uri)) {
                        return Some(uri.trim_end_matches('/').to_owned());
                    }
                }
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_from_deb822_sources() {
        let text = "Types: deb\n# http://snapshot.example/archive/debian/2025\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n\n\
                    Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n";
        assert_eq!(debian_mirror(&[text.to_owned()]).as_deref(), Some("http://deb.debian.org/debian"));
    }

    #[test]
    fn mirror_from_one_line_sources() {
        let sources = vec![
            "deb https://packages.example.com/apt cloud-sdk main\n".to_owned(),
            "# deb http://old.example/debian bookworm main\ndeb [arch=amd64] http://mirror.example/debian/ bookworm main\n".to_owned(),
        ];
        assert_eq!(debian_mirror(&sources).as_deref(), Some("http://mirror.example/debian"));
    }

    #[test]
    fn mirror_security_only_is_none() {
        let sources = vec!["deb http://security.debian.org/debian-security bookworm-security main\n".to_owned()];
        assert_eq!(debian_mirror(&sources), None);
    }

    #[test]
    fn recipe_tag_follows_recipe() {
        let first = dind_recipe("bookworm", "http://deb.debian.org/debian");
        let same = dind_recipe("bookworm", "http://deb.debian.org/debian");
        let other_suite = dind_recipe("trixie", "http://deb.debian.org/debian");
        let mut more_packages = first.clone();
        more_packages.packages.push("jq");

        assert_eq!(first.tag(), same.tag());
        assert!(first.tag().starts_with("esb-base/dind-rootfs:bookworm-"));
        assert_ne!(first.tag(), other_suite.tag());
        assert_ne!(first.tag(), more_packages.tag());
    }
}
