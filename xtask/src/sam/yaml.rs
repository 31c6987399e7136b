//! YAML parsing, the only place that calls `serde_yaml`.
//!
//! `serde_yaml` 0.9 is archived upstream, so every call to it stays in this
//! file: moving to a maintained fork means changing this file alone.

use anyhow::{bail, Context, Result};
use serde_yaml::value::TaggedValue;

use super::value::{Mapping, Value};

/// CloudFormation short-form tags and the long-form key each one stands for.
/// `!GetAtt` and `!Condition` need more than a key swap and are handled apart.
const SHORT_TAGS: &[(&str, &str)] = &[
    ("Ref", "Ref"),
    ("Sub", "Fn::Sub"),
    ("If", "Fn::If"),
    ("Join", "Fn::Join"),
    ("Select", "Fn::Select"),
    ("Split", "Fn::Split"),
    ("FindInMap", "Fn::FindInMap"),
    ("ImportValue", "Fn::ImportValue"),
    ("Equals", "Fn::Equals"),
    ("Not", "Fn::Not"),
    ("And", "Fn::And"),
    ("Or", "Fn::Or"),
    ("Base64", "Fn::Base64"),
    ("Cidr", "Fn::Cidr"),
    ("GetAZs", "Fn::GetAZs"),
];

/// Parses one YAML document, applies merge keys (`<<`) and rewrites short
/// tags such as `!Sub` to their long forms. Anchors and aliases are expanded
/// by the parser.
pub fn parse(text: &str) -> Result<Value> {
    let mut document: serde_yaml::Value = serde_yaml::from_str(text).map_err(describe_error)?;
    document
        .apply_merge()
        .context("invalid YAML merge key (`<<`)")?;
    convert(document)
}

fn describe_error(error: serde_yaml::Error) -> anyhow::Error {
    let message = error.to_string();
    // Syntax errors already end with "at line L column C"; others such as a
    // duplicate key carry the location separately.
    match error.location() {
        Some(location) if !message.contains(" at line ") => {
            anyhow::anyhow!(
                "invalid YAML: {message} at line {} column {}",
                location.line(),
                location.column()
            )
        }
        _ => anyhow::anyhow!("invalid YAML: {message}"),
    }
}

fn convert(node: serde_yaml::Value) -> Result<Value> {
    let value = match node {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(flag) => Value::Bool(flag),
        serde_yaml::Value::Number(number) => Value::Number(number.to_string()),
        serde_yaml::Value::String(text) => Value::String(text),
        serde_yaml::Value::Sequence(items) => {
            Value::Sequence(items.into_iter().map(convert).collect::<Result<_>>()?)
        }
        serde_yaml::Value::Mapping(entries) => {
            let mut mapping = Mapping::new();
            for (key, value) in entries {
                mapping.insert(convert_key(key)?, convert(value)?);
            }
            Value::Mapping(mapping)
        }
        serde_yaml::Value::Tagged(tagged) => convert_tagged(*tagged)?,
    };
    Ok(value)
}

fn convert_key(key: serde_yaml::Value) -> Result<String> {
    match key {
        serde_yaml::Value::String(text) => Ok(text),
        serde_yaml::Value::Number(number) => Ok(number.to_string()),
        serde_yaml::Value::Bool(flag) => Ok(flag.to_string()),
        other => bail!("invalid YAML mapping key {other:?}: keys must be strings"),
    }
}

fn convert_tagged(tagged: TaggedValue) -> Result<Value> {
    let tag = tagged.tag.to_string();
    let name = tag.trim_start_matches('!');
    let argument = convert(tagged.value)?;

    let (key, argument) = match name {
        // `!GetAtt Resource.Attribute.Part` names the resource before the first dot only.
        "GetAtt" => match argument {
            Value::String(text) => match text.split_once('.') {
                Some((resource, attribute)) => (
                    "Fn::GetAtt",
                    Value::Sequence(vec![Value::string(resource), Value::string(attribute)]),
                ),
                None => bail!("invalid `!GetAtt {text}`: expected `Resource.Attribute`"),
            },
            other => ("Fn::GetAtt", other),
        },
        "Condition" => ("Condition", argument),
        _ => match SHORT_TAGS.iter().find(|(short, _)| *short == name) {
            Some((_, long)) => (*long, argument),
            None => {
                let supported: Vec<String> = SHORT_TAGS
                    .iter()
                    .map(|(short, _)| format!("!{short}"))
                    .collect();
                bail!(
                    "unsupported YAML tag `{tag}`; supported tags are {}, !GetAtt and !Condition",
                    supported.join(", ")
                )
            }
        },
    };
    Ok(Value::Mapping(Mapping::from_iter([(
        key.to_owned(),
        argument,
    )])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intrinsic(name: &str, argument: Value) -> Value {
        Value::Mapping(Mapping::from_iter([(name.to_owned(), argument)]))
    }

    fn strings(items: &[&str]) -> Value {
        Value::Sequence(items.iter().map(|item| Value::string(*item)).collect())
    }

    #[test]
    fn short_tags_become_long_forms() {
        let cases = [
            ("!Ref Stage", intrinsic("Ref", Value::string("Stage"))),
            (
                "!Sub 'a-${Stage}'",
                intrinsic("Fn::Sub", Value::string("a-${Stage}")),
            ),
            (
                "!Join [',', [a, b]]",
                intrinsic(
                    "Fn::Join",
                    Value::Sequence(vec![Value::string(","), strings(&["a", "b"])]),
                ),
            ),
            (
                "!Select [0, [a]]",
                intrinsic(
                    "Fn::Select",
                    Value::Sequence(vec![Value::Number("0".into()), strings(&["a"])]),
                ),
            ),
            (
                "!Split [',', 'a,b']",
                intrinsic("Fn::Split", strings(&[",", "a,b"])),
            ),
            (
                "!FindInMap [M, k, v]",
                intrinsic("Fn::FindInMap", strings(&["M", "k", "v"])),
            ),
            (
                "!ImportValue Shared",
                intrinsic("Fn::ImportValue", Value::string("Shared")),
            ),
            (
                "!Equals [a, b]",
                intrinsic("Fn::Equals", strings(&["a", "b"])),
            ),
            ("!Not [x]", intrinsic("Fn::Not", strings(&["x"]))),
            ("!And [x, y]", intrinsic("Fn::And", strings(&["x", "y"]))),
            ("!Or [x, y]", intrinsic("Fn::Or", strings(&["x", "y"]))),
            (
                "!If [C, a, b]",
                intrinsic("Fn::If", strings(&["C", "a", "b"])),
            ),
            (
                "!Condition IsProd",
                intrinsic("Condition", Value::string("IsProd")),
            ),
            (
                "!Base64 text",
                intrinsic("Fn::Base64", Value::string("text")),
            ),
            (
                "!Cidr [10.0.0.0/16, 2, 8]",
                intrinsic(
                    "Fn::Cidr",
                    Value::Sequence(vec![
                        Value::string("10.0.0.0/16"),
                        Value::Number("2".into()),
                        Value::Number("8".into()),
                    ]),
                ),
            ),
            ("!GetAZs ''", intrinsic("Fn::GetAZs", Value::string(""))),
            (
                "!GetAtt Table.Arn",
                intrinsic("Fn::GetAtt", strings(&["Table", "Arn"])),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn getatt_splits_at_first_dot() {
        let value = parse("!GetAtt Db.Endpoint.Address").unwrap();
        assert_eq!(
            value,
            intrinsic("Fn::GetAtt", strings(&["Db", "Endpoint.Address"]))
        );
    }

    #[test]
    fn nested_tags_convert() {
        let value = parse("!If [IsProd, !Sub '${A}', !Ref AWS::NoValue]").unwrap();
        let expected = intrinsic(
            "Fn::If",
            Value::Sequence(vec![
                Value::string("IsProd"),
                intrinsic("Fn::Sub", Value::string("${A}")),
                intrinsic("Ref", Value::string("AWS::NoValue")),
            ]),
        );
        assert_eq!(value, expected);
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let text = "base: &base\n  Timeout: 5\n  Memory: 256\nchild:\n  <<: *base\n  Memory: 512\ncopy: *base\n";
        let value = parse(text).unwrap();
        let child = value.get("child").unwrap();
        assert_eq!(child.get("Timeout"), Some(&Value::Number("5".into())));
        assert_eq!(child.get("Memory"), Some(&Value::Number("512".into())));
        assert_eq!(child.get("<<"), None);
        assert_eq!(
            value.get("copy").unwrap().get("Memory"),
            Some(&Value::Number("256".into()))
        );
    }

    #[test]
    fn date_like_scalar_stays_string() {
        let value = parse("AWSTemplateFormatVersion: 2010-09-09\n").unwrap();
        assert_eq!(
            value.get("AWSTemplateFormatVersion"),
            Some(&Value::string("2010-09-09"))
        );
    }

    #[test]
    fn crlf_comments_and_non_ascii() {
        let text = "# comment\r\nGreeting: Grüße, 世界 # trailing\r\nOther: 1\r\n";
        let value = parse(text).unwrap();
        assert_eq!(value.get("Greeting"), Some(&Value::string("Grüße, 世界")));
        assert_eq!(value.get("Other"), Some(&Value::Number("1".into())));
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let error = parse("a: 1\nb: [unclosed\n").unwrap_err().to_string();
        assert!(error.contains("at line 3 column 1"), "{error}");
    }

    #[test]
    fn duplicate_key_names_line_and_column() {
        let error = parse("Resources:\n  A: 1\n  A: 2\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("duplicate entry with key \"A\""), "{error}");
        assert!(error.contains(" at line "), "{error}");
    }

    #[test]
    fn unknown_tag_lists_supported_tags() {
        let error = parse("!Bogus x").unwrap_err().to_string();
        assert!(error.contains("`!Bogus`"), "{error}");
        assert!(error.contains("!GetAtt"), "{error}");
    }
}
