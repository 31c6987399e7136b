//! A function's `Api` and `HttpApi` events, read into routes.

use anyhow::Result;

use super::scope::Scope;
use super::value::Value;
use super::Route;

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

/// Reads the routes of a function's `Events`. Event types other than `Api` and
/// `HttpApi` produce a warning and no route.
pub fn read_routes(scope: &mut Scope, events: Option<&Value>) -> Result<Vec<Route>> {
    let Some(events) = events else {
        return Ok(Vec::new());
    };
    let events = events.as_mapping().ok_or_else(|| {
        scope.error(
            "Events",
            format!("expected a mapping of events, found a {}", events.kind()),
        )
    })?;

    let mut routes = Vec::new();
    for (name, event) in events.iter() {
        let property = format!("Events.{name}");
        let kind = event.get("Type").and_then(Value::as_str);
        match kind {
            Some("Api") => routes.push(read_api_route(scope, &property, event, "Api")?),
            Some("HttpApi") => {
                if event
                    .get("Properties")
                    .and_then(|p| p.get("Path"))
                    .is_none()
                {
                    scope.warn(
                        &property,
                        "skipped: an HttpApi event without Path and Method is API Gateway's catch-all `$default` route, which is not supported; give it a Path and a Method",
                    );
                    continue;
                }
                routes.push(read_api_route(scope, &property, event, "HttpApi")?);
            }
            Some(other) => scope.warn(
                &property,
                format!("skipped: events of type `{other}` get no route; only Api and HttpApi do"),
            ),
            None => return Err(scope.error(&format!("{property}.Type"), "missing or not a string")),
        }
    }
    Ok(routes)
}

fn read_api_route(scope: &mut Scope, property: &str, event: &Value, kind: &str) -> Result<Route> {
    let properties = event.get("Properties");
    let path_property = format!("{property}.Properties.Path");
    let path_value =
        scope.resolve_required(&path_property, properties.and_then(|p| p.get("Path")))?;
    let path = scope.text(&path_property, &path_value)?;
    if !path.starts_with('/') {
        return Err(scope.error(&path_property, format!("`{path}` must start with `/`")));
    }

    let method_property = format!("{property}.Properties.Method");
    let method_value =
        scope.resolve_required(&method_property, properties.and_then(|p| p.get("Method")))?;
    let method = scope
        .text(&method_property, &method_value)?
        .to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(scope.error(
            &method_property,
            format!(
                "unsupported method `{method}`; supported are {}",
                METHODS.join(", ")
            ),
        ));
    }

    // REST APIs (`Api`) always send payload format 1.0; HTTP APIs default to 2.0.
    let payload_format = if kind == "HttpApi" {
        let format_property = format!("{property}.Properties.PayloadFormatVersion");
        let version = properties.and_then(|p| p.get("PayloadFormatVersion"));
        match scope.resolve_text(&format_property, version)? {
            None => "2.0".to_owned(),
            Some(version) if version == "1.0" || version == "2.0" => version,
            Some(version) => {
                return Err(scope.error(
                    &format_property,
                    format!("unsupported version `{version}`; supported are 1.0 and 2.0"),
                ))
            }
        }
    } else {
        "1.0".to_owned()
    };

    Ok(Route {
        method,
        path,
        payload_format,
    })
}
