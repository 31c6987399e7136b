//! The resource being read, and how problems with its properties are reported.

use anyhow::{anyhow, Result};
use camino::{Utf8Path, Utf8PathBuf};

use super::intrinsics::{Failure, Resolver};
use super::value::Value;
use super::TemplatePlan;

/// One resource of one template while it is read into the plan.
pub struct Scope<'a> {
    pub template: &'a Utf8Path,
    pub logical_id: &'a str,
    pub resolver: &'a Resolver<'a>,
    pub plan: &'a mut TemplatePlan,
}

impl Scope<'_> {
    /// Returns an error naming the template, the resource and `property`.
    pub fn error(&self, property: &str, message: impl std::fmt::Display) -> anyhow::Error {
        anyhow!(
            "{}: resource `{}`, property `{property}`: {message}",
            self.template,
            self.logical_id
        )
    }

    /// Records a warning about `property` of this resource.
    pub fn warn(&mut self, property: &str, message: impl std::fmt::Display) {
        let warning = format!(
            "{}: resource `{}`, property `{property}`: {message}",
            self.template, self.logical_id
        );
        self.plan.warnings.push(warning);
    }

    /// Resolves an optional property. A value known only after deployment is
    /// recorded in `unresolved`, left out with a warning, and returned as `None`.
    pub fn resolve(&mut self, property: &str, value: Option<&Value>) -> Result<Option<Value>> {
        let Some(value) = value else {
            return Ok(None);
        };
        match self.resolver.resolve(value) {
            Ok(resolved) => Ok(resolved),
            Err(Failure::Unknown(reason)) => {
                let location = format!(
                    "{}: resource `{}`, property `{property}`",
                    self.template, self.logical_id
                );
                self.plan.unresolved.push(format!("{location}: {reason}"));
                self.warn(
                    property,
                    "left out, because its value is known only after deployment",
                );
                Ok(None)
            }
            Err(Failure::Invalid(message)) => Err(self.error(property, message)),
        }
    }

    /// Resolves a property the function cannot be built without.
    pub fn resolve_required(&self, property: &str, value: Option<&Value>) -> Result<Value> {
        let value = value.ok_or_else(|| self.error(property, "missing"))?;
        match self.resolver.resolve(value) {
            Ok(Some(resolved)) => Ok(resolved),
            Ok(None) => Err(self.error(property, "missing, because it resolves to `AWS::NoValue`")),
            Err(Failure::Unknown(reason)) => Err(self.error(
                property,
                format!("needs a value known only after deployment: {reason}"),
            )),
            Err(Failure::Invalid(message)) => Err(self.error(property, message)),
        }
    }

    /// Resolves an optional property that must be a string, number or boolean.
    pub fn resolve_text(
        &mut self,
        property: &str,
        value: Option<&Value>,
    ) -> Result<Option<String>> {
        match self.resolve(property, value)? {
            Some(value) => self.text(property, &value).map(Some),
            None => Ok(None),
        }
    }

    /// Returns the text of a scalar, or an error naming `property`.
    pub fn text(&self, property: &str, value: &Value) -> Result<String> {
        value.scalar_text().ok_or_else(|| {
            self.error(
                property,
                format!("expected a string, found a {}: {value}", value.kind()),
            )
        })
    }

    /// Evaluates a condition, turning an invalid one into an error naming `property`.
    pub fn condition(&self, property: &str, name: &str) -> Result<bool> {
        self.resolver
            .condition(name)
            .map_err(|failure| match failure {
                Failure::Invalid(message) | Failure::Unknown(message) => {
                    self.error(property, message)
                }
            })
    }

    /// Resolves `path` against the template's folder, as SAM resolves local paths.
    /// `.` parts and trailing slashes are dropped, but `..` is kept, because
    /// removing it by text would give a wrong path when a folder is a symlink.
    pub fn local_path(&self, path: &str) -> Utf8PathBuf {
        let folder = super::template_dir(self.template);
        let normalized: Utf8PathBuf = folder.join(path).components().collect();
        if normalized.as_str().is_empty() {
            Utf8PathBuf::from(".")
        } else {
            normalized
        }
    }
}
