//! Reading SAM templates into plain data: the functions to build, their
//! layers, environment and API routes.

mod events;
mod functions;
mod globals;
mod intrinsics;
mod scope;
mod template;
#[cfg(test)]
mod tests;
mod value;
mod yaml;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

pub use intrinsics::PSEUDO_PARAMETERS;

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
    /// HTTP status the smoke test expects from this function's routes, from
    /// `Metadata.EsbExpectedStatus`; `None` means a successful response.
    pub expected_status: Option<u16>,
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
    /// Lambda event payload format: `1.0` for `Api` events, `2.0` for `HttpApi`
    /// events unless they set `PayloadFormatVersion`.
    #[serde(default = "default_payload_format")]
    pub payload_format: String,
}

fn default_payload_format() -> String {
    "1.0".to_owned()
}

/// Reads the templates and returns the functions they declare.
///
/// `parameter_overrides` take precedence over each parameter's `Default` in
/// every template that declares the parameter. Paths in the plan are resolved
/// against each template's folder.
pub fn load(
    templates: &[Utf8PathBuf],
    parameter_overrides: &BTreeMap<String, String>,
) -> Result<TemplatePlan> {
    if templates.is_empty() {
        bail!("no template given; hint: pass at least one SAM template");
    }

    let mut plan = TemplatePlan::default();
    let mut declared_parameters = BTreeSet::new();
    for path in templates {
        let document = template::read(path)?;
        if let Some(parameters) = document
            .get("Parameters")
            .and_then(value::Value::as_mapping)
        {
            declared_parameters.extend(parameters.iter().map(|(name, _)| name.clone()));
        }
        functions::read_template(path, &document, parameter_overrides, &mut plan)?;
    }

    for name in parameter_overrides
        .keys()
        .filter(|name| !declared_parameters.contains(*name))
    {
        plan.warnings.push(format!(
            "parameter override `{name}` is not declared by any template, so it is ignored"
        ));
    }
    check_unique_names(&plan.functions)?;
    Ok(plan)
}

/// Rejects two functions with the same name: they would need the same image and the same route target.
fn check_unique_names(functions: &[FunctionSpec]) -> Result<()> {
    let mut seen: BTreeMap<&str, &FunctionSpec> = BTreeMap::new();
    for function in functions {
        if let Some(first) = seen.insert(&function.name, function) {
            bail!(
                "function name `{}` is used twice: by `{}` in {} and by `{}` in {}; hint: give one of them another FunctionName",
                function.name,
                first.logical_id,
                first.template,
                function.logical_id,
                function.template
            );
        }
    }
    Ok(())
}

fn template_dir(template: &Utf8Path) -> &Utf8Path {
    template.parent().unwrap_or(Utf8Path::new("."))
}
