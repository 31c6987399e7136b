//! The Docker engine, reached through bollard: connecting with a negotiated API
//! version, building images from streamed contexts, importing root file
//! systems and exporting images. Nothing here shells out to the docker CLI.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bollard::body_try_stream;
use bollard::errors::Error as DockerError;
use bollard::query_parameters::{BuildImageOptionsBuilder, CreateImageOptionsBuilder};
use bollard::Docker;
use bytes::Bytes;
use camino::Utf8Path;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use crate::report;

/// Upper bound for one engine request. Builds and exports of a whole stack
/// move gigabytes on slow disks, so this is generous.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3600);

/// Connects to the engine named by `DOCKER_HOST`, or the local socket, and
/// negotiates the API version so that older engines (Debian's 20.10 speaks
/// API 1.41) accept our requests.
pub async fn connect() -> Result<Docker> {
    let docker_host = std::env::var("DOCKER_HOST").ok().filter(|host| !host.is_empty());
    let endpoint = docker_host.clone().unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned());
    let hint = match docker_host {
        Some(_) => "hint: check that DOCKER_HOST names a running engine, or unset it to use /var/run/docker.sock",
        None => "hint: start the engine with `bash .ci/docker-host.sh` as root, or set DOCKER_HOST to a running one",
    };

    let docker = Docker::connect_with_defaults()
        .with_context(|| format!("cannot use the Docker engine at {endpoint}\n{hint}"))?
        .with_timeout(REQUEST_TIMEOUT);
    let docker = docker
        .negotiate_version()
        .await
        .with_context(|| format!("no Docker engine responds at {endpoint}\n{hint}"))?;
    docker.ping().await.with_context(|| format!("no Docker engine responds at {endpoint}\n{hint}"))?;
    Ok(docker)
}

/// Returns the image ID of `reference`, or `None` when the engine has no such image.
pub async fn image_id(docker: &Docker, reference: &str) -> Result<Option<String>> {
    match docker.inspect_image(reference).await {
        Ok(image) => Ok(image.id),
        Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
        Err(error) => Err(error).with_context(|| format!("cannot inspect image `{reference}`")),
    }
}

/// Returns the image ID and labels of `reference`, or `None` when the engine has no such image.
pub async fn image_labels(docker: &Docker, reference: &str) -> Result<Option<(String, HashMap<String, String>)>> {
    match docker.inspect_image(reference).await {
        Ok(image) => {
            let labels = image.config.and_then(|config| config.labels).unwrap_or_default();
            Ok(Some((image.id.unwrap_or_default(), labels)))
        }
        Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
        Err(error) => Err(error).with_context(|| format!("cannot inspect image `{reference}`")),
    }
}

/// Returns the size in bytes of an image the engine has.
pub async fn image_size(docker: &Docker, reference: &str) -> Result<u64> {
    let image = docker
        .inspect_image(reference)
        .await
        .with_context(|| format!("cannot inspect image `{reference}`"))?;
    Ok(image.size.unwrap_or(0).max(0) as u64)
}

/// Settings of one image build: the tag, the Dockerfile and build-time values.
#[derive(Debug, Clone, Default)]
pub struct BuildSpec {
    pub tag: String,
    /// Dockerfile path inside the context.
    pub dockerfile: String,
    pub build_args: HashMap<String, String>,
    pub labels: HashMap<String, String>,
    pub target: Option<String>,
}

/// A build context as a stream of tar bytes, produced on a blocking thread.
pub struct ContextStream {
    receiver: mpsc::Receiver<std::io::Result<Bytes>>,
    /// The error that stopped the writer, kept here because the engine's
    /// response to a broken upload says nothing about its cause.
    write_error: Arc<Mutex<Option<String>>>,
}

/// Streams a tar archive written by `write_tar` on a blocking thread, so that
/// a context of gigabytes never sits in memory at once. At most 16 chunks of
/// 1 MiB wait in the channel.
pub fn stream_tar<F>(write_tar: F) -> ContextStream
where
    F: FnOnce(&mut tar::Builder<ChannelWriter>) -> std::io::Result<()> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(16);
    let write_error = Arc::new(Mutex::new(None));
    let error_slot = write_error.clone();
    tokio::task::spawn_blocking(move || {
        let error_sender = sender.clone();
        let mut builder = tar::Builder::new(ChannelWriter::new(sender));
        builder.follow_symlinks(false);
        let result = write_tar(&mut builder).and_then(|()| builder.into_inner()).and_then(|mut writer| writer.flush());
        if let Err(error) = result {
            if let Ok(mut slot) = error_slot.lock() {
                *slot = Some(error.to_string());
            }
            let _ = error_sender.blocking_send(Err(error));
        }
    });
    ContextStream { receiver, write_error }
}

/// Adds the file at `source` to a tar being written, as `path`. A symlink is
/// followed, so the archive contains the file's contents, not a link to a
/// path of this host. Errors name the source file.
pub fn append_file<W: Write>(builder: &mut tar::Builder<W>, path: &str, source: &Utf8Path) -> std::io::Result<()> {
    let with_path = |error: std::io::Error| std::io::Error::new(error.kind(), format!("cannot add {source} to the build context: {error}"));
    let mut file = std::fs::File::open(source).map_err(with_path)?;
    builder.append_file(path, &mut file).map_err(with_path)
}

/// An `io::Write` that sends what it is given, in chunks, over a channel.
pub struct ChannelWriter {
    sender: mpsc::Sender<std::io::Result<Bytes>>,
    buffer: Vec<u8>,
}

const CHUNK_SIZE: usize = 1 << 20;

impl ChannelWriter {
    fn new(sender: mpsc::Sender<std::io::Result<Bytes>>) -> Self {
        ChannelWriter { sender, buffer: Vec::with_capacity(CHUNK_SIZE) }
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_SIZE {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_SIZE)));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the engine stopped reading the build context"))
    }
}

fn receiver_stream(receiver: mpsc::Receiver<std::io::Result<Bytes>>) -> impl Stream<Item = std::io::Result<Bytes>> {
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}

/// Builds an image with the engine's classic builder from a streamed context
/// and returns its image ID. On failure the error carries the last lines of
/// the build output.
pub async fn build_image(docker: &Docker, spec: &BuildSpec, context: ContextStream, step: &report::Step) -> Result<String> {
    let mut options = BuildImageOptionsBuilder::default()
        .dockerfile(&spec.dockerfile)
        .t(&spec.tag)
        .rm(true)
        .forcerm(true)
        .buildargs(&spec.build_args)
        .labels(&spec.labels);
    if let Some(target) = &spec.target {
        options = options.target(target);
    }

    let ContextStream { receiver, write_error } = context;
    let context_error = move || write_error.lock().ok().and_then(|error| error.clone());
    let body = body_try_stream(receiver_stream(receiver));
    let mut output = docker.build_image(options.build(), None, Some(body));
    let mut recent_lines: Vec<String> = Vec::new();
    let mut image_id = None;
    while let Some(item) = output.next().await {
        let info = match item {
            Ok(info) => info,
            Err(error) => match context_error() {
                Some(cause) => bail!("building image `{}` failed: {cause}", spec.tag),
                None => bail!("building image `{}` failed: {error}\n{}", spec.tag, format_tail(&recent_lines)),
            },
        };
        if let Some(text) = &info.stream {
            for line in text.lines().map(str::trim_end).filter(|line| !line.is_empty()) {
                if line.starts_with("Step ") {
                    step.set_message(line);
                }
                recent_lines.push(line.to_owned());
                if recent_lines.len() > 30 {
                    recent_lines.remove(0);
                }
            }
        }
        if let Some(detail) = info.error_detail.and_then(|detail| detail.message) {
            bail!("building image `{}` failed: {detail}\n{}", spec.tag, format_tail(&recent_lines));
        }
        if let Some(id) = info.aux {
            image_id = id.id;
        }
    }

    match image_id {
        Some(id) => Ok(id),
        None => image_id_or_fail(docker, &spec.tag).await,
    }
}

async fn image_id_or_fail(docker: &Docker, tag: &str) -> Result<String> {
    image_id(docker, tag)
        .await?
        .with_context(|| format!("the engine finished building `{tag}` but has no such image"))
}

fn format_tail(lines: &[String]) -> String {
    let mut text = String::from("last lines of the build output:");
    for line in lines {
        text.push_str("\n  | ");
        text.push_str(line);
    }
    text
}

/// Imports a root file system, streamed as a tar archive, as the image `tag`,
/// applying Dockerfile instructions such as `VOLUME /var/lib/docker`.
pub async fn import_root_fs<S>(docker: &Docker, tag: &str, changes: &[String], root_fs: S) -> Result<String>
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
{
    let (repository, version) = split_tag(tag);
    let options = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(repository)
        .tag(version)
        .changes(changes.to_vec())
        .build();
    let mut output = docker.create_image(Some(options), Some(body_try_stream(root_fs)), None);
    while let Some(item) = output.next().await {
        item.with_context(|| format!("importing the root file system as `{tag}` failed"))?;
    }
    image_id_or_fail(docker, tag).await
}

/// Splits `repository:tag` at the tag's colon; a port colon is not a tag.
pub fn split_tag(reference: &str) -> (&str, &str) {
    match reference.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => (repository, tag),
        _ => (reference, "latest"),
    }
}

/// Saves `references` into one `docker save` archive at `path`, shared layers
/// once. Writes under a temporary name and checks that the result is a
/// complete archive before renaming it. On any failure the partial file is removed.
pub async fn export_images(docker: &Docker, references: &[String], path: &Utf8Path, expected_bytes: u64) -> Result<u64> {
    let partial = path.with_extension("tar.partial");
    let result = write_export(docker, references, &partial, expected_bytes).await;
    let written = match result {
        Ok(written) => written,
        Err(error) => {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(error);
        }
    };
    tokio::fs::rename(&partial, path)
        .await
        .with_context(|| format!("cannot rename {partial} to {path}"))?;
    Ok(written)
}

async fn write_export(docker: &Docker, references: &[String], partial: &Utf8Path, expected_bytes: u64) -> Result<u64> {
    let mut file = tokio::fs::File::create(partial)
        .await
        .with_context(|| format!("cannot create {partial}"))?;
    let progress = report::bytes_bar(expected_bytes, "exporting");

    let names: Vec<&str> = references.iter().map(String::as_str).collect();
    let mut stream = docker.export_images(&names);
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.with_context(|| format!("exporting {} images failed", references.len()))?;
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
            .await
            .with_context(|| format!("cannot write {partial}"))?;
        written += chunk.len() as u64;
        progress.set_position(written.min(expected_bytes.max(written)));
    }
    tokio::io::AsyncWriteExt::flush(&mut file).await?;
    file.sync_all().await.with_context(|| format!("cannot write {partial}"))?;
    drop(file);
    progress.finish_and_clear();

    // The engine reports an error met after the first bytes inside the body of
    // a successful response, which leaves a truncated archive: the rewrite
    // below reads it to its end and fails on one.
    let raw = partial.to_owned();
    let normalized = partial.with_extension("normalized");
    let output = normalized.clone();
    let result = tokio::task::spawn_blocking(move || normalize_image_archive(&raw, &output)).await?;
    if let Err(error) = result {
        let _ = std::fs::remove_file(&normalized);
        return Err(error);
    }
    std::fs::rename(&normalized, partial).with_context(|| format!("cannot rename {normalized} to {partial}"))?;
    Ok(written)
}

/// Returns manifest.json with its images sorted by config file name: the
/// engine lists them in a different order from one save to the next.
fn sorted_manifest(reader: &mut impl std::io::Read) -> Result<Vec<u8>> {
    let mut images: Vec<serde_json::Value> = serde_json::from_reader(reader).context("manifest.json is not a JSON list")?;
    images.sort_by(|left, right| left["Config"].as_str().cmp(&right["Config"].as_str()));
    Ok(serde_json::to_vec(&images)?)
}

/// Copies a `docker save` archive with every modification time set to zero,
/// and checks that it reads to its end and has a manifest.json.
///
/// Engine 20.10 stamps each layer folder with a time, and orders the images of
/// manifest.json differently, from one save to the next. Identical images gave
/// a different images.tar each time, and every bundle then got a new image ID.
/// With times zeroed and the manifest sorted, the bundle's build reuses its
/// cached layers when nothing changed.
pub fn normalize_image_archive(source: &Utf8Path, destination: &Utf8Path) -> Result<()> {
    let input = std::fs::File::open(source).with_context(|| format!("cannot open {source}"))?;
    let output = std::fs::File::create(destination).with_context(|| format!("cannot create {destination}"))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(input));
    let mut builder = tar::Builder::new(std::io::BufWriter::new(output));
    let corrupt = || format!("the engine's export in {source} is truncated or corrupt");

    let mut has_manifest = false;
    for entry in archive.entries().with_context(corrupt)? {
        let mut entry = entry.with_context(corrupt)?;
        let path = entry.path().with_context(corrupt)?.into_owned();
        has_manifest |= path.as_os_str() == "manifest.json";
        let mut header = entry.header().clone();
        header.set_mtime(0);
        let link_target = entry.link_name().with_context(corrupt)?.map(|target| target.into_owned());
        match link_target {
            Some(target) if header.entry_type().is_symlink() || header.entry_type().is_hard_link() => {
                builder.append_link(&mut header, &path, &target)
            }
            _ if path.as_os_str() == "manifest.json" => {
                let manifest = sorted_manifest(&mut entry).with_context(corrupt)?;
                header.set_size(manifest.len() as u64);
                builder.append_data(&mut header, &path, &manifest[..])
            }
            _ => builder.append_data(&mut header, &path, &mut entry),
        }
        .with_context(|| format!("cannot write {destination}"))?;
    }
    if !has_manifest {
        bail!("the engine's export in {source} has no manifest.json, so it is incomplete");
    }
    let writer = builder.into_inner().with_context(|| format!("cannot write {destination}"))?;
    let file = writer.into_inner().map_err(|error| error.into_error()).with_context(|| format!("cannot write {destination}"))?;
    file.sync_all().with_context(|| format!("cannot write {destination}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, contents) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(contents.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, name, *contents).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn normalized_archive_is_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();
        let mut outputs = Vec::new();
        for mtime in [1_700_000_000, 1_800_000_000] {
            let mut builder = tar::Builder::new(Vec::new());
            let manifest: &[u8] = if mtime == 1_700_000_000 {
                br#"[{"Config":"b.json","Layers":[]},{"Config":"a.json","Layers":[]}]"#
            } else {
                br#"[{"Config":"a.json","Layers":[]},{"Config":"b.json","Layers":[]}]"#
            };
            for (name, contents) in [("abc/layer.tar", &b"layer"[..]), ("manifest.json", manifest)] {
                let mut header = tar::Header::new_gnu();
                header.set_size(contents.len() as u64);
                header.set_mode(0o644);
                header.set_mtime(mtime);
                builder.append_data(&mut header, name, contents).unwrap();
            }
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            header.set_mtime(mtime);
            builder.append_link(&mut header, "def/layer.tar", "../abc/layer.tar").unwrap();
            std::fs::write(dir.join("raw.tar"), builder.into_inner().unwrap()).unwrap();

            normalize_image_archive(&dir.join("raw.tar"), &dir.join("images.tar")).unwrap();
            outputs.push(std::fs::read(dir.join("images.tar")).unwrap());
        }
        assert_eq!(outputs[0], outputs[1], "the same images gave different archives");

        let mut archive = tar::Archive::new(&outputs[0][..]);
        let entries: Vec<(String, u64)> = archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                (entry.path().unwrap().display().to_string(), entry.header().mtime().unwrap())
            })
            .collect();
        assert_eq!(entries, [("abc/layer.tar".to_owned(), 0), ("manifest.json".to_owned(), 0), ("def/layer.tar".to_owned(), 0)]);
    }

    #[test]
    fn incomplete_archives_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();

        std::fs::write(dir.join("raw.tar"), archive_with(&[("abc/layer.tar", b"layer")])).unwrap();
        let error = normalize_image_archive(&dir.join("raw.tar"), &dir.join("out.tar")).unwrap_err().to_string();
        assert!(error.contains("no manifest.json"), "{error}");

        let complete = archive_with(&[("abc/layer.tar", &[7u8; 4096]), ("manifest.json", b"[]")]);
        std::fs::write(dir.join("raw.tar"), &complete[..1024]).unwrap();
        assert!(normalize_image_archive(&dir.join("raw.tar"), &dir.join("out.tar")).is_err(), "a truncated archive passed");
    }

    #[test]
    fn split_tag_cases() {
        assert_eq!(split_tag("esb-bundle:latest"), ("esb-bundle", "latest"));
        assert_eq!(split_tag("esb-base/dind"), ("esb-base/dind", "latest"));
        assert_eq!(split_tag("registry:5000/team/app"), ("registry:5000/team/app", "latest"));
        assert_eq!(split_tag("registry:5000/team/app:v1"), ("registry:5000/team/app", "v1"));
    }
}
