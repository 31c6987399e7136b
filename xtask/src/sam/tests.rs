//! Tests of `load` on whole templates: the fixture stack and small templates
//! written into a temporary folder.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};

use super::*;

fn fixture_template() -> Utf8PathBuf {
    Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/template.yaml")
}

fn function<'p>(plan: &'p TemplatePlan, logical_id: &str) -> &'p FunctionSpec {
    plan.functions
        .iter()
        .find(|function| function.logical_id == logical_id)
        .unwrap_or_else(|| panic!("no function `{logical_id}` in the plan"))
}

fn route(method: &str, path: &str, payload_format: &str) -> Route {
    Route {
        method: method.to_owned(),
        path: path.to_owned(),
        payload_format: payload_format.to_owned(),
    }
}

#[test]
fn fixture_loads_all_functions() {
    let plan = load(&[fixture_template()], &BTreeMap::new()).unwrap();
    let ids: Vec<&str> = plan
        .functions
        .iter()
        .map(|f| f.logical_id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "EchoFunction",
            "GreeterFunction",
            "FailingFunction",
            "SlowFunction",
            "ImageFunction"
        ]
    );
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    assert!(plan.unresolved.is_empty(), "{:?}", plan.unresolved);
}

#[test]
fn fixture_echo_function() {
    let template = fixture_template();
    let plan = load(&[template.clone()], &BTreeMap::new()).unwrap();
    let echo = function(&plan, "EchoFunction");
    let folder = template.parent().unwrap();

    assert_eq!(echo.name, "echo-dev");
    assert_eq!(echo.template, template);
    assert_eq!(echo.timeout_seconds, 10);
    assert_eq!(echo.memory_mb, 128);
    assert_eq!(echo.architecture, "x86_64");
    assert_eq!(echo.expected_status, None);
    assert_eq!(
        echo.environment.get("STAGE").map(String::as_str),
        Some("dev")
    );
    assert_eq!(
        echo.environment.get("LOG_LEVEL").map(String::as_str),
        Some("info")
    );
    assert_eq!(echo.environment.len(), 2);
    assert_eq!(
        echo.routes,
        [
            route("ANY", "/echo", "1.0"),
            route("GET", "/items/{id}", "1.0"),
            route("GET", "/files/{proxy+}", "2.0")
        ]
    );
    let Package::Zip {
        runtime,
        handler,
        code,
        layers,
    } = &echo.package
    else {
        panic!("EchoFunction is not a Zip package: {:?}", echo.package);
    };
    assert_eq!(runtime, "python3.11");
    assert_eq!(handler, "app.handler");
    assert!(
        matches!(code, CodeSource::Directory(path) if *path == folder.join("functions/echo")),
        "{code:?}"
    );
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0].logical_id, "SharedLayer");
    assert!(
        matches!(&layers[0].content, CodeSource::Directory(path) if *path == folder.join("layers/shared")),
        "{:?}",
        layers[0].content
    );
}

#[test]
fn fixture_overrides_and_metadata() {
    let overrides = BTreeMap::from([("Stage".to_owned(), "prod".to_owned())]);
    let plan = load(&[fixture_template()], &overrides).unwrap();

    assert_eq!(function(&plan, "EchoFunction").name, "echo-prod");
    let greeter = function(&plan, "GreeterFunction");
    assert_eq!(greeter.name, "GreeterFunction");
    assert_eq!(
        greeter.environment.get("STAGE").map(String::as_str),
        Some("prod")
    );
    assert_eq!(
        greeter.environment.get("GREETING").map(String::as_str),
        Some("Hello")
    );
    assert_eq!(
        function(&plan, "FailingFunction").expected_status,
        Some(502)
    );
    let slow = function(&plan, "SlowFunction");
    assert_eq!(slow.expected_status, Some(504));
    assert_eq!(slow.timeout_seconds, 2);
}

#[test]
fn fixture_image_function() {
    let template = fixture_template();
    let plan = load(&[template.clone()], &BTreeMap::new()).unwrap();
    let image = function(&plan, "ImageFunction");

    assert_eq!(image.routes, [route("GET", "/image", "1.0")]);
    assert_eq!(image.timeout_seconds, 10);
    let Package::Image {
        context,
        dockerfile,
        tag,
        build_args,
        target,
        command,
        entry_point,
        working_directory,
    } = &image.package
    else {
        panic!("ImageFunction is not an Image package: {:?}", image.package);
    };
    assert_eq!(
        *context,
        template.parent().unwrap().join("functions/image-hello")
    );
    assert_eq!(dockerfile, "Dockerfile");
    assert_eq!(tag.as_deref(), Some("v1"));
    assert!(build_args.is_empty());
    assert_eq!(*target, None);
    assert_eq!(*command, None);
    assert_eq!(*entry_point, None);
    assert_eq!(*working_directory, None);
}

#[test]
fn fixture_plan_serializes_to_json() {
    let plan = load(&[fixture_template()], &BTreeMap::new()).unwrap();
    let json: serde_json::Value = serde_json::to_value(&plan).unwrap();
    let echo = &json["functions"][0];
    assert_eq!(echo["package"]["type"], "zip");
    assert_eq!(echo["package"]["code"]["type"], "directory");
    assert_eq!(echo["routes"][2]["payload_format"], "2.0");
    assert_eq!(json["functions"][4]["package"]["type"], "image");
    assert_eq!(json["functions"][2]["expected_status"], 502);
}
