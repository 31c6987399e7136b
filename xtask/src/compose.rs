//! The stack's compose file as plain data: each service's image and, where
//! the service is built locally, its build context.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde_yaml::Value;

/// One service of the compose file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    /// The `image` reference, after variable interpolation.
    pub image: String,
    pub build: Option<ServiceBuild>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceBuild {
    /// Absolute build context folder.
    pub context: Utf8PathBuf,
    pub dockerfile: String,
    pub args: BTreeMap<String, String>,
}

/// A parsed compose file: its services and the document itself, for rewriting.
#[derive(Debug, Clone)]
pub struct ComposeFile {
    pub path: Utf8PathBuf,
    pub services: Vec<Service>,
    document: Value,
}

/// Reads a compose file, interpolating `${VAR}` and `${VAR:-default}` from `variables`.
pub fn load(path: &Utf8Path, variables: &BTreeMap<String, String>) -> Result<ComposeFile> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read compose file {path}"))?;
    parse(path, &text, variables)
}

pub fn parse(path: &Utf8Path, text: &str, variables: &BTreeMap<String, String>) -> Result<ComposeFile> {
    let document: Value = serde_yaml::from_str(text).map_err(|error| {
        let place = error
            .location()
            .map(|location| format!(":{}:{}", location.line(), location.column()))
            .unwrap_or_default();
        anyhow::anyhow!("{path}{place}: invalid YAML in compose file: {error}")
    })?;
    let Some(services) = document.get("services").and_then(Value::as_mapping) else {
        bail!("{path}: compose file has no `services` mapping; expected `services:` with one entry per service");
    };
    let base_dir = path.parent().unwrap_or(Utf8Path::new("."));

    let mut parsed = Vec::new();
    for (name, service) in services {
        let name = name.as_str().with_context(|| format!("{path}: a service name is not a string"))?.to_owned();
        let image = match service.get("image").and_then(Value::as_str) {
            Some(image) => interpolate(image, variables).with_context(|| format!("{path}: service `{name}`, key `image`"))?,
            None => bail!("{path}: service `{name}` has no `image`; ESB bundles images by reference, so name one (and add `build:` to build it here)"),
        };
        let build = match service.get("build") {
            None => None,
            Some(build) => Some(parse_build(build, base_dir, variables).with_context(|| format!("{path}: service `{name}`, key `build`"))?),
        };
        parsed.push(Service { name, image, build });
    }
    Ok(ComposeFile { path: path.to_owned(), services: parsed, document })
}

fn parse_build(build: &Value, base_dir: &Utf8Path, variables: &BTreeMap<String, String>) -> Result<ServiceBuild> {
    let (context, dockerfile, args) = match build {
        Value::String(context) => (context.clone(), "Dockerfile".to_owned(), BTreeMap::new()),
        Value::Mapping(_) => {
            let context = build.get("context").and_then(Value::as_str).unwrap_or(".").to_owned();
            let dockerfile = build.get("dockerfile").and_then(Value::as_str).unwrap_or("Dockerfile").to_owned();
            let mut args = BTreeMap::new();
            match build.get("args") {
                None => {}
                Some(Value::Mapping(map)) => {
                    for (key, value) in map {
                        let key = key.as_str().context("a build argument name is not a string")?;
                        let value = scalar_text(value).with_context(|| format!("build argument `{key}` is not a scalar"))?;
                        args.insert(key.to_owned(), interpolate(&value, variables)?);
                    }
                }
                Some(Value::Sequence(items)) => {
                    for item in items {
                        let item = item.as_str().context("a build argument is not a string")?;
                        let (key, value) = item.split_once('=').with_context(|| format!("build argument `{item}` is not KEY=VALUE"))?;
                        args.insert(key.to_owned(), interpolate(value, variables)?);
                    }
                }
                Some(_) => bail!("`args` must be a mapping or a list of KEY=VALUE"),
            }
            (context, dockerfile, args)
        }
        _ => bail!("expected a context path or a mapping with `context`"),
    };
    let context = interpolate(&context, variables)?;
    Ok(ServiceBuild { context: base_dir.join(context), dockerfile, args })
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

impl ComposeFile {
    /// Returns the document as a bundle runs it. `build` keys are removed,
    /// because every image is already loaded and no build context is shipped.
    /// Each `image` is written as interpolated here, so that the references
    /// match bundle.json whatever environment compose later runs in. Other
    /// values keep their variables for the site to set.
    pub fn without_build_sections(&self) -> Result<String> {
        let mut document = self.document.clone();
        let images: BTreeMap<&str, &str> =
            self.services.iter().map(|service| (service.name.as_str(), service.image.as_str())).collect();
        if let Some(services) = document.get_mut("services").and_then(Value::as_mapping_mut) {
            for (name, service) in services.iter_mut() {
                let image = name.as_str().and_then(|name| images.get(name));
                if let Some(service) = service.as_mapping_mut() {
                    service.remove("build");
                    if let Some(image) = image {
                        // `$$` keeps a literal dollar through compose's own interpolation.
                        service.insert(Value::from("image"), Value::from(image.replace('$', "$$")));
                    }
                }
            }
        }
        serde_yaml::to_string(&document).context("cannot write the compose file")
    }
}

/// Serializes a generated compose document.
pub fn to_yaml<T: serde::Serialize>(document: &T) -> Result<String> {
    serde_yaml::to_string(document).context("cannot write a compose document")
}

/// Replaces `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR-default}` as compose
/// does; `$$` is a literal dollar. An unset variable without default is empty.
pub fn interpolate(text: &str, variables: &BTreeMap<String, String>) -> Result<String> {
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        output.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            output.push('$');
            rest = stripped;
        } else if let Some(braced) = after.strip_prefix('{') {
            let end = braced.find('}').with_context(|| format!("unclosed `${{` in `{text}`"))?;
            let expression = &braced[..end];
            let (name, default) = if let Some((name, default)) = expression.split_once(":-") {
                (name, Some((default, true)))
            } else if let Some((name, default)) = expression.split_once('-') {
                (name, Some((default, false)))
            } else {
                (expression, None)
            };
            let value = variables.get(name);
            match (value, default) {
                (Some(value), Some((default, true))) if value.is_empty() => output.push_str(default),
                (Some(value), _) => output.push_str(value),
                (None, Some((default, _))) => output.push_str(default),
                (None, None) => {}
            }
            rest = &braced[end + 1..];
        } else {
            let length = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            if length == 0 {
                output.push('$');
            } else if let Some(value) = variables.get(&after[..length]) {
                output.push_str(value);
            }
            rest = &after[length..];
        }
    }
    output.push_str(rest);
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
    }

    #[test]
    fn interpolate_forms() {
        let vars = variables(&[("BASE", "esb-base/python:3.11"), ("EMPTY", "")]);
        assert_eq!(interpolate("${BASE}", &vars).unwrap(), "esb-base/python:3.11");
        assert_eq!(interpolate("$BASE-x", &vars).unwrap(), "esb-base/python:3.11-x");
        assert_eq!(interpolate("${MISSING:-fallback}", &vars).unwrap(), "fallback");
        assert_eq!(interpolate("${EMPTY:-fallback}", &vars).unwrap(), "fallback");
        assert_eq!(interpolate("${EMPTY-fallback}", &vars).unwrap(), "");
        assert_eq!(interpolate("cost: $$5", &vars).unwrap(), "cost: $5");
        assert_eq!(interpolate("${MISSING}", &vars).unwrap(), "");
        assert!(interpolate("${BASE", &vars).is_err());
    }

    #[test]
    fn parse_services_and_builds() {
        let text = "services:\n  gateway:\n    image: esb/gateway:${TAG:-latest}\n    build:\n      context: gateway\n      args:\n        ESB_BASE_IMAGE: ${BASE}\n  cache:\n    image: redis:7\n";
        let compose = parse(Utf8Path::new("/stack/compose.yaml"), text, &variables(&[("BASE", "base:1")])).unwrap();

        assert_eq!(compose.services.len(), 2);
        assert_eq!(compose.services[0].name, "gateway");
        assert_eq!(compose.services[0].image, "esb/gateway:latest");
        let build = compose.services[0].build.as_ref().unwrap();
        assert_eq!(build.context, Utf8PathBuf::from("/stack/gateway"));
        assert_eq!(build.dockerfile, "Dockerfile");
        assert_eq!(build.args["ESB_BASE_IMAGE"], "base:1");
        assert_eq!(compose.services[1].build, None);
    }

    #[test]
    fn parse_error_names_file_and_line() {
        let error = parse(Utf8Path::new("stack/compose.yaml"), "services:\n  gateway:\n    image: [unclosed\n", &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("stack/compose.yaml:"), "{error}");
        assert!(error.contains("invalid YAML"), "{error}");
    }

    #[test]
    fn service_without_image_is_rejected() {
        let error = parse(Utf8Path::new("c.yaml"), "services:\n  api:\n    build: .\n", &BTreeMap::new()).unwrap_err().to_string();
        assert!(error.contains("service `api` has no `image`"), "{error}");
    }

    #[test]
    fn build_sections_removed() {
        let text = "services:\n  gateway:\n    image: g:1\n    build: gateway\n    ports: ['8443:8443']\n";
        let compose = parse(Utf8Path::new("c.yaml"), text, &BTreeMap::new()).unwrap();
        let rewritten = compose.without_build_sections().unwrap();
        assert!(!rewritten.contains("build"), "{rewritten}");
        assert!(rewritten.contains("8443:8443"), "{rewritten}");
    }

    #[test]
    fn images_written_interpolated() {
        let text = "services:\n  gateway:\n    image: esb/gateway:${TAG:-latest}\n    environment:\n      PORT: ${PORT:-8443}\n";
        let compose = parse(Utf8Path::new("c.yaml"), text, &variables(&[("TAG", "v2")])).unwrap();
        let rewritten = compose.without_build_sections().unwrap();
        assert!(rewritten.contains("image: esb/gateway:v2"), "{rewritten}");
        assert!(rewritten.contains("${PORT:-8443}"), "other values keep their variables: {rewritten}");
    }
}
