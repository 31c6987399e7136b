//! `AWS::Serverless::Function` and `AWS::Serverless::LayerVersion` resources,
//! read into function specs.

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};
use camino::Utf8Path;

use super::intrinsics::Resolver;
use super::scope::Scope;
use super::value::{Mapping, Value};
use super::{events, globals, CodeSource, FunctionSpec, LayerSpec, Package, TemplatePlan};

const FUNCTION_TYPE: &str = "AWS::Serverless::Function";
const LAYER_TYPE: &str = "AWS::Serverless::LayerVersion";
const ARCHITECTURES: &[&str] = &["x86_64", "arm64"];

/// Defaults that SAM and Lambda use when a function leaves these properties out.
const DEFAULT_TIMEOUT_SECONDS: u32 = 3;
const DEFAULT_MEMORY_MB: u32 = 128;
const DEFAULT_ARCHITECTURE: &str = "x86_64";

/// Adds the functions of one template to `plan`.
pub fn read_template(
    path: &Utf8Path,
    document: &Value,
    overrides: &BTreeMap<String, String>,
    plan: &mut TemplatePlan,
) -> Result<()> {
    let resolver =
        Resolver::new(document, overrides).map_err(|message| anyhow!("{path}: {message}"))?;
    let resources = document
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| anyhow!("{path}: `Resources` is missing or not a mapping"))?;
    let globals = match document.get("Globals").and_then(|g| g.get("Function")) {
        None => None,
        Some(Value::Mapping(globals)) => Some(globals),
        Some(other) => {
            return Err(anyhow!(
                "{path}: `Globals.Function` must be a mapping, found a {}",
                other.kind()
            ))
        }
    };

    for (logical_id, resource) in resources.iter() {
        if resource.get("Type").and_then(Value::as_str) != Some(FUNCTION_TYPE) {
            continue;
        }
        let mut scope = Scope {
            template: path,
            logical_id,
            resolver: &resolver,
            plan,
        };
        if let Some(function) = read_function(&mut scope, resources, globals, resource)? {
            plan.functions.push(function);
        }
    }
    Ok(())
}

fn read_function(
    scope: &mut Scope,
    resources: &Mapping,
    globals: Option<&Mapping>,
    resource: &Value,
) -> Result<Option<FunctionSpec>> {
    if !is_created(scope, resource)? {
        return Ok(None);
    }
    let empty = Mapping::new();
    let own_properties = match resource.get("Properties") {
        None => &empty,
        Some(Value::Mapping(properties)) => properties,
        Some(other) => {
            return Err(scope.error(
                "Properties",
                format!("expected a mapping, found a {}", other.kind()),
            ))
        }
    };

    // The package type decides which globals apply, so it is read before merging them.
    let package_type_value = own_properties
        .get("PackageType")
        .or_else(|| globals.and_then(|g| g.get("PackageType")));
    let package_type = scope
        .resolve_text("PackageType", package_type_value)?
        .unwrap_or_else(|| "Zip".to_owned());
    let is_image = match package_type.as_str() {
        "Zip" => false,
        "Image" => true,
        other => {
            return Err(scope.error(
                "PackageType",
                format!("unsupported value `{other}`; supported are Zip and Image"),
            ))
        }
    };
    let properties = globals::apply(globals, own_properties, is_image);

    let name = scope.resolve_text("FunctionName", properties.get("FunctionName"))?;
    let package = if is_image {
        read_image_package(scope, resource, &properties)?
    } else {
        read_zip_package(scope, resources, &properties)?
    };

    Ok(Some(FunctionSpec {
        logical_id: scope.logical_id.to_owned(),
        name: name.unwrap_or_else(|| scope.logical_id.to_owned()),
        template: scope.template.to_owned(),
        package,
        architecture: read_architecture(scope, properties.get("Architectures"))?,
        environment: read_environment(scope, properties.get("Environment"))?,
        timeout_seconds: read_number(scope, "Timeout", properties.get("Timeout"))?
            .unwrap_or(DEFAULT_TIMEOUT_SECONDS),
        memory_mb: read_number(scope, "MemorySize", properties.get("MemorySize"))?
            .unwrap_or(DEFAULT_MEMORY_MB),
        routes: events::read_routes(scope, properties.get("Events"))?,
        expected_status: read_expected_status(scope, resource)?,
    }))
}

/// Evaluates the resource's `Condition`: a resource whose condition is false is not created.
fn is_created(scope: &Scope, resource: &Value) -> Result<bool> {
    match resource.get("Condition") {
        None => Ok(true),
        Some(Value::String(condition)) => scope.condition("Condition", condition),
        Some(other) => Err(scope.error(
            "Condition",
            format!("expected a condition name, found {other}"),
        )),
    }
}

fn read_zip_package(
    scope: &mut Scope,
    resources: &Mapping,
    properties: &Mapping,
) -> Result<Package> {
    let runtime_value = scope.resolve_required("Runtime", properties.get("Runtime"))?;
    let runtime = scope.text("Runtime", &runtime_value)?;

    let handler_value = scope.resolve_required("Handler", properties.get("Handler"))?;
    let handler = scope.text("Handler", &handler_value)?;

    let code = match properties.get("InlineCode") {
        Some(inline) => {
            if properties.get("CodeUri").is_some() {
                return Err(scope.error(
                    "InlineCode",
                    "cannot be combined with `CodeUri`; keep one of them",
                ));
            }
            let inline = scope.resolve_required("InlineCode", Some(inline))?;
            CodeSource::Inline(scope.text("InlineCode", &inline)?)
        }
        None => read_code_uri(scope, "CodeUri", properties.get("CodeUri"))?,
    };

    let mut layers = Vec::new();
    if let Some(listed) = properties.get("Layers") {
        let listed = layer_items(scope, listed)?;
        for (index, item) in listed.iter().enumerate() {
            layers.extend(read_layer(
                scope,
                resources,
                &format!("Layers[{index}]"),
                item,
            )?);
        }
    }

    Ok(Package::Zip {
        runtime,
        handler,
        code,
        layers,
    })
}

/// Reads `CodeUri` or `ContentUri`: a local folder, or a `.zip` or `.jar` archive.
/// SAM CLI reads a missing `CodeUri` as the template's folder.
fn read_code_uri(scope: &mut Scope, property: &str, value: Option<&Value>) -> Result<CodeSource> {
    let location = match value {
        None => ".".to_owned(),
        Some(value) => match scope.resolve_required(property, Some(value))? {
            Value::Mapping(_) => {
                return Err(scope.error(property, "S3 locations (Bucket and Key) are not supported; use a local folder or a .zip or .jar file"))
            }
            other => scope.text(property, &other)?,
        },
    };
    if location.starts_with("s3://") {
        return Err(scope.error(property, format!("S3 location `{location}` is not supported; use a local folder or a .zip or .jar file")));
    }

    let path = scope.local_path(&location);
    let lower = location.to_ascii_lowercase();
    if lower.ends_with(".zip") || lower.ends_with(".jar") {
        if !path.is_file() {
            return Err(scope.error(property, format!("archive `{path}` not found")));
        }
        return Ok(CodeSource::Archive(path));
    }
    if !path.is_dir() {
        let problem = if path.exists() {
            "is not a folder; use a folder or a .zip or .jar file"
        } else {
            "not found"
        };
        return Err(scope.error(property, format!("`{path}` {problem}")));
    }
    Ok(CodeSource::Directory(path))
}

/// Returns the entries of `Layers`, choosing a branch where the whole list is an `Fn::If`.
fn layer_items(scope: &Scope, value: &Value) -> Result<Vec<Value>> {
    if let Some(("Fn::If", argument)) = value.as_intrinsic() {
        let chosen = choose_branch(scope, "Layers", argument)?;
        return layer_items(scope, chosen);
    }
    match value {
        Value::Sequence(items) => Ok(items.clone()),
        other => Err(scope.error(
            "Layers",
            format!("expected a list of layers, found a {}", other.kind()),
        )),
    }
}

/// Picks the branch of `Fn::If [condition, value_if_true, value_if_false]`.
fn choose_branch<'v>(scope: &Scope, property: &str, argument: &'v Value) -> Result<&'v Value> {
    let branches = argument.as_sequence().filter(|items| items.len() == 3);
    let condition = branches.and_then(|items| items[0].as_str());
    let (Some(branches), Some(condition)) = (branches, condition) else {
        return Err(scope.error(
            property,
            format!("`Fn::If` takes [condition, value, value], found {argument}"),
        ));
    };
    Ok(if scope.condition(property, condition)? {
        &branches[1]
    } else {
        &branches[2]
    })
}

/// Reads one entry of `Layers`. Only layers declared as `AWS::Serverless::LayerVersion`
/// in the same template can be bundled; any other layer is skipped with a warning.
fn read_layer(
    scope: &mut Scope,
    resources: &Mapping,
    property: &str,
    item: &Value,
) -> Result<Option<LayerSpec>> {
    match item.as_intrinsic() {
        Some(("Fn::If", argument)) => {
            let chosen = choose_branch(scope, property, argument)?;
            read_layer(scope, resources, property, chosen)
        }
        Some(("Ref", Value::String(target))) if scope.resolver.resource_type(target).is_some() => {
            let kind = scope
                .resolver
                .resource_type(target)
                .unwrap_or_default()
                .to_owned();
            if kind != LAYER_TYPE {
                scope.warn(property, format!("skipped: `{target}` is a {kind}; only {LAYER_TYPE} resources with a local ContentUri are bundled"));
                return Ok(None);
            }
            let layer = resources.get(target).unwrap_or(&Value::Null);
            let mut layer_scope = Scope {
                template: scope.template,
                logical_id: target,
                resolver: scope.resolver,
                plan: &mut *scope.plan,
            };
            if !is_created(&layer_scope, layer)? {
                scope.warn(
                    property,
                    format!("skipped: the condition of layer `{target}` is false"),
                );
                return Ok(None);
            }
            // Unlike a function's `CodeUri`, a layer's `ContentUri` has no default.
            let Some(content_uri) = layer.get("Properties").and_then(|p| p.get("ContentUri"))
            else {
                return Err(layer_scope.error(
                    "ContentUri",
                    "missing; set it to the layer's folder or .zip file",
                ));
            };
            let content = read_code_uri(&mut layer_scope, "ContentUri", Some(content_uri))?;
            Ok(Some(LayerSpec {
                logical_id: target.clone(),
                content,
            }))
        }
        _ => {
            let Some(resolved) = scope.resolve(property, Some(item))? else {
                return Ok(None);
            };
            scope.warn(property, format!("skipped: layer {resolved} is not declared in this template, so it cannot be bundled"));
            Ok(None)
        }
    }
}

fn read_image_package(
    scope: &mut Scope,
    resource: &Value,
    properties: &Mapping,
) -> Result<Package> {
    let metadata = resource.get("Metadata");
    if metadata.and_then(|m| m.get("DockerContext")).is_none()
        && properties.get("ImageUri").is_some()
    {
        return Err(scope.error(
            "ImageUri",
            "prebuilt images are not supported; build the image from `Metadata.DockerContext` and `Metadata.Dockerfile`",
        ));
    }
    let field = |name: &str| metadata.and_then(|m| m.get(name));

    let context_value = scope.resolve_required("Metadata.DockerContext", field("DockerContext"))?;
    let context = scope.local_path(&scope.text("Metadata.DockerContext", &context_value)?);
    if !context.is_dir() {
        return Err(scope.error(
            "Metadata.DockerContext",
            format!("folder `{context}` not found"),
        ));
    }
    let dockerfile_value = scope.resolve_required("Metadata.Dockerfile", field("Dockerfile"))?;
    let dockerfile = scope.text("Metadata.Dockerfile", &dockerfile_value)?;
    if !context.join(&dockerfile).is_file() {
        return Err(scope.error(
            "Metadata.Dockerfile",
            format!("`{dockerfile}` not found in `{context}`"),
        ));
    }

    let mut build_args = BTreeMap::new();
    if let Some(arguments) = scope.resolve("Metadata.DockerBuildArgs", field("DockerBuildArgs"))? {
        let arguments = arguments.as_mapping().ok_or_else(|| {
            scope.error(
                "Metadata.DockerBuildArgs",
                format!("expected a mapping, found a {}", arguments.kind()),
            )
        })?;
        for (name, value) in arguments.iter() {
            build_args.insert(
                name.clone(),
                scope.text(&format!("Metadata.DockerBuildArgs.{name}"), value)?,
            );
        }
    }

    let image_config = properties.get("ImageConfig");
    let config_field = |name: &str| image_config.and_then(|c| c.get(name));
    Ok(Package::Image {
        context,
        dockerfile,
        tag: scope.resolve_text("Metadata.DockerTag", field("DockerTag"))?,
        build_args,
        target: scope.resolve_text("Metadata.DockerBuildTarget", field("DockerBuildTarget"))?,
        command: read_strings(scope, "ImageConfig.Command", config_field("Command"))?,
        entry_point: read_strings(scope, "ImageConfig.EntryPoint", config_field("EntryPoint"))?,
        working_directory: scope.resolve_text(
            "ImageConfig.WorkingDirectory",
            config_field("WorkingDirectory"),
        )?,
    })
}

fn read_strings(
    scope: &mut Scope,
    property: &str,
    value: Option<&Value>,
) -> Result<Option<Vec<String>>> {
    let Some(resolved) = scope.resolve(property, value)? else {
        return Ok(None);
    };
    let items = resolved.as_sequence().ok_or_else(|| {
        scope.error(
            property,
            format!("expected a list of strings, found a {}", resolved.kind()),
        )
    })?;
    items
        .iter()
        .map(|item| scope.text(property, item))
        .collect::<Result<_>>()
        .map(Some)
}

fn read_architecture(scope: &mut Scope, value: Option<&Value>) -> Result<String> {
    let Some(resolved) = scope.resolve("Architectures", value)? else {
        return Ok(DEFAULT_ARCHITECTURE.to_owned());
    };
    let architecture = match resolved.as_sequence() {
        Some([single]) => scope.text("Architectures", single)?,
        _ => {
            return Err(scope.error(
                "Architectures",
                format!("expected a list of one architecture, found {resolved}"),
            ))
        }
    };
    if !ARCHITECTURES.contains(&architecture.as_str()) {
        return Err(scope.error(
            "Architectures",
            format!("unsupported architecture `{architecture}`; supported are x86_64 and arm64"),
        ));
    }
    Ok(architecture)
}

/// Reads `Environment.Variables`, resolving each variable on its own so that
/// one value known only after deployment leaves out that variable alone.
fn read_environment(scope: &mut Scope, value: Option<&Value>) -> Result<BTreeMap<String, String>> {
    let mut environment = BTreeMap::new();
    let environment_value = match value {
        Some(intrinsic) if intrinsic.as_intrinsic().is_some() => {
            scope.resolve("Environment", Some(intrinsic))?
        }
        other => other.cloned(),
    };
    let variables = match environment_value.as_ref().and_then(|e| e.get("Variables")) {
        Some(intrinsic) if intrinsic.as_intrinsic().is_some() => {
            scope.resolve("Environment.Variables", Some(intrinsic))?
        }
        other => other.cloned(),
    };
    let Some(variables) = variables else {
        return Ok(environment);
    };
    let variables = variables.as_mapping().ok_or_else(|| {
        scope.error(
            "Environment.Variables",
            format!("expected a mapping, found a {}", variables.kind()),
        )
    })?;

    for (name, value) in variables.iter() {
        let property = format!("Environment.Variables.{name}");
        if let Some(text) = scope.resolve_text(&property, Some(value))? {
            environment.insert(name.clone(), text);
        }
    }
    Ok(environment)
}

fn read_number(scope: &mut Scope, property: &str, value: Option<&Value>) -> Result<Option<u32>> {
    let Some(text) = scope.resolve_text(property, value)? else {
        return Ok(None);
    };
    let number = text.parse::<u32>().map_err(|_| {
        scope.error(
            property,
            format!("expected a whole positive number, found `{text}`"),
        )
    })?;
    Ok(Some(number))
}

/// Reads `Metadata.EsbExpectedStatus`: the HTTP status the smoke test expects
/// from this function's routes, for functions that fail on purpose.
fn read_expected_status(scope: &mut Scope, resource: &Value) -> Result<Option<u16>> {
    let property = "Metadata.EsbExpectedStatus";
    let Some(text) = scope.resolve_text(
        property,
        resource
            .get("Metadata")
            .and_then(|m| m.get("EsbExpectedStatus")),
    )?
    else {
        return Ok(None);
    };
    match text.parse::<u16>() {
        Ok(status) if (100..=599).contains(&status) => Ok(Some(status)),
        _ => Err(scope.error(
            property,
            format!("expected an HTTP status from 100 to 599, found `{text}`"),
        )),
    }
}
