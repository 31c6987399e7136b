//! Reading a template file as JSON or YAML.

use anyhow::{anyhow, bail, Context, Result};
use camino::Utf8Path;

use super::value::Value;
use super::yaml;

/// Reads the template at `path`. A file that parses as JSON, or opens with
/// `{`, is JSON, and anything else is YAML. Trying JSON first matters because tab-indented JSON is
/// valid JSON but invalid YAML.
pub fn read(path: &Utf8Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("failed to read template {path}"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);

    let document = match serde_json::from_str::<Value>(text) {
        Ok(document) => document,
        // A file that opens with `{` is meant as JSON, so it gets the JSON error
        // instead of a lenient reading as a YAML flow mapping.
        Err(json_error) if text.trim_start().starts_with('{') => {
            bail!("{path}: invalid JSON: {json_error}")
        }
        Err(_) => yaml::parse(text).map_err(|error| anyhow!("{path}: {error:#}"))?,
    };

    if document.as_mapping().is_none() {
        bail!(
            "{path}: a template must be a mapping with `Resources`, found a {}",
            document.kind()
        );
    }
    Ok(document)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, camino::Utf8PathBuf) {
        let folder = tempfile::tempdir().unwrap();
        let path = camino::Utf8PathBuf::from_path_buf(folder.path().join("template")).unwrap();
        std::fs::write(&path, text).unwrap();
        (folder, path)
    }

    #[test]
    fn tab_indented_json_reads_as_json() {
        let (_folder, path) =
            write("{\n\t\"Resources\": {\n\t\t\"A\": {\"Type\": \"X\"}\n\t}\n}\n");
        let document = read(&path).unwrap();
        assert_eq!(
            document
                .get("Resources")
                .unwrap()
                .get("A")
                .unwrap()
                .get("Type"),
            Some(&Value::string("X"))
        );
    }

    #[test]
    fn json_keeps_key_order() {
        let (_folder, path) = write(r#"{"Resources": {"Zeta": {}, "Alpha": {}}}"#);
        let document = read(&path).unwrap();
        let keys: Vec<&String> = document
            .get("Resources")
            .unwrap()
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["Zeta", "Alpha"]);
    }

    #[test]
    fn json_syntax_error_names_line_and_column() {
        let (_folder, path) = write("{\n  \"Resources\": {\n    \"A\": 1,\n  }\n}\n");
        let error = format!("{:#}", read(&path).unwrap_err());
        assert!(error.contains(path.as_str()), "{error}");
        assert!(error.contains("invalid JSON"), "{error}");
        assert!(error.contains("line 4 column 3"), "{error}");
    }

    #[test]
    fn yaml_syntax_error_names_file_line_and_column() {
        let (_folder, path) = write("Resources:\n  A: [1, 2\n  B: 3\n");
        let error = format!("{:#}", read(&path).unwrap_err());
        assert!(error.contains(path.as_str()), "{error}");
        assert!(error.contains("invalid YAML"), "{error}");
        assert!(error.contains("line 3"), "{error}");
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        let (_folder, path) = write("\u{feff}Resources: {}\n");
        assert!(read(&path).unwrap().get("Resources").is_some());
    }

    #[test]
    fn scalar_document_is_rejected() {
        let (_folder, path) = write("just text\n");
        let error = read(&path).unwrap_err().to_string();
        assert!(error.contains("must be a mapping"), "{error}");
    }
}
