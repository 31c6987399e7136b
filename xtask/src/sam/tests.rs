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
    let plan = load_one(&template).unwrap();
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
    let plan = load_one(&template).unwrap();
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
    assert_eq!(command.as_deref(), Some(&["app.configured_handler".to_owned()][..]));
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

/// A temporary project folder holding templates and the code they point to.
struct Project {
    folder: tempfile::TempDir,
}

impl Project {
    fn new() -> Self {
        Self {
            folder: tempfile::tempdir().unwrap(),
        }
    }

    fn root(&self) -> Utf8PathBuf {
        Utf8PathBuf::from_path_buf(self.folder.path().to_owned()).unwrap()
    }

    /// Writes `contents` to `relative`, creating its folders.
    fn file(&self, relative: &str, contents: &str) -> Utf8PathBuf {
        let path = self.root().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn folder(&self, relative: &str) -> Utf8PathBuf {
        let path = self.root().join(relative);
        std::fs::create_dir_all(&path).unwrap();
        path
    }
}

fn load_one(template: &Utf8Path) -> Result<TemplatePlan> {
    load(&[template.to_owned()], &BTreeMap::new())
}

fn error_text(result: Result<TemplatePlan>) -> String {
    format!("{:#}", result.expect_err("load should fail"))
}

const ZIP_FUNCTION: &str = "
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
";

#[test]
fn relative_template_gives_relative_paths() {
    // `cargo test` runs in the package folder, next to `fixtures`.
    let plan = load(&["../fixtures/template.yaml".into()], &BTreeMap::new()).unwrap();
    let Package::Zip { code, .. } = &function(&plan, "GreeterFunction").package else {
        panic!("GreeterFunction is not a Zip package");
    };
    assert!(
        matches!(code, CodeSource::Directory(path) if path == "../fixtures/functions/greeter"),
        "{code:?}"
    );
}

#[test]
fn json_template_loads() {
    let project = Project::new();
    project.folder("src");
    let template = project.file(
        "template.json",
        "{\n\t\"AWSTemplateFormatVersion\": \"2010-09-09\",\n\t\"Resources\": {\n\t\t\"Hello\": {\n\t\t\t\"Type\": \"AWS::Serverless::Function\",\n\t\t\t\"Properties\": {\"Runtime\": \"nodejs20.x\", \"Handler\": \"index.handler\", \"CodeUri\": \"src\",\n\t\t\t\t\"FunctionName\": {\"Fn::Sub\": \"hello-${AWS::Region}\"}, \"Timeout\": 30}\n\t\t}\n\t}\n}\n",
    );
    let plan = load_one(&template).unwrap();
    let hello = function(&plan, "Hello");
    assert_eq!(hello.name, "hello-us-east-1");
    assert_eq!(hello.timeout_seconds, 30);
    assert!(matches!(&hello.package, Package::Zip { runtime, .. } if runtime == "nodejs20.x"));
}

#[test]
fn function_defaults_match_sam() {
    let project = Project::new();
    project.folder("src");
    let plan = load_one(&project.file("template.yaml", ZIP_FUNCTION)).unwrap();
    let hello = function(&plan, "Hello");
    assert_eq!(hello.name, "Hello");
    assert_eq!(hello.timeout_seconds, 3);
    assert_eq!(hello.memory_mb, 128);
    assert_eq!(hello.architecture, "x86_64");
    assert!(hello.environment.is_empty());
    assert!(hello.routes.is_empty());
    assert_eq!(hello.expected_status, None);
}

#[test]
fn architecture_arm64_and_invalid() {
    let project = Project::new();
    project.folder("src");
    let arm = project.file(
        "arm.yaml",
        &format!("{ZIP_FUNCTION}      Architectures: [arm64]\n"),
    );
    assert_eq!(
        function(&load_one(&arm).unwrap(), "Hello").architecture,
        "arm64"
    );

    let bad = project.file(
        "bad.yaml",
        &format!("{ZIP_FUNCTION}      Architectures: [mips]\n"),
    );
    let error = error_text(load_one(&bad));
    assert!(error.contains("`mips`"), "{error}");
    assert!(error.contains("supported are x86_64 and arm64"), "{error}");
}

#[test]
fn code_uri_archives_and_inline_code() {
    let project = Project::new();
    project.file("dist/hello.zip", "not really a zip");
    project.file("dist/Hello.JAR", "not really a jar");
    let template = project.file(
        "stack/template.yaml",
        "
Globals:
  Function:
    Runtime: java21
    Handler: example.Handler
Resources:
  Zipped:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ../dist/hello.zip
  Jarred:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ../dist/Hello.JAR
  Inline:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        def handler(event, context):
            return 'ok'
  Defaulted:
    Type: AWS::Serverless::Function
",
    );
    let plan = load_one(&template).unwrap();
    let code = |id: &str| match &function(&plan, id).package {
        Package::Zip { code, .. } => code.clone(),
        other => panic!("{id} is not a Zip package: {other:?}"),
    };
    let root = project.root();
    assert!(
        matches!(code("Zipped"), CodeSource::Archive(path) if path == root.join("stack/../dist/hello.zip"))
    );
    assert!(
        matches!(code("Jarred"), CodeSource::Archive(path) if path == root.join("stack/../dist/Hello.JAR"))
    );
    assert!(
        matches!(code("Inline"), CodeSource::Inline(text) if text.starts_with("def handler(event, context):\n"))
    );
    // SAM CLI builds a function without CodeUri from the template's folder.
    assert!(matches!(code("Defaulted"), CodeSource::Directory(path) if path == root.join("stack")));
}

#[test]
fn s3_code_uri_rejected() {
    let project = Project::new();
    let cases = [
        ("string.yaml", "CodeUri: s3://bucket/code.zip"),
        ("mapping.yaml", "CodeUri: {Bucket: bucket, Key: code.zip}"),
    ];
    for (name, code_uri) in cases {
        let template = project.file(
            name,
            &format!(
                "Resources:\n  Remote:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n      Handler: app.handler\n      {code_uri}\n"
            ),
        );
        let error = error_text(load_one(&template));
        assert!(error.contains(template.as_str()), "{error}");
        assert!(error.contains("`Remote`"), "{error}");
        assert!(error.contains("`CodeUri`"), "{error}");
        assert!(
            error.contains("not supported; use a local folder or a .zip or .jar file"),
            "{error}"
        );
    }
}

#[test]
fn missing_code_folder_rejected() {
    let project = Project::new();
    let error = error_text(load_one(&project.file("template.yaml", ZIP_FUNCTION)));
    assert!(error.contains("`Hello`"), "{error}");
    assert!(error.contains("`CodeUri`"), "{error}");
    assert!(error.contains("not found"), "{error}");
}

#[test]
fn missing_runtime_names_property() {
    let project = Project::new();
    project.folder("src");
    let template = project.file(
        "template.yaml",
        "Resources:\n  NoRuntime:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: app.handler\n      CodeUri: src\n",
    );
    let error = error_text(load_one(&template));
    assert!(error.contains(template.as_str()), "{error}");
    assert!(
        error.contains("resource `NoRuntime`, property `Runtime`: missing"),
        "{error}"
    );
}

#[test]
fn invalid_numbers_and_package_type() {
    let project = Project::new();
    project.folder("src");
    let timeout = project.file(
        "timeout.yaml",
        &format!("{ZIP_FUNCTION}      Timeout: soon\n"),
    );
    let error = error_text(load_one(&timeout));
    assert!(error.contains("property `Timeout`"), "{error}");
    assert!(error.contains("`soon`"), "{error}");

    let package = project.file(
        "package.yaml",
        &format!("{ZIP_FUNCTION}      PackageType: Jar\n"),
    );
    let error = error_text(load_one(&package));
    assert!(error.contains("property `PackageType`"), "{error}");
    assert!(error.contains("supported are Zip and Image"), "{error}");
}

#[test]
fn image_function_with_all_metadata() {
    let project = Project::new();
    project.file("images/api/docker/Dockerfile.lambda", "FROM scratch\n");
    let template = project.file(
        "template.yaml",
        "
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    Layers: [arn:aws:lambda:us-east-1:123456789012:layer:tools:1]
    MemorySize: 512
Resources:
  Api:
    Type: AWS::Serverless::Function
    Metadata:
      DockerContext: images/api
      Dockerfile: docker/Dockerfile.lambda
      DockerTag: !Sub '${AWS::StackName}-v2'
      DockerBuildTarget: runtime
      DockerBuildArgs:
        PYTHON_VERSION: 3.12
        DEBUG: false
    Properties:
      PackageType: Image
      Architectures: [arm64]
      ImageConfig:
        Command: [app.handler]
        EntryPoint: [/lambda-entrypoint.sh]
        WorkingDirectory: /var/task
",
    );
    let plan = load_one(&template).unwrap();
    // The Zip-only globals, including the layer ARN, are not applied and so give no warning.
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    let api = function(&plan, "Api");
    assert_eq!(api.memory_mb, 512);
    assert_eq!(api.architecture, "arm64");
    let Package::Image {
        context,
        dockerfile,
        tag,
        build_args,
        target,
        command,
        entry_point,
        working_directory,
    } = &api.package
    else {
        panic!("Api is not an Image package: {:?}", api.package);
    };
    assert_eq!(*context, project.root().join("images/api"));
    assert_eq!(dockerfile, "docker/Dockerfile.lambda");
    assert_eq!(tag.as_deref(), Some("esb-v2"));
    assert_eq!(target.as_deref(), Some("runtime"));
    assert_eq!(
        build_args.get("PYTHON_VERSION").map(String::as_str),
        Some("3.12")
    );
    assert_eq!(build_args.get("DEBUG").map(String::as_str), Some("false"));
    assert_eq!(command.as_deref(), Some(&["app.handler".to_owned()][..]));
    assert_eq!(
        entry_point.as_deref(),
        Some(&["/lambda-entrypoint.sh".to_owned()][..])
    );
    assert_eq!(working_directory.as_deref(), Some("/var/task"));
}

#[test]
fn image_function_errors() {
    let project = Project::new();
    let prebuilt = project.file(
        "prebuilt.yaml",
        "Resources:\n  Prebuilt:\n    Type: AWS::Serverless::Function\n    Properties:\n      PackageType: Image\n      ImageUri: repo/image:1\n",
    );
    let error = error_text(load_one(&prebuilt));
    assert!(
        error.contains("resource `Prebuilt`, property `ImageUri`"),
        "{error}"
    );
    assert!(error.contains("Metadata.DockerContext"), "{error}");

    let no_metadata = project.file(
        "bare.yaml",
        "Resources:\n  Bare:\n    Type: AWS::Serverless::Function\n    Properties:\n      PackageType: Image\n",
    );
    let error = error_text(load_one(&no_metadata));
    assert!(
        error.contains("resource `Bare`, property `Metadata.DockerContext`: missing"),
        "{error}"
    );

    project.folder("image");
    let no_dockerfile = project.file(
        "nofile.yaml",
        "Resources:\n  NoFile:\n    Type: AWS::Serverless::Function\n    Metadata:\n      DockerContext: image\n      Dockerfile: Dockerfile\n    Properties:\n      PackageType: Image\n",
    );
    let error = error_text(load_one(&no_dockerfile));
    assert!(
        error.contains("property `Metadata.Dockerfile`: `Dockerfile` not found"),
        "{error}"
    );
}

#[test]
fn layers_from_template_and_elsewhere() {
    let project = Project::new();
    project.folder("src");
    project.folder("layers/common");
    project.file("layers/deps.zip", "not really a zip");
    let template = project.file(
        "template.yaml",
        "
Conditions:
  Never: !Equals [a, b]
Globals:
  Function:
    Layers:
      - !Ref Common
Resources:
  Common:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layers/common
  Deps:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layers/deps.zip
  Lambda:
    Type: AWS::Lambda::LayerVersion
    Properties:
      Content: {S3Bucket: b, S3Key: k}
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src
      Layers:
        - !Ref Deps
        - arn:aws:lambda:us-east-1:123456789012:layer:tools:3
        - !Ref Lambda
        - !If [Never, !Ref Deps, !Ref AWS::NoValue]
  Plain:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src
      Layers: []
",
    );
    let plan = load_one(&template).unwrap();
    let layers = |id: &str| match &function(&plan, id).package {
        Package::Zip { layers, .. } => layers.clone(),
        other => panic!("{id} is not a Zip package: {other:?}"),
    };

    let hello = layers("Hello");
    let ids: Vec<&str> = hello
        .iter()
        .map(|layer| layer.logical_id.as_str())
        .collect();
    assert_eq!(ids, ["Common", "Deps"]);
    assert!(
        matches!(&hello[0].content, CodeSource::Directory(path) if *path == project.root().join("layers/common"))
    );
    assert!(
        matches!(&hello[1].content, CodeSource::Archive(path) if *path == project.root().join("layers/deps.zip"))
    );

    // `Layers: []` keeps the global layers, as SAM does.
    let plain: Vec<String> = layers("Plain")
        .into_iter()
        .map(|layer| layer.logical_id)
        .collect();
    assert_eq!(plain, ["Common"]);

    assert_eq!(plan.warnings.len(), 2, "{:?}", plan.warnings);
    assert!(
        plan.warnings[0].contains("property `Layers[2]`"),
        "{}",
        plan.warnings[0]
    );
    assert!(
        plan.warnings[0].contains("layer:tools:3"),
        "{}",
        plan.warnings[0]
    );
    assert!(
        plan.warnings[1].contains("property `Layers[3]`"),
        "{}",
        plan.warnings[1]
    );
    assert!(
        plan.warnings[1].contains("AWS::Lambda::LayerVersion"),
        "{}",
        plan.warnings[1]
    );
}

#[test]
fn events_become_routes() {
    let project = Project::new();
    project.folder("src");
    let template = project.file(
        "template.yaml",
        &format!(
            "{ZIP_FUNCTION}      Events:
        Root:
          Type: Api
          Properties: {{Path: /, Method: any}}
        Post:
          Type: HttpApi
          Properties: {{Path: !Sub '/${{AWS::StackName}}/items', Method: Post, PayloadFormatVersion: '1.0'}}
        Http:
          Type: HttpApi
          Properties: {{Path: /v2, Method: delete}}
        CatchAll:
          Type: HttpApi
        Nightly:
          Type: Schedule
          Properties: {{Schedule: rate(1 day)}}
"
        ),
    );
    let plan = load_one(&template).unwrap();
    assert_eq!(
        function(&plan, "Hello").routes,
        [
            route("ANY", "/", "1.0"),
            route("POST", "/esb/items", "1.0"),
            route("DELETE", "/v2", "2.0")
        ]
    );
    assert_eq!(plan.warnings.len(), 2, "{:?}", plan.warnings);
    assert!(
        plan.warnings[0].contains("`Events.CatchAll`"),
        "{}",
        plan.warnings[0]
    );
    assert!(
        plan.warnings[1].contains("`Events.Nightly`"),
        "{}",
        plan.warnings[1]
    );
    assert!(
        plan.warnings[1].contains("`Schedule`"),
        "{}",
        plan.warnings[1]
    );
}

#[test]
fn invalid_event_method_rejected() {
    let project = Project::new();
    project.folder("src");
    let template = project.file(
        "template.yaml",
        &format!("{ZIP_FUNCTION}      Events:\n        Bad:\n          Type: Api\n          Properties: {{Path: /x, Method: fetch}}\n"),
    );
    let error = error_text(load_one(&template));
    assert!(
        error.contains("property `Events.Bad.Properties.Method`"),
        "{error}"
    );
    assert!(error.contains("`FETCH`"), "{error}");
    assert!(error.contains("GET, POST"), "{error}");
}

#[test]
fn deploy_time_values_left_out() {
    let project = Project::new();
    project.folder("src");
    let template = project.file(
        "template.yaml",
        "
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !ImportValue shared-name
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src
      Environment:
        Variables:
          TABLE_ARN: !GetAtt Table.Arn
          TABLE_NAME: !Ref Table
          REGION: !Ref AWS::Region
  Other:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src
",
    );
    let plan = load_one(&template).unwrap();
    let reader = function(&plan, "Reader");
    assert_eq!(reader.name, "Reader");
    assert_eq!(reader.environment.len(), 1);
    assert_eq!(
        reader.environment.get("REGION").map(String::as_str),
        Some("us-east-1")
    );
    assert_eq!(function(&plan, "Other").name, "Other");

    assert_eq!(plan.unresolved.len(), 3, "{:?}", plan.unresolved);
    assert!(
        plan.unresolved[0].contains("resource `Reader`, property `FunctionName`"),
        "{}",
        plan.unresolved[0]
    );
    assert!(
        plan.unresolved[0].contains("shared-name"),
        "{}",
        plan.unresolved[0]
    );
    assert!(
        plan.unresolved[1].contains("property `Environment.Variables.TABLE_ARN`"),
        "{}",
        plan.unresolved[1]
    );
    assert!(
        plan.unresolved[1].contains("Table.Arn"),
        "{}",
        plan.unresolved[1]
    );
    assert!(
        plan.unresolved[2].contains("property `Environment.Variables.TABLE_NAME`"),
        "{}",
        plan.unresolved[2]
    );
    assert!(
        plan.unresolved[0].starts_with(template.as_str()),
        "{}",
        plan.unresolved[0]
    );
    assert_eq!(plan.warnings.len(), 3, "{:?}", plan.warnings);
    assert!(
        plan.warnings
            .iter()
            .all(|warning| warning.contains("left out")),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn resource_condition_skips_function() {
    let project = Project::new();
    project.folder("src");
    let template = project.file(
        "template.yaml",
        &format!(
            "Parameters:\n  Stage: {{Type: String, Default: dev}}\nConditions:\n  IsProd: !Equals [!Ref Stage, prod]\n{}    Condition: IsProd\n",
            ZIP_FUNCTION.trim_start_matches('\n')
        ),
    );
    assert!(load_one(&template).unwrap().functions.is_empty());
    let overrides = BTreeMap::from([("Stage".to_owned(), "prod".to_owned())]);
    let plan = load(&[template], &overrides).unwrap();
    assert_eq!(plan.functions.len(), 1);
}

#[test]
fn several_templates_and_name_conflict() {
    let project = Project::new();
    project.folder("a/src");
    project.folder("b/src");
    let first = project.file("a/template.yaml", ZIP_FUNCTION);
    let second = project.file("b/template.yaml", &ZIP_FUNCTION.replace("Hello:", "Other:"));
    let plan = load(&[first.clone(), second.clone()], &BTreeMap::new()).unwrap();
    let names: Vec<&str> = plan.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["Hello", "Other"]);
    assert_eq!(plan.functions[1].template, second);

    let clash = project.file(
        "b/clash.yaml",
        &format!("{ZIP_FUNCTION}      FunctionName: Hello\n").replace("  Hello:", "  Greeter:"),
    );
    let error = error_text(load(&[first.clone(), clash.clone()], &BTreeMap::new()));
    assert!(error.contains("function name `Hello`"), "{error}");
    assert!(error.contains(first.as_str()), "{error}");
    assert!(error.contains(clash.as_str()), "{error}");
    assert!(error.contains("`Greeter`"), "{error}");
}

#[test]
fn unknown_override_warns() {
    let overrides = BTreeMap::from([("Stag".to_owned(), "prod".to_owned())]);
    let plan = load(&[fixture_template()], &overrides).unwrap();
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    assert!(plan.warnings[0].contains("`Stag`"), "{}", plan.warnings[0]);
}

#[test]
fn missing_parameter_value_rejected() {
    let project = Project::new();
    project.folder("src");
    let template = project.file(
        "template.yaml",
        &format!("Parameters:\n  Bucket: {{Type: String}}\n{ZIP_FUNCTION}      Environment:\n        Variables:\n          BUCKET: !Ref Bucket\n"),
    );
    let error = error_text(load_one(&template));
    assert!(
        error.contains("property `Environment.Variables.BUCKET`"),
        "{error}"
    );
    assert!(error.contains("Bucket=VALUE"), "{error}");
}

#[test]
fn anchors_and_merge_keys_in_template() {
    let project = Project::new();
    project.folder("src");
    let template = project.file(
        "template.yaml",
        "
Resources:
  First:
    Type: AWS::Serverless::Function
    Properties: &common
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src
      MemorySize: 256
  Second:
    Type: AWS::Serverless::Function
    Properties:
      <<: *common
      MemorySize: 1024
",
    );
    let plan = load_one(&template).unwrap();
    assert_eq!(function(&plan, "First").memory_mb, 256);
    assert_eq!(function(&plan, "Second").memory_mb, 1024);
    assert!(
        matches!(&function(&plan, "Second").package, Package::Zip { handler, .. } if handler == "app.handler")
    );
}

#[test]
fn layer_without_content_uri_rejected() {
    let project = Project::new();
    project.folder("src");
    let template = project.file(
        "template.yaml",
        &format!("{ZIP_FUNCTION}      Layers: [!Ref Empty]\n  Empty:\n    Type: AWS::Serverless::LayerVersion\n"),
    );
    let error = error_text(load_one(&template));
    assert!(
        error.contains("resource `Empty`, property `ContentUri`: missing"),
        "{error}"
    );
}
