//! `cargo xtask bundle`: certificates, base images, function images and the
//! stack's images, built into ONE Docker-in-Docker image that boots the stack
//! offline with `docker run --privileged`.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::base_images::{append_bytes, short_id};
use crate::compose::ComposeFile;
use crate::engine::{self, BuildSpec};
use crate::flags::BundleArgs;
use crate::manifest::{BundleManifest, FunctionsManifest};
use crate::{base_images, build_functions, certs, collect_images, compose, project, report};

/// Port the bundle's gateway serves HTTPS on, inside and outside.
pub const GATEWAY_PORT: u16 = 8443;

/// Port of the Lambda-compatible invocation endpoint in each function container.
pub const FUNCTION_PORT: u16 = 8080;

/// Compose project name inside the bundle.
pub const PROJECT: &str = "esb";

/// The generated files of the stack folder, as the bundle and a host run both use them.
#[derive(Debug, Clone)]
pub struct StackFiles {
    /// `compose.yaml`: the user's compose file without `build` sections.
    pub compose: String,
    /// `compose.functions.yaml`: one service per function.
    pub functions_compose: String,
    /// `generated/routes.json`: the gateway's routes.
    pub routes: String,
    /// `services.txt`: every service the health check waits for.
    pub services: String,
}

pub async fn run(args: &BundleArgs) -> Result<()> {
    let started = Instant::now();
    let out_dir = project::absolute(&args.out_dir)?;
    let cert_dir = match &args.cert_dir {
        Some(dir) => project::absolute(dir)?,
        None => project::default_cert_dir(),
    };
    let compose_path = project::absolute(&args.compose_file)?;

    // Everything that can fail without Docker is checked before any long step.
    check_cert_owner(&args.cert_owner)?;
    let bases = base_images::planned(&args.recipe)?;
    let compose = compose::load(&compose_path, &collect_images::compose_variables(&bases.python))?;
    let plan = build_functions::plan(&args.template, &bases.python)?;
    let docker = engine::connect().await?;
    collect_images::check_prebuilt_present(&docker, &compose, &args.extra_images).await?;

    let service_uses_python = compose
        .services
        .iter()
        .filter_map(|service| service.build.as_ref())
        .any(|build| build.args.values().any(|value| *value == bases.python));
    let needed = base_images::Needed {
        dind: args.dind_base.is_none(),
        python: plan.needed_bases(&bases.python).python || service_uses_python,
    };
    let built_bases = base_images::ensure(&docker, &args.recipe, false, needed).await?;
    let dind_base = args.dind_base.clone().unwrap_or(built_bases.dind);
    let functions = build_functions::build(&docker, &plan, &out_dir, args.jobs).await?;
    let bundle = collect_images::collect(&docker, &compose, &functions, &args.extra_images, &out_dir).await?;

    let stack = stack_files(&compose, &functions)?;

    // Certificates last: a run that fails earlier leaves the certificate folder as it was.
    let mut names: Vec<String> = compose.services.iter().map(|service| service.name.clone()).collect();
    names.extend(args.sans.iter().cloned());
    certs::ensure(&cert_dir, &names)?;
    let image_id = build_bundle_image(&docker, args, &dind_base, &cert_dir, &out_dir, &stack, &functions, &bundle).await?;
    let size = engine::image_size(&docker, &args.tag).await?;

    report::line(
        "bundle",
        format!(
            "done: {} ({}), {}, {} ({}), in {}",
            args.tag,
            short_id(&image_id),
            report::format_bytes(size),
            report::count(bundle.images.len(), "image"),
            report::count(functions.functions.len(), "function"),
            report::format_duration(started.elapsed())
        ),
    );
    println!("{}", args.tag);
    Ok(())
}

/// Makes the stack folder's generated files from the compose file and the functions manifest.
pub fn stack_files(compose: &ComposeFile, functions: &FunctionsManifest) -> Result<StackFiles> {
    for function in &functions.functions {
        if compose.services.iter().any(|service| service.name == function.service) {
            bail!(
                "{}: service `{}` has the name function {} runs under\nhint: rename the compose service; `fn-` names are for functions",
                compose.path,
                function.service,
                function.logical_id
            );
        }
    }
    let mut services: Vec<String> = compose.services.iter().map(|service| service.name.clone()).collect();
    services.extend(functions.functions.iter().map(|function| function.service.clone()));
    Ok(StackFiles {
        compose: compose.without_build_sections()?,
        functions_compose: compose::to_yaml(&functions_compose(functions))?,
        routes: serde_json::to_string_pretty(&routes(functions))? + "\n",
        services: services.join("\n") + "\n",
    })
}

#[derive(Debug, Serialize)]
struct ComposeDocument {
    services: BTreeMap<String, FunctionService>,
}

#[derive(Debug, Serialize)]
struct FunctionService {
    image: String,
    environment: BTreeMap<String, String>,
    restart: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    working_dir: Option<String>,
}

/// Returns the compose document that runs each function as a container of its image.
fn functions_compose(functions: &FunctionsManifest) -> ComposeDocument {
    let services = functions
        .functions
        .iter()
        .map(|function| {
            let mut environment = function.environment.clone();
            for (key, value) in [
                ("AWS_LAMBDA_FUNCTION_NAME", function.name.clone()),
                ("AWS_LAMBDA_FUNCTION_TIMEOUT", function.timeout_seconds.to_string()),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", function.memory_mb.to_string()),
                ("ESB_RUNTIME_PORT", FUNCTION_PORT.to_string()),
            ] {
                environment.insert(key.to_owned(), value);
            }
            let config = function.image_config.clone().unwrap_or_default();
            let service = FunctionService {
                image: function.image.clone(),
                environment,
                restart: "unless-stopped",
                command: config.command,
                entrypoint: config.entry_point,
                working_dir: config.working_directory,
            };
            (function.service.clone(), service)
        })
        .collect();
    ComposeDocument { services }
}

#[derive(Debug, Serialize)]
struct RoutesDocument {
    routes: Vec<GatewayRoute>,
}

#[derive(Debug, Serialize)]
struct GatewayRoute {
    method: String,
    path: String,
    function: String,
    payload_format: String,
    endpoint: String,
    timeout_seconds: u32,
}

/// Returns the gateway's routes: each API event of each function, with the
/// address of the function's invocation endpoint inside the stack's network.
fn routes(functions: &FunctionsManifest) -> RoutesDocument {
    let routes = functions
        .functions
        .iter()
        .flat_map(|function| {
            function.routes.iter().map(move |route| GatewayRoute {
                method: route.method.clone(),
                path: route.path.clone(),
                function: function.logical_id.clone(),
                payload_format: route.payload_format.clone(),
                endpoint: format!("http://{}:{FUNCTION_PORT}/2015-03-31/functions/function/invocations", function.service),
                timeout_seconds: function.timeout_seconds,
            })
        })
        .collect();
    RoutesDocument { routes }
}

/// One file of the bundle's build context, generated or copied from disk.
enum ContextEntry {
    Bytes { path: String, contents: Vec<u8>, mode: u32 },
    File { path: String, source: Utf8PathBuf },
}

#[allow(clippy::too_many_arguments)]
async fn build_bundle_image(
    docker: &bollard::Docker,
    args: &BundleArgs,
    dind_base: &str,
    cert_dir: &Utf8Path,
    out_dir: &Utf8Path,
    stack: &StackFiles,
    functions: &FunctionsManifest,
    bundle: &BundleManifest,
) -> Result<String> {
    let dind_dir = project::root().join("dind");
    let mut entries = vec![
        ContextEntry::File { path: "Dockerfile".into(), source: dind_dir.join("Dockerfile") },
        ContextEntry::File { path: "entrypoint.sh".into(), source: dind_dir.join("entrypoint.sh") },
        ContextEntry::File { path: "healthcheck.sh".into(), source: dind_dir.join("healthcheck.sh") },
        ContextEntry::File { path: "images/images.tar".into(), source: out_dir.join(collect_images::IMAGES_ARCHIVE) },
        bytes_entry("bundle/bundle.json", serde_json::to_string_pretty(bundle)? + "\n"),
        bytes_entry("bundle/functions.json", serde_json::to_string_pretty(functions)? + "\n"),
        bytes_entry("bundle/images.txt", bundle.images_text()),
        bytes_entry("bundle/stack/compose.yaml", stack.compose.clone()),
        bytes_entry("bundle/stack/compose.functions.yaml", stack.functions_compose.clone()),
        bytes_entry("bundle/stack/services.txt", stack.services.clone()),
        bytes_entry("bundle/stack/generated/routes.json", stack.routes.clone()),
    ];
    for name in certs::BUNDLE_FILES {
        entries.push(ContextEntry::File { path: format!("bundle/stack/certs/{name}"), source: cert_dir.join(name) });
    }
    check_no_ca_key(&entries, &cert_dir.join("rootCA.key"))?;

    let archive_size = bundle.archive_size;
    let step = report::Step::start(
        "bundle",
        format!("building {} from {dind_base} with {} of images", args.tag, report::format_bytes(archive_size)),
    );
    let context = engine::stream_tar(move |builder| {
        for entry in &entries {
            match entry {
                ContextEntry::Bytes { path, contents, mode } => append_bytes(builder, path, contents, *mode)?,
                ContextEntry::File { path, source } => engine::append_file(builder, path, source)?,
            }
        }
        Ok(())
    });
    let spec = BuildSpec {
        tag: args.tag.clone(),
        dockerfile: "Dockerfile".to_owned(),
        build_args: [
            ("ESB_DIND_BASE".to_owned(), dind_base.to_owned()),
            ("ESB_CERT_OWNER".to_owned(), args.cert_owner.clone()),
        ]
        .into(),
        labels: [("com.esb.kind".to_owned(), "bundle".to_owned())].into(),
        target: None,
    };
    let image_id = engine::build_image(docker, &spec, context, &step).await?;
    step.done(format!("built {} ({})", args.tag, short_id(&image_id)));
    Ok(image_id)
}

/// Accepts `UID:GID` with both parts numeric, as `chown` inside any base takes it.
fn check_cert_owner(owner: &str) -> Result<()> {
    let numeric = |part: &str| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
    match owner.split_once(':') {
        Some((uid, gid)) if numeric(uid) && numeric(gid) => Ok(()),
        _ => bail!("invalid --cert-owner `{owner}`: expected numeric UID:GID such as 1000:1000"),
    }
}

fn bytes_entry(path: &str, contents: String) -> ContextEntry {
    ContextEntry::Bytes { path: path.to_owned(), contents: contents.into_bytes(), mode: 0o644 }
}

/// Rejects a build context that would carry the root CA's private key: anyone
/// holding the image could then mint certificates every client trusts. It
/// searches every file, and every layer of every image in images.tar.
fn check_no_ca_key(entries: &[ContextEntry], ca_key_path: &Utf8Path) -> Result<()> {
    let Ok(ca_key) = std::fs::read_to_string(ca_key_path) else {
        return Ok(());
    };
    let key_body = crate::scan::pem_body(&ca_key);
    let needle = key_body.as_bytes();
    for entry in entries {
        let holder = match entry {
            ContextEntry::Bytes { path, contents, .. } => crate::scan::contains(contents, needle).then(|| path.clone()),
            ContextEntry::File { path, source } if source.extension() == Some("tar") => {
                let file = std::fs::File::open(source).with_context(|| format!("cannot read {source}"))?;
                let findings = crate::scan::find_in_archive(std::io::BufReader::new(file), needle)
                    .with_context(|| format!("cannot search {source}"))?;
                findings.holders.first().map(|holder| format!("{path}:{holder}"))
            }
            ContextEntry::File { path, source } => {
                let contents = std::fs::read(source).with_context(|| format!("cannot read {source}"))?;
                crate::scan::contains(&contents, needle).then(|| path.clone())
            }
        };
        if let Some(holder) = holder {
            bail!("the bundle's build context would contain the root CA's private key ({ca_key_path}) in {holder}\nhint: only rootCA.crt, server.crt and server.key may go into a bundle; keep .esb/certs out of build contexts");
        }
    }
    Ok(())
}

/// Writes the stack folder the way a bundle lays it out, for running the
/// same stack with compose on the host engine.
pub fn write_stack_dir(dir: &Utf8Path, stack: &StackFiles) -> Result<()> {
    use crate::manifest::write_atomic;
    write_atomic(&dir.join("compose.yaml"), stack.compose.as_bytes())?;
    write_atomic(&dir.join("compose.functions.yaml"), stack.functions_compose.as_bytes())?;
    write_atomic(&dir.join("generated/routes.json"), stack.routes.as_bytes())?;
    write_atomic(&dir.join("services.txt"), stack.services.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::FunctionImage;
    use crate::sam::Route;

    fn echo_function() -> FunctionImage {
        FunctionImage {
            logical_id: "EchoFunction".to_owned(),
            name: "echo-dev".to_owned(),
            service: "fn-echofunction".to_owned(),
            image: "esb-fn/echofunction:0123".to_owned(),
            image_id: "sha256:abc".to_owned(),
            timeout_seconds: 10,
            memory_mb: 256,
            environment: [("STAGE".to_owned(), "dev".to_owned())].into(),
            routes: vec![Route { method: "GET".into(), path: "/items/{id}".into(), payload_format: "1.0".into() }],
            expected_status: None,
            image_config: None,
        }
    }

    #[test]
    fn functions_compose_sets_lambda_environment() {
        let manifest = FunctionsManifest { functions: vec![echo_function()] };
        let document = functions_compose(&manifest);
        let service = &document.services["fn-echofunction"];

        assert_eq!(service.image, "esb-fn/echofunction:0123");
        assert_eq!(service.environment["STAGE"], "dev");
        assert_eq!(service.environment["AWS_LAMBDA_FUNCTION_NAME"], "echo-dev");
        assert_eq!(service.environment["AWS_LAMBDA_FUNCTION_TIMEOUT"], "10");
        assert_eq!(service.environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    }

    #[test]
    fn functions_compose_applies_image_config() {
        let mut function = echo_function();
        function.image_config = Some(crate::manifest::ImageConfig {
            command: Some(vec!["other.handler".to_owned()]),
            entry_point: None,
            working_directory: Some("/srv/app".to_owned()),
        });
        let document = functions_compose(&FunctionsManifest { functions: vec![function] });
        let service = &document.services["fn-echofunction"];

        assert_eq!(service.command.as_deref(), Some(&["other.handler".to_owned()][..]));
        assert_eq!(service.entrypoint, None);
        assert_eq!(service.working_dir.as_deref(), Some("/srv/app"));
        let yaml = crate::compose::to_yaml(&document).unwrap();
        assert!(yaml.contains("working_dir: /srv/app"), "{yaml}");
        assert!(!yaml.contains("entrypoint"), "{yaml}");
    }

    #[test]
    fn routes_point_at_function_services() {
        let manifest = FunctionsManifest { functions: vec![echo_function()] };
        let document = routes(&manifest);

        assert_eq!(document.routes.len(), 1);
        assert_eq!(document.routes[0].path, "/items/{id}");
        assert_eq!(document.routes[0].function, "EchoFunction");
        assert_eq!(document.routes[0].endpoint, "http://fn-echofunction:8080/2015-03-31/functions/function/invocations");
        assert_eq!(document.routes[0].timeout_seconds, 10);
    }

    #[test]
    fn cert_owner_must_be_numeric() {
        assert!(check_cert_owner("0:0").is_ok());
        assert!(check_cert_owner("1000:1001").is_ok());
        assert!(check_cert_owner("app:app").is_err());
        assert!(check_cert_owner("1000").is_err());
        assert!(check_cert_owner(":1000").is_err());
    }

    #[test]
    fn ca_key_in_context_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();
        let key = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n-----END PRIVATE KEY-----\n";
        std::fs::write(dir.join("rootCA.key"), key).unwrap();
        std::fs::write(dir.join("server.key"), "-----BEGIN PRIVATE KEY-----\nOTHER\n-----END PRIVATE KEY-----\n").unwrap();

        let safe = vec![ContextEntry::File { path: "bundle/stack/certs/server.key".into(), source: dir.join("server.key") }];
        assert!(check_no_ca_key(&safe, &dir.join("rootCA.key")).is_ok());

        let leaking = vec![ContextEntry::File { path: "bundle/stack/certs/ca.key".into(), source: dir.join("rootCA.key") }];
        let error = check_no_ca_key(&leaking, &dir.join("rootCA.key")).unwrap_err().to_string();
        assert!(error.contains("bundle/stack/certs/ca.key"), "{error}");

        // A service image whose build context held the key, inside images.tar.
        let mut layer = tar::Builder::new(Vec::new());
        crate::base_images::append_bytes(&mut layer, "app/certs/rootCA.key", key.as_bytes(), 0o600).unwrap();
        let mut images = tar::Builder::new(Vec::new());
        crate::base_images::append_bytes(&mut images, "abc/layer.tar", &layer.into_inner().unwrap(), 0o644).unwrap();
        std::fs::write(dir.join("images.tar"), images.into_inner().unwrap()).unwrap();
        let nested = vec![ContextEntry::File { path: "images/images.tar".into(), source: dir.join("images.tar") }];
        let error = check_no_ca_key(&nested, &dir.join("rootCA.key")).unwrap_err().to_string();
        assert!(error.contains("images/images.tar:abc/layer.tar:app/certs/rootCA.key"), "{error}");
    }
}
