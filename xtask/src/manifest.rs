//! The files one step writes for the next: the functions manifest of
//! `build-functions` and the `bundle.json` of `collect-images`.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use camino::Utf8Path;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::sam::Route;

pub const FUNCTIONS_MANIFEST: &str = "functions.json";
pub const BUNDLE_MANIFEST: &str = "bundle.json";

/// The function images one `build-functions` run built, with their routes.
/// Later steps take function images from here, never by listing labels,
/// which would also find stale images of earlier builds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionsManifest {
    pub functions: Vec<FunctionImage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionImage {
    pub logical_id: String,
    pub name: String,
    /// Compose service that runs the function inside the stack.
    pub service: String,
    pub image: String,
    pub image_id: String,
    pub timeout_seconds: u32,
    pub memory_mb: u32,
    pub environment: BTreeMap<String, String>,
    pub routes: Vec<Route>,
    /// HTTP status the smoke test expects from this function's routes when it
    /// is not 200, for fixture functions that fail on purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_status: Option<u16>,
    /// `ImageConfig` of a `PackageType: Image` function, applied when the function's container starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_config: Option<ImageConfig>,
}

/// A function's `ImageConfig`: what replaces its image's command, entry point and working directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_point: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
}

/// Origin of an image in the bundle: a compose service, a function or an extra image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum ImageSource {
    Service(String),
    Function(String),
    Extra(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundledImage {
    pub reference: String,
    pub id: String,
    pub size: u64,
    pub sources: Vec<ImageSource>,
}

/// `bundle.json`: what `images.tar` contains.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleManifest {
    pub images: Vec<BundledImage>,
    /// Size of `images.tar` in bytes.
    pub archive_size: u64,
}

impl BundleManifest {
    /// Returns `images.txt`: one `REFERENCE IMAGE_ID` line per image, which the
    /// bundle's entrypoint reads without a JSON parser.
    pub fn images_text(&self) -> String {
        self.images.iter().map(|image| format!("{} {}\n", image.reference, image.id)).collect()
    }
}

/// Writes `value` as pretty JSON under a temporary name, then renames it into place.
pub fn write_json<T: Serialize>(path: &Utf8Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    write_atomic(path, text.as_bytes())
}

pub fn read_json<T: DeserializeOwned>(path: &Utf8Path) -> Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    serde_json::from_str(&text).with_context(|| format!("{path} is not a valid manifest"))
}

/// Writes a file under a temporary name in the same folder and renames it, so
/// an interrupted run never leaves a file that looks complete.
pub fn write_atomic(path: &Utf8Path, contents: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {parent}"))?;
    }
    let partial = path.with_file_name(format!(".{}.partial", path.file_name().unwrap_or("file")));
    std::fs::write(&partial, contents).with_context(|| format!("cannot write {partial}"))?;
    std::fs::rename(&partial, path).with_context(|| format!("cannot rename {partial} to {path}"))
}
