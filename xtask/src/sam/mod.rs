//! Reading SAM templates into plain data: the functions to build, their
//! layers, environment and API routes.

use std::collections::BTreeMap;

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

/// Everything `build-functions` needs from one or more templates.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TemplatePlan {
    pub functions: Vec<FunctionSpec>,
    /// Values that cannot be known without deploying, such as another resource's ARN.
    pub unresolved: Vec<String>,
    pub warnings: Vec<String>,
}

/// One `AWS::Serverless::Function`, with `Globals` applied and intrinsics resolved.
#[derive(Debug, Clone, Serialize)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// `FunctionName` when the template sets one, else the logical ID.
    pub name: String,
    pub template: Utf8PathBuf,
    pub package: Package,
    pub architecture: String,
    pub environment: BTreeMap<String, String>,
    pub timeout_seconds: u32,
    pub memory_mb: u32,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Package {
    Zip {
        runtime: String,
        handler: String,
        code: CodeSource,
        layers: Vec<LayerSpec>,
    },
    Image {
        /// Folder the image is built from, resolved against the template's folder.
        context: Utf8PathBuf,
        /// Dockerfile path relative to `context`.
        dockerfile: String,
        tag: Option<String>,
        build_args: BTreeMap<String, String>,
        target: Option<String>,
        command: Option<Vec<String>>,
        entry_point: Option<Vec<String>>,
        working_directory: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum CodeSource {
    Directory(Utf8PathBuf),
    Archive(Utf8PathBuf),
    Inline(String),
}

/// An `AWS::Serverless::LayerVersion` of the same template.
#[derive(Debug, Clone, Serialize)]
pub struct LayerSpec {
    pub logical_id: String,
    pub content: CodeSource,
}

/// An `Api` or `HttpApi` event of a function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Route {
    /// Upper-case HTTP method, or `ANY`.
    pub method: String,
    pub path: String,
}

/// Reads the templates and returns the functions they declare.
pub fn load(templates: &[Utf8PathBuf], parameter_overrides: &BTreeMap<String, String>) -> Result<TemplatePlan> {
    let _ = (templates, parameter_overrides);
    anyhow::bail!("FIXME: SAM template reading is not written yet")
}

#[allow(dead_code)]
fn template_dir(template: &Utf8Path) -> &Utf8Path {
    template.parent().unwrap_or(Utf8Path::new("."))
}
