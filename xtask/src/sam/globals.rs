//! `Globals.Function`, merged into each function the way the SAM transform does.

use super::value::{Mapping, Value};

/// Global properties that SAM does not apply to `PackageType: Image` functions.
const ZIP_ONLY_PROPERTIES: &[&str] = &["Runtime", "Handler", "Layers"];

/// Returns the function's properties with the template's `Globals.Function`
/// merged in: the function's scalars replace global ones, mappings merge key by
/// key, and lists are the global items followed by the function's own.
pub fn apply(globals: Option<&Mapping>, properties: &Mapping, is_image: bool) -> Mapping {
    let Some(globals) = globals else {
        return properties.clone();
    };
    let applicable: Mapping = globals
        .iter()
        .filter(|(key, _)| !(is_image && ZIP_ONLY_PROPERTIES.contains(&key.as_str())))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    merge_mappings(&applicable, properties)
}

fn merge_mappings(global: &Mapping, local: &Mapping) -> Mapping {
    let mut merged = global.clone();
    for (key, value) in local.iter() {
        let combined = match global.get(key) {
            Some(global_value) => merge(global_value, value),
            None => value.clone(),
        };
        merged.insert(key.clone(), combined);
    }
    merged
}

fn merge(global: &Value, local: &Value) -> Value {
    // SAM treats an intrinsic function as a single value: the function's own wins.
    if global.as_intrinsic().is_some() || local.as_intrinsic().is_some() {
        return local.clone();
    }
    match (global, local) {
        (Value::Mapping(global), Value::Mapping(local)) => {
            Value::Mapping(merge_mappings(global, local))
        }
        (Value::Sequence(global), Value::Sequence(local)) => {
            Value::Sequence(global.iter().chain(local).cloned().collect())
        }
        _ => local.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sam::yaml;

    fn mapping(text: &str) -> Mapping {
        yaml::parse(text).unwrap().as_mapping().unwrap().clone()
    }

    const GLOBALS: &str = "
Runtime: python3.11
Handler: app.handler
Timeout: 10
Layers: [!Ref SharedLayer]
Environment:
  Variables:
    STAGE: dev
    LOG_LEVEL: info
";

    #[test]
    fn scalars_are_replaced() {
        let merged = apply(Some(&mapping(GLOBALS)), &mapping("Timeout: 2"), false);
        assert_eq!(merged.get("Timeout"), Some(&Value::Number("2".into())));
        assert_eq!(merged.get("Runtime"), Some(&Value::string("python3.11")));
    }

    #[test]
    fn environment_variables_merge() {
        let local =
            mapping("Environment:\n  Variables:\n    LOG_LEVEL: debug\n    GREETING: Hello\n");
        let merged = apply(Some(&mapping(GLOBALS)), &local, false);
        let variables = merged.get("Environment").unwrap().get("Variables").unwrap();
        assert_eq!(variables.get("STAGE"), Some(&Value::string("dev")));
        assert_eq!(variables.get("LOG_LEVEL"), Some(&Value::string("debug")));
        assert_eq!(variables.get("GREETING"), Some(&Value::string("Hello")));
    }

    #[test]
    fn lists_are_concatenated() {
        let merged = apply(
            Some(&mapping(GLOBALS)),
            &mapping("Layers: [!Ref Other]"),
            false,
        );
        let layers = merged.get("Layers").unwrap().as_sequence().unwrap();
        assert_eq!(layers.len(), 2);
        assert_eq!(layers[0].get("Ref"), Some(&Value::string("SharedLayer")));
        assert_eq!(layers[1].get("Ref"), Some(&Value::string("Other")));
    }

    #[test]
    fn empty_layers_keep_global_layers() {
        let merged = apply(Some(&mapping(GLOBALS)), &mapping("Layers: []"), false);
        let layers = merged.get("Layers").unwrap().as_sequence().unwrap();
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0].get("Ref"), Some(&Value::string("SharedLayer")));
    }

    #[test]
    fn intrinsic_replaces_global_mapping() {
        let local = mapping("Environment: !If [IsProd, {Variables: {A: b}}, !Ref AWS::NoValue]");
        let merged = apply(Some(&mapping(GLOBALS)), &local, false);
        assert!(merged.get("Environment").unwrap().get("Fn::If").is_some());
    }

    #[test]
    fn image_functions_skip_zip_globals() {
        let merged = apply(
            Some(&mapping(GLOBALS)),
            &mapping("PackageType: Image"),
            true,
        );
        assert_eq!(merged.get("Runtime"), None);
        assert_eq!(merged.get("Handler"), None);
        assert_eq!(merged.get("Layers"), None);
        assert_eq!(merged.get("Timeout"), Some(&Value::Number("10".into())));
    }
}
