//! Intrinsic functions, parameters, mappings and conditions, resolved the way
//! CloudFormation would as far as that is possible before deployment.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine as _;

use super::value::{Mapping, Value};

/// Local values for CloudFormation pseudo parameters. The bundle never runs
/// inside a real stack, so these fixed stand-ins are used wherever a template
/// refers to them, for example in `!Sub arn:${AWS::Partition}:...`.
pub const PSEUDO_PARAMETERS: &[(&str, &str)] = &[
    ("AWS::Region", "us-east-1"),
    ("AWS::AccountId", "123456789012"),
    ("AWS::StackName", "esb"),
    ("AWS::Partition", "aws"),
    ("AWS::URLSuffix", "amazonaws.com"),
];

/// Pseudo parameters that only a deployed stack has a value for.
const DEPLOY_TIME_PSEUDO_PARAMETERS: &[&str] = &["AWS::StackId", "AWS::NotificationARNs"];

const SUPPORTED_FUNCTIONS: &str =
    "Ref, Fn::Sub, Fn::If, Fn::Join, Fn::Select, Fn::Split, Fn::FindInMap, \
     Fn::Base64, Fn::Cidr, Fn::GetAtt, Fn::ImportValue and Fn::GetAZs";

/// Reason a value could not be resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The value exists only once the stack is deployed, such as another
    /// resource's ARN. The text names the expression that needs it.
    Unknown(String),
    /// The template is wrong, or uses a form this module does not support.
    Invalid(String),
}

/// A resolved value, or `None` where the template wrote `!Ref AWS::NoValue`.
pub type Resolved = Result<Option<Value>, Failure>;

enum Parameter {
    Value(Value),
    /// Declared without `Default` and not overridden.
    Missing,
    /// An `AWS::SSM::Parameter::Value<...>` parameter, read from Parameter Store at deployment.
    FromParameterStore,
}

/// Resolves intrinsic functions against one template's parameters, mappings,
/// conditions and resources.
pub struct Resolver<'t> {
    parameters: BTreeMap<String, Parameter>,
    mappings: Option<&'t Value>,
    conditions: Option<&'t Value>,
    /// Logical ID to resource type.
    resources: BTreeMap<String, String>,
    condition_values: RefCell<BTreeMap<String, bool>>,
    /// Conditions being evaluated, to report a condition that refers back to itself.
    conditions_in_progress: RefCell<Vec<String>>,
}

impl<'t> Resolver<'t> {
    /// Builds a resolver for `template`, taking parameter values from
    /// `overrides` first and from each parameter's `Default` second.
    pub fn new(template: &'t Value, overrides: &BTreeMap<String, String>) -> Result<Self, String> {
        let mut parameters = BTreeMap::new();
        if let Some(declared) = template.get("Parameters") {
            let declared = declared
                .as_mapping()
                .ok_or("`Parameters` must be a mapping")?;
            for (name, declaration) in declared.iter() {
                parameters.insert(
                    name.clone(),
                    read_parameter(name, declaration, overrides.get(name))?,
                );
            }
        }

        let mut resources = BTreeMap::new();
        if let Some(declared) = template.get("Resources").and_then(Value::as_mapping) {
            for (logical_id, resource) in declared.iter() {
                let kind = resource
                    .get("Type")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                resources.insert(logical_id.clone(), kind.to_owned());
            }
        }

        Ok(Self {
            parameters,
            mappings: template.get("Mappings"),
            conditions: template.get("Conditions"),
            resources,
            condition_values: RefCell::new(BTreeMap::new()),
            conditions_in_progress: RefCell::new(Vec::new()),
        })
    }

    /// Returns the type of the resource `logical_id`, if the template declares it.
    pub fn resource_type(&self, logical_id: &str) -> Option<&str> {
        self.resources.get(logical_id).map(String::as_str)
    }

    /// Resolves every intrinsic function in `value`. List items and mapping
    /// entries that resolve to `AWS::NoValue` are dropped.
    pub fn resolve(&self, value: &Value) -> Resolved {
        if let Some((name, argument)) = value.as_intrinsic() {
            return self.resolve_function(name, argument);
        }
        match value {
            Value::Sequence(items) => {
                let mut resolved = Vec::with_capacity(items.len());
                for item in items {
                    resolved.extend(self.resolve(item)?);
                }
                Ok(Some(Value::Sequence(resolved)))
            }
            Value::Mapping(entries) => {
                let mut resolved = Mapping::new();
                for (key, item) in entries.iter() {
                    if let Some(item) = self.resolve(item)? {
                        resolved.insert(key.clone(), item);
                    }
                }
                Ok(Some(Value::Mapping(resolved)))
            }
            scalar => Ok(Some(scalar.clone())),
        }
    }

    /// Evaluates the condition `name` from the template's `Conditions`.
    pub fn condition(&self, name: &str) -> Result<bool, Failure> {
        if let Some(known) = self.condition_values.borrow().get(name) {
            return Ok(*known);
        }
        if self
            .conditions_in_progress
            .borrow()
            .iter()
            .any(|open| open == name)
        {
            return Err(Failure::Invalid(format!(
                "condition `{name}` refers back to itself"
            )));
        }
        let definition = self
            .conditions
            .and_then(|conditions| conditions.get(name))
            .ok_or_else(|| {
                Failure::Invalid(format!(
                    "condition `{name}` is not declared in `Conditions`"
                ))
            })?;

        self.conditions_in_progress
            .borrow_mut()
            .push(name.to_owned());
        let outcome = self.evaluate_condition(definition);
        self.conditions_in_progress.borrow_mut().pop();

        let value = outcome?;
        self.condition_values
            .borrow_mut()
            .insert(name.to_owned(), value);
        Ok(value)
    }

    fn evaluate_condition(&self, expression: &Value) -> Result<bool, Failure> {
        let single = expression.as_mapping().filter(|mapping| mapping.len() == 1);
        let Some((name, argument)) = single.and_then(|mapping| mapping.iter().next()) else {
            return Err(invalid_condition(expression));
        };
        match name.as_str() {
            "Condition" => {
                let referenced = argument
                    .as_str()
                    .ok_or_else(|| invalid_condition(expression))?;
                self.condition(referenced)
            }
            "Fn::Equals" => {
                let [left, right] = arguments::<2>("Fn::Equals", argument)?;
                let left = self.resolve_required(left, "Fn::Equals")?;
                let right = self.resolve_required(right, "Fn::Equals")?;
                // CloudFormation compares scalars as strings, so `1` equals `'1'`.
                Ok(match (left.scalar_text(), right.scalar_text()) {
                    (Some(left), Some(right)) => left == right,
                    _ => left == right,
                })
            }
            "Fn::Not" => {
                let [inner] = arguments::<1>("Fn::Not", argument)?;
                Ok(!self.evaluate_condition(inner)?)
            }
            "Fn::And" | "Fn::Or" => {
                let operands = argument
                    .as_sequence()
                    .filter(|items| (2..=10).contains(&items.len()))
                    .ok_or_else(|| {
                        Failure::Invalid(format!(
                            "`{name}` takes a list of 2 to 10 conditions, found {argument}"
                        ))
                    })?;
                let mut values = Vec::with_capacity(operands.len());
                for operand in operands {
                    values.push(self.evaluate_condition(operand)?);
                }
                Ok(if name == "Fn::And" {
                    values.iter().all(|v| *v)
                } else {
                    values.iter().any(|v| *v)
                })
            }
            _ => Err(invalid_condition(expression)),
        }
    }

    fn resolve_function(&self, name: &str, argument: &Value) -> Resolved {
        match name {
            "Ref" => {
                let target = argument
                    .as_str()
                    .ok_or_else(|| Failure::Invalid(format!("`Ref` takes a name, found {argument}")))?;
                self.reference(target)
            }
            "Fn::Sub" => self.substitute(argument).map(|text| Some(Value::String(text))),
            "Fn::If" => {
                let [condition, when_true, when_false] = arguments::<3>("Fn::If", argument)?;
                let condition = condition
                    .as_str()
                    .ok_or_else(|| Failure::Invalid(format!("`Fn::If` needs a condition name, found {condition}")))?;
                self.resolve(if self.condition(condition)? { when_true } else { when_false })
            }
            "Fn::Join" => {
                let [delimiter, items] = arguments::<2>("Fn::Join", argument)?;
                let delimiter = self.resolve_text(delimiter, "Fn::Join")?;
                let items = self.resolve_texts(items, "Fn::Join")?;
                Ok(Some(Value::String(items.join(&delimiter))))
            }
            "Fn::Select" => {
                let [index, items] = arguments::<2>("Fn::Select", argument)?;
                let index_text = self.resolve_text(index, "Fn::Select")?;
                let index: usize = index_text
                    .parse()
                    .map_err(|_| Failure::Invalid(format!("`Fn::Select` index `{index_text}` is not a number")))?;
                let items = self.resolve_list(items, "Fn::Select")?;
                let count = items.len();
                let item = items.into_iter().nth(index).ok_or_else(|| {
                    Failure::Invalid(format!("`Fn::Select` index {index} is out of range for a list of {count}"))
                })?;
                Ok(Some(item))
            }
            "Fn::Split" => {
                let [delimiter, source] = arguments::<2>("Fn::Split", argument)?;
                let delimiter = self.resolve_text(delimiter, "Fn::Split")?;
                let source = self.resolve_text(source, "Fn::Split")?;
                if delimiter.is_empty() {
                    return Err(Failure::Invalid("`Fn::Split` needs a non-empty delimiter".to_owned()));
                }
                Ok(Some(Value::Sequence(source.split(delimiter.as_str()).map(Value::string).collect())))
            }
            "Fn::FindInMap" => self.find_in_map(argument).map(Some),
            "Fn::Base64" => {
                let text = self.resolve_text(argument, "Fn::Base64")?;
                Ok(Some(Value::String(base64::engine::general_purpose::STANDARD.encode(text))))
            }
            "Fn::Cidr" => self.cidr(argument).map(Some),
            "Fn::GetAtt" => Err(self.attribute(argument)),
            "Fn::ImportValue" => Err(Failure::Unknown(format!(
                "`Fn::ImportValue {argument}`: another stack's export is known only after deployment"
            ))),
            "Fn::GetAZs" => Err(Failure::Unknown(
                "`Fn::GetAZs`: a region's availability zones are known only to AWS".to_owned(),
            )),
            "Fn::Equals" | "Fn::Not" | "Fn::And" | "Fn::Or" => Err(Failure::Invalid(format!(
                "`{name}` is allowed only in `Conditions`; use `Fn::If` with a condition name here"
            ))),
            _ => Err(Failure::Invalid(format!("unsupported intrinsic function `{name}`; supported are {SUPPORTED_FUNCTIONS}"))),
        }
    }

    fn reference(&self, name: &str) -> Resolved {
        if name == "AWS::NoValue" {
            return Ok(None);
        }
        if let Some((_, value)) = PSEUDO_PARAMETERS.iter().find(|(pseudo, _)| *pseudo == name) {
            return Ok(Some(Value::string(*value)));
        }
        if DEPLOY_TIME_PSEUDO_PARAMETERS.contains(&name) {
            return Err(Failure::Unknown(format!(
                "`Ref {name}` is known only after deployment"
            )));
        }
        match self.parameters.get(name) {
            Some(Parameter::Value(value)) => return Ok(Some(value.clone())),
            Some(Parameter::Missing) => {
                return Err(Failure::Invalid(format!(
                    "parameter `{name}` has no `Default` and no override; hint: pass it as {name}=VALUE in the parameter overrides"
                )))
            }
            Some(Parameter::FromParameterStore) => {
                return Err(Failure::Unknown(format!(
                    "`Ref {name}`: the parameter's value is read from SSM Parameter Store at deployment"
                )))
            }
            None => {}
        }
        match self.resources.get(name) {
            Some(kind) => Err(Failure::Unknown(format!(
                "`Ref {name}`: the {kind} resource's physical ID is known only after deployment"
            ))),
            None => Err(Failure::Invalid(format!(
                "`Ref {name}`: no parameter or resource of that name in this template"
            ))),
        }
    }

    fn attribute(&self, argument: &Value) -> Failure {
        let parts: Option<Vec<String>> = match argument {
            Value::String(text) => text
                .split_once('.')
                .map(|(r, a)| vec![r.to_owned(), a.to_owned()]),
            Value::Sequence(items) if items.len() == 2 => {
                items.iter().map(Value::scalar_text).collect()
            }
            _ => None,
        };
        let Some(parts) = parts else {
            return Failure::Invalid(format!(
                "`Fn::GetAtt` takes [Resource, Attribute], found {argument}"
            ));
        };
        let (resource, attribute) = (&parts[0], &parts[1]);
        if !self.resources.contains_key(resource) {
            return Failure::Invalid(format!(
                "`Fn::GetAtt {resource}.{attribute}`: no resource `{resource}` in this template"
            ));
        }
        Failure::Unknown(format!(
            "`Fn::GetAtt {resource}.{attribute}`: another resource's attribute is known only after deployment"
        ))
    }

    /// Expands `Fn::Sub` in its string form or its `[string, variables]` form.
    fn substitute(&self, argument: &Value) -> Result<String, Failure> {
        let (template, variables) = match argument {
            Value::String(template) => (template.as_str(), None),
            Value::Sequence(items) if items.len() == 2 => {
                let template = items[0].as_str();
                let variables = items[1].as_mapping();
                match (template, variables) {
                    (Some(template), Some(variables)) => (template, Some(variables)),
                    _ => {
                        return Err(Failure::Invalid(format!(
                            "`Fn::Sub` takes a string or [string, mapping], found {argument}"
                        )))
                    }
                }
            }
            _ => {
                return Err(Failure::Invalid(format!(
                    "`Fn::Sub` takes a string or [string, mapping], found {argument}"
                )))
            }
        };

        let mut output = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            output.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                // An unclosed `${` is plain text, as in CloudFormation.
                output.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let name = &after[..end];
            match name.strip_prefix('!') {
                // `${!Name}` writes a literal `${Name}`.
                Some(literal) => {
                    output.push_str("${");
                    output.push_str(literal);
                    output.push('}');
                }
                None => output.push_str(&self.substitute_variable(name.trim(), variables)?),
            }
            rest = &after[end + 1..];
        }
        output.push_str(rest);
        Ok(output)
    }

    fn substitute_variable(
        &self,
        name: &str,
        variables: Option<&Mapping>,
    ) -> Result<String, Failure> {
        if let Some(value) = variables.and_then(|variables| variables.get(name)) {
            return self.resolve_text(value, "Fn::Sub");
        }
        // `${Resource.Attribute}` is a `Fn::GetAtt`; dots never occur in parameter or pseudo parameter names.
        if name.contains('.') {
            return Err(self.attribute(&Value::string(name)));
        }
        let value = self.reference(name)?.ok_or_else(|| {
            Failure::Invalid("`Fn::Sub` cannot substitute `AWS::NoValue`".to_owned())
        })?;
        value.scalar_text().ok_or_else(|| {
            Failure::Invalid(format!(
                "`Fn::Sub` variable `{name}` is a {}, not a string",
                value.kind()
            ))
        })
    }

    fn find_in_map(&self, argument: &Value) -> Result<Value, Failure> {
        let [map, top, second] = arguments::<3>("Fn::FindInMap", argument)?;
        let map = self.resolve_text(map, "Fn::FindInMap")?;
        let top = self.resolve_text(top, "Fn::FindInMap")?;
        let second = self.resolve_text(second, "Fn::FindInMap")?;

        let missing = |what: String| {
            Failure::Invalid(format!("`Fn::FindInMap [{map}, {top}, {second}]`: {what}"))
        };
        let table = self
            .mappings
            .and_then(|mappings| mappings.get(&map))
            .ok_or_else(|| missing(format!("no mapping `{map}` in `Mappings`")))?;
        let row = table
            .get(&top)
            .ok_or_else(|| missing(format!("mapping `{map}` has no key `{top}`")))?;
        let value = row
            .get(&second)
            .ok_or_else(|| missing(format!("`{map}.{top}` has no key `{second}`")))?;
        Ok(value.clone())
    }

    /// Computes `Fn::Cidr [block, count, host_bits]`: `count` consecutive
    /// subnets of `block`, each with `host_bits` bits for hosts.
    fn cidr(&self, argument: &Value) -> Result<Value, Failure> {
        let [block, count, host_bits] = arguments::<3>("Fn::Cidr", argument)?;
        let block = self.resolve_text(block, "Fn::Cidr")?;
        let count = self.resolve_text(count, "Fn::Cidr")?;
        let host_bits = self.resolve_text(host_bits, "Fn::Cidr")?;
        let invalid = |why: &str| {
            Failure::Invalid(format!("`Fn::Cidr [{block}, {count}, {host_bits}]`: {why}"))
        };

        let (address, prefix) = block
            .split_once('/')
            .ok_or_else(|| invalid("the block must be ADDRESS/PREFIX"))?;
        let address: IpAddr = address
            .parse()
            .map_err(|_| invalid("the block's address is not an IP address"))?;
        let prefix: u32 = prefix
            .parse()
            .map_err(|_| invalid("the block's prefix is not a number"))?;
        let count: u32 = count
            .parse()
            .map_err(|_| invalid("the count is not a number"))?;
        let host_bits: u32 = host_bits
            .parse()
            .map_err(|_| invalid("the host bits are not a number"))?;
        let (bits, width) = match address {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => (u128::from(v6), 128),
        };
        if prefix > width || host_bits == 0 || host_bits > width - prefix || count == 0 {
            return Err(invalid(
                "the prefix, count or host bits are out of range for the block",
            ));
        }

        // The block has 2^(subnet_prefix - prefix) subnets of the requested size.
        let subnet_prefix = width - host_bits;
        let available = 1u128
            .checked_shl(subnet_prefix - prefix)
            .unwrap_or(u128::MAX);
        if u128::from(count) > available {
            return Err(invalid(
                "the block has room for fewer subnets than requested",
            ));
        }
        let block_host_mask = 1u128
            .checked_shl(width - prefix)
            .map_or(u128::MAX, |size| size - 1);
        let network = bits & !block_host_mask;
        let mut subnets = Vec::with_capacity(count as usize);
        for index in 0..u128::from(count) {
            let start = network + index.checked_shl(host_bits).unwrap_or(0);
            let text = match address {
                IpAddr::V4(_) => Ipv4Addr::from(start as u32).to_string(),
                IpAddr::V6(_) => Ipv6Addr::from(start).to_string(),
            };
            subnets.push(Value::String(format!("{text}/{subnet_prefix}")));
        }
        Ok(Value::Sequence(subnets))
    }

    fn resolve_required(&self, value: &Value, function: &str) -> Result<Value, Failure> {
        self.resolve(value)?.ok_or_else(|| {
            Failure::Invalid(format!(
                "`{function}` cannot take `AWS::NoValue` as an argument"
            ))
        })
    }

    fn resolve_text(&self, value: &Value, function: &str) -> Result<String, Failure> {
        let value = self.resolve_required(value, function)?;
        value.scalar_text().ok_or_else(|| {
            Failure::Invalid(format!(
                "`{function}` needs a string, found a {}: {value}",
                value.kind()
            ))
        })
    }

    fn resolve_list(&self, value: &Value, function: &str) -> Result<Vec<Value>, Failure> {
        match self.resolve_required(value, function)? {
            Value::Sequence(items) => Ok(items),
            other => Err(Failure::Invalid(format!(
                "`{function}` needs a list, found a {}: {other}",
                other.kind()
            ))),
        }
    }

    fn resolve_texts(&self, value: &Value, function: &str) -> Result<Vec<String>, Failure> {
        let items = self.resolve_list(value, function)?;
        items
            .iter()
            .map(|item| {
                item.scalar_text().ok_or_else(|| {
                    Failure::Invalid(format!(
                        "`{function}` needs a list of strings, found a {}: {item}",
                        item.kind()
                    ))
                })
            })
            .collect()
    }
}

fn read_parameter(
    name: &str,
    declaration: &Value,
    overridden: Option<&String>,
) -> Result<Parameter, String> {
    let kind = declaration
        .get("Type")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("parameter `{name}` has no `Type`"))?;
    if kind.starts_with("AWS::SSM::Parameter::Value<") {
        return Ok(Parameter::FromParameterStore);
    }

    let text = match overridden {
        Some(text) => text.clone(),
        None => match declaration.get("Default") {
            Some(default) => default.scalar_text().ok_or_else(|| {
                format!(
                    "parameter `{name}` has a `Default` that is a {}, not a string",
                    default.kind()
                )
            })?,
            None => return Ok(Parameter::Missing),
        },
    };

    let is_list = kind == "CommaDelimitedList" || kind.starts_with("List<");
    let items: Vec<String> = if is_list {
        text.split(',').map(|item| item.trim().to_owned()).collect()
    } else {
        vec![text.clone()]
    };
    if let Some(allowed) = declaration
        .get("AllowedValues")
        .and_then(Value::as_sequence)
    {
        let allowed: Vec<String> = allowed.iter().filter_map(Value::scalar_text).collect();
        if let Some(rejected) = items.iter().find(|item| !allowed.contains(item)) {
            return Err(format!(
                "parameter `{name}` is `{rejected}`, which is not one of its AllowedValues: {}",
                allowed.join(", ")
            ));
        }
    }

    Ok(Parameter::Value(if is_list {
        Value::Sequence(items.into_iter().map(Value::String).collect())
    } else {
        Value::String(text)
    }))
}

/// Splits an intrinsic function's argument list into exactly `N` items.
fn arguments<'v, const N: usize>(
    function: &str,
    argument: &'v Value,
) -> Result<[&'v Value; N], Failure> {
    let items = argument.as_sequence().filter(|items| items.len() == N);
    let Some(items) = items else {
        return Err(Failure::Invalid(format!(
            "`{function}` takes a list of {N} items, found {argument}"
        )));
    };
    let mut output = [&Value::Null; N];
    for (slot, item) in output.iter_mut().zip(items) {
        *slot = item;
    }
    Ok(output)
}

fn invalid_condition(expression: &Value) -> Failure {
    Failure::Invalid(format!(
        "invalid condition {expression}; expected Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sam::yaml;

    const TEMPLATE: &str = r#"
Parameters:
  Stage:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  Subnets:
    Type: CommaDelimitedList
    Default: "a, b,c"
  Required:
    Type: String
  Secret:
    Type: AWS::SSM::Parameter::Value<String>
    Default: /esb/secret
Mappings:
  StageConfig:
    dev:
      Memory: 256
      Hosts: [one, two]
    prod:
      Memory: 1024
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  IsDev: !Not [!Condition IsProd]
  DevAndEast: !And [!Condition IsDev, !Equals [!Ref "AWS::Region", us-east-1]]
  ProdOrWest: !Or [!Condition IsProd, !Equals [!Ref "AWS::Region", us-west-2]]
  Loop: !Not [!Condition Loop]
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
"#;

    fn document() -> Value {
        yaml::parse(TEMPLATE).unwrap()
    }

    fn resolve_with(expression: &str, overrides: &[(&str, &str)]) -> Resolved {
        let document = document();
        let overrides = overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let resolver = Resolver::new(&document, &overrides).unwrap();
        resolver.resolve(&yaml::parse(expression).unwrap())
    }

    fn resolve(expression: &str) -> Resolved {
        resolve_with(expression, &[])
    }

    fn text(expression: &str) -> String {
        match resolve(expression) {
            Ok(Some(Value::String(text))) => text,
            other => panic!("{expression} resolved to {other:?}"),
        }
    }

    fn strings(items: &[&str]) -> Value {
        Value::Sequence(items.iter().map(|item| Value::string(*item)).collect())
    }

    fn unknown_reason(expression: &str) -> String {
        match resolve(expression) {
            Err(Failure::Unknown(reason)) => reason,
            other => panic!("{expression} resolved to {other:?}"),
        }
    }

    fn invalid_message(expression: &str) -> String {
        match resolve(expression) {
            Err(Failure::Invalid(message)) => message,
            other => panic!("{expression} resolved to {other:?}"),
        }
    }

    #[test]
    fn ref_parameter_default_and_override() {
        assert_eq!(text("!Ref Stage"), "dev");
        assert_eq!(
            resolve_with("!Ref Stage", &[("Stage", "prod")]),
            Ok(Some(Value::string("prod")))
        );
    }

    #[test]
    fn override_outside_allowed_values_rejected() {
        let document = document();
        let overrides = BTreeMap::from([("Stage".to_owned(), "qa".to_owned())]);
        let error = Resolver::new(&document, &overrides).err().unwrap();
        assert!(error.contains("`Stage` is `qa`"), "{error}");
        assert!(error.contains("dev, prod"), "{error}");
    }

    #[test]
    fn comma_delimited_list_parameter() {
        assert_eq!(resolve("!Ref Subnets"), Ok(Some(strings(&["a", "b", "c"]))));
        assert_eq!(text("!Join ['-', !Ref Subnets]"), "a-b-c");
    }

    #[test]
    fn pseudo_parameters_have_local_values() {
        assert_eq!(text("!Ref AWS::Region"), "us-east-1");
        assert_eq!(text("!Ref AWS::AccountId"), "123456789012");
        assert_eq!(text("!Ref AWS::StackName"), "esb");
        assert_eq!(text("!Ref AWS::Partition"), "aws");
        assert_eq!(text("!Ref AWS::URLSuffix"), "amazonaws.com");
        assert!(unknown_reason("!Ref AWS::StackId").contains("AWS::StackId"));
    }

    #[test]
    fn no_value_drops_entries() {
        assert_eq!(resolve("!Ref AWS::NoValue"), Ok(None));
        assert_eq!(
            resolve("[a, !Ref AWS::NoValue, b]"),
            Ok(Some(strings(&["a", "b"])))
        );
        let mapping = resolve("{A: x, B: !If [IsProd, y, !Ref AWS::NoValue]}")
            .unwrap()
            .unwrap();
        assert_eq!(mapping.get("A"), Some(&Value::string("x")));
        assert_eq!(mapping.get("B"), None);
    }

    #[test]
    fn sub_string_form() {
        assert_eq!(
            text("!Sub 'echo-${Stage}-${AWS::Region}'"),
            "echo-dev-us-east-1"
        );
        assert_eq!(text("!Sub '${ Stage }'"), "dev");
        assert_eq!(
            text("!Sub 'literal ${!Stage} and $ alone'"),
            "literal ${Stage} and $ alone"
        );
        assert_eq!(text("!Sub 'open ${Stage'"), "open ${Stage");
    }

    #[test]
    fn sub_list_form() {
        assert_eq!(
            text("!Sub ['${Name}.${Stage}', {Name: !Join ['', [a, b]]}]"),
            "ab.dev"
        );
        // An unused variable is never resolved, so an unknown one does no harm.
        assert_eq!(
            text("!Sub ['${Stage}', {Unused: !GetAtt Table.Arn}]"),
            "dev"
        );
    }

    #[test]
    fn sub_of_attribute_is_unknown() {
        let reason = unknown_reason("!Sub 'arn is ${Table.Arn}'");
        assert!(reason.contains("Table.Arn"), "{reason}");
    }

    #[test]
    fn join_select_split() {
        assert_eq!(text("!Join [',', [a, 1, true]]"), "a,1,true");
        assert_eq!(text("!Select [1, [a, b, c]]"), "b");
        assert_eq!(text("!Select ['2', !Split [',', 'x,y,z']]"), "z");
        assert_eq!(
            resolve("!Split ['/', 'a/b']"),
            Ok(Some(strings(&["a", "b"])))
        );
        assert!(invalid_message("!Select [3, [a]]").contains("out of range"));
    }

    #[test]
    fn find_in_map_values() {
        assert_eq!(
            resolve("!FindInMap [StageConfig, !Ref Stage, Memory]"),
            Ok(Some(Value::Number("256".into())))
        );
        assert_eq!(
            resolve("!FindInMap [StageConfig, dev, Hosts]"),
            Ok(Some(strings(&["one", "two"])))
        );
        let message = invalid_message("!FindInMap [StageConfig, qa, Memory]");
        assert!(message.contains("no key `qa`"), "{message}");
    }

    #[test]
    fn conditions_and_if() {
        assert_eq!(text("!If [IsProd, big, small]"), "small");
        assert_eq!(text("!If [IsDev, dev-only, other]"), "dev-only");
        assert_eq!(text("!If [DevAndEast, yes, no]"), "yes");
        assert_eq!(text("!If [ProdOrWest, yes, no]"), "no");
        assert_eq!(
            resolve_with("!If [IsProd, big, small]", &[("Stage", "prod")]),
            Ok(Some(Value::string("big")))
        );
    }

    #[test]
    fn condition_errors() {
        assert!(invalid_message("!If [Loop, a, b]").contains("refers back to itself"));
        assert!(invalid_message("!If [Missing, a, b]").contains("not declared"));
        assert!(invalid_message("!Equals [a, b]").contains("only in `Conditions`"));
    }

    #[test]
    fn base64_and_cidr() {
        assert_eq!(text("!Base64 'hello ${Stage}'"), "aGVsbG8gJHtTdGFnZX0=");
        assert_eq!(
            text("!Base64 {'Fn::Sub': 'hello ${Stage}'}"),
            "aGVsbG8gZGV2"
        );
        assert_eq!(
            resolve("!Cidr [10.0.0.0/16, 3, 8]"),
            Ok(Some(strings(&[
                "10.0.0.0/24",
                "10.0.1.0/24",
                "10.0.2.0/24"
            ])))
        );
        assert_eq!(
            resolve("!Cidr [10.1.2.3/16, 2, 12]"),
            Ok(Some(strings(&["10.1.0.0/20", "10.1.16.0/20"])))
        );
        assert_eq!(
            resolve("!Cidr ['2001:db8::/56', 2, 64]"),
            Ok(Some(strings(&["2001:db8::/64", "2001:db8:0:1::/64"])))
        );
        assert!(invalid_message("!Cidr [10.0.0.0/24, 2, 8]").contains("fewer subnets"));
    }

    #[test]
    fn deploy_time_values_are_unknown() {
        assert!(unknown_reason("!GetAtt Table.Arn").contains("Table.Arn"));
        assert!(unknown_reason("!Ref Table").contains("AWS::DynamoDB::Table"));
        assert!(unknown_reason("!ImportValue SharedVpc").contains("SharedVpc"));
        assert!(unknown_reason("!GetAZs ''").contains("availability zones"));
        assert!(unknown_reason("!Ref Secret").contains("Parameter Store"));
        assert!(unknown_reason("!Join ['', [a, !GetAtt Table.Arn]]").contains("Table.Arn"));
    }

    #[test]
    fn invalid_references() {
        assert!(invalid_message("!Ref Nowhere").contains("`Ref Nowhere`"));
        assert!(invalid_message("!GetAtt Nowhere.Arn").contains("no resource `Nowhere`"));
        assert!(invalid_message("!Ref Required").contains("Required=VALUE"));
        assert!(invalid_message("{'Fn::Length': [a]}")
            .contains("unsupported intrinsic function `Fn::Length`"));
    }
}
