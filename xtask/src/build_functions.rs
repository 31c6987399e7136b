//! `cargo xtask build-functions`: one image per function of the SAM
//! templates, tagged by the content that makes it, so an unchanged function
//! is never rebuilt.

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Context, Result};
use bollard::Docker;
use camino::{Utf8Path, Utf8PathBuf};
use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::base_images::{self, append_bytes, short_id};
use crate::engine::{self, BuildSpec};
use crate::flags::{BuildFunctionsArgs, TemplateArgs};
use crate::manifest::{self, FunctionImage, FunctionsManifest, ImageConfig, FUNCTIONS_MANIFEST};
use crate::sam::{self, CodeSource, FunctionSpec, Package, TemplatePlan};
use crate::{project, report};

/// Label every function image carries, so operators can find them.
pub const KIND_LABEL: &str = "com.esb.kind";

/// Label with the ID of the base image a function image was built on. The tag
/// covers the base's reference only, so a base rebuilt under the same
/// reference is noticed through this label.
const BASE_ID_LABEL: &str = "com.esb.base-image-id";

/// The Python runtimes the offline base serves. Its interpreter is Debian's
/// Python 3.11 whichever of these a template names.
const OFFLINE_PYTHON_RUNTIMES: &[&str] = &["python3.9", "python3.10", "python3.11", "python3.12", "python3.13"];

/// The tag and build recipe of one function image.
#[derive(Debug, Clone, Serialize)]
pub struct FunctionBuild {
    pub function: FunctionSpec,
    /// Compose service that runs the function.
    pub service: String,
    pub tag: String,
    pub base_image: Option<String>,
    pub recipe: BuildRecipe,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BuildRecipe {
    /// A Dockerfile we write, over a context of the function's code and layers.
    Generated { dockerfile: String, files: Vec<ContextFile> },
    /// The user's own Dockerfile and context (`PackageType: Image`).
    Dockerfile {
        context: Utf8PathBuf,
        dockerfile: String,
        build_args: BTreeMap<String, String>,
        target: Option<String>,
    },
}

/// One file of a generated build context.
#[derive(Debug, Clone, Serialize)]
pub struct ContextFile {
    pub path: String,
    #[serde(skip)]
    pub contents: Vec<u8>,
    pub mode: u32,
}

/// The whole plan that `--plan` prints and the build follows.
#[derive(Debug, Serialize)]
pub struct BuildPlan {
    pub template: TemplatePlan,
    pub builds: Vec<FunctionBuild>,
}

pub async fn run(args: &BuildFunctionsArgs) -> Result<()> {
    let bases = base_images::planned(&args.recipe)?;
    let plan = plan(&args.template, &bases.python)?;
    if args.plan {
        println!("{}", serde_json::to_string_pretty(&plan)?);
        return Ok(());
    }

    let docker = engine::connect().await?;
    base_images::ensure(&docker, &args.recipe, false, plan.needed_bases(&bases.python)).await?;
    let out_dir = project::absolute(&args.out_dir)?;
    build(&docker, &plan, &out_dir, args.jobs).await?;
    println!("{}", out_dir.join(FUNCTIONS_MANIFEST));
    Ok(())
}

impl BuildPlan {
    /// Returns which offline base images the builds use.
    pub fn needed_bases(&self, python_base: &str) -> base_images::Needed {
        let python = self.builds.iter().any(|build| build.base_image.as_deref() == Some(python_base));
        base_images::Needed { dind: false, python }
    }
}

/// Reads the templates and decides how each function image is built and tagged.
pub fn plan(args: &TemplateArgs, python_base: &str) -> Result<BuildPlan> {
    let templates: Vec<Utf8PathBuf> = args.templates.iter().map(|path| project::absolute(path)).collect::<Result<_>>()?;
    let overrides = parse_pairs(&args.parameter_overrides, "--parameter-overrides")?;
    let mut base_overrides = match &args.base_image_file {
        Some(path) => read_base_image_file(&project::absolute(path)?)?,
        None => BTreeMap::new(),
    };
    base_overrides.extend(parse_pairs(&args.base_images, "--base-image")?);
    let base_table = base_image_table(python_base, &base_overrides);
    let template = sam::load(&templates, &overrides)?;

    let mut builds = Vec::new();
    let mut missing_runtimes = Vec::new();
    for function in &template.functions {
        match plan_function(function, &base_table) {
            Ok(build) => builds.push(build),
            Err(PlanError::NoBaseImage(runtime)) => {
                missing_runtimes.push(format!("  {} ({}): runtime `{runtime}`", function.logical_id, function.template))
            }
            Err(PlanError::Other(error)) => return Err(error),
        }
    }
    if !missing_runtimes.is_empty() {
        bail!(
            "no base image for the runtime of {} functions:\n{}\nhint: pass --base-image RUNTIME=IMAGE for each runtime",
            missing_runtimes.len(),
            missing_runtimes.join("\n")
        );
    }
    check_unique_services(&builds)?;
    Ok(BuildPlan { template, builds })
}

/// Rejects two functions whose logical IDs differ only in case: both would run
/// as the same compose service, and one would silently disappear.
fn check_unique_services(builds: &[FunctionBuild]) -> Result<()> {
    let mut seen: BTreeMap<&str, &FunctionBuild> = BTreeMap::new();
    for build in builds {
        if let Some(first) = seen.insert(&build.service, build) {
            bail!(
                "functions {} ({}) and {} ({}) would both run as compose service `{}`\nhint: rename one of the logical IDs so that they differ in more than case",
                first.function.logical_id,
                first.function.template,
                build.function.logical_id,
                build.function.template,
                build.service
            );
        }
    }
    Ok(())
}

enum PlanError {
    NoBaseImage(String),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for PlanError {
    fn from(error: anyhow::Error) -> Self {
        PlanError::Other(error)
    }
}

/// Returns the runtime-to-image table: the offline Python base for Python
/// runtimes, then the user's `--base-image` entries over it.
pub fn base_image_table(python_base: &str, overrides: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut table: BTreeMap<String, String> =
        OFFLINE_PYTHON_RUNTIMES.iter().map(|runtime| (runtime.to_string(), python_base.to_owned())).collect();
    table.extend(overrides.clone());
    table
}

fn plan_function(function: &FunctionSpec, base_table: &BTreeMap<String, String>) -> Result<FunctionBuild, PlanError> {
    let service = service_name(&function.logical_id);
    let (base_image, recipe) = match &function.package {
        Package::Zip { runtime, handler, code, layers } => {
            let base = base_table.get(runtime).ok_or_else(|| PlanError::NoBaseImage(runtime.clone()))?;
            let mut files = Vec::new();
            let mut dockerfile = format!("FROM {base}\n");
            // Layers change less often than code, so they come first and their image layers are shared.
            for layer in layers {
                let prefix = format!("layers/{}", layer.logical_id);
                add_code(&mut files, &prefix, &layer.content, None)
                    .with_context(|| format!("layer {} of function {}", layer.logical_id, function.logical_id))?;
                dockerfile.push_str(&format!("COPY {prefix}/ /opt/\n"));
            }
            add_code(&mut files, "code", code, Some(handler)).with_context(|| format!("function {}", function.logical_id))?;
            dockerfile.push_str("COPY code/ /var/task/\n");
            dockerfile.push_str(&format!("CMD {}\n", serde_json::to_string(&[handler]).map_err(anyhow::Error::from)?));
            (Some(base.clone()), BuildRecipe::Generated { dockerfile, files })
        }
        Package::Image { context, dockerfile, build_args, target, .. } => {
            let base = base_table.get(&format!("python{}", base_images::PYTHON_VERSION)).cloned();
            let mut build_args = build_args.clone();
            if let Some(base) = &base {
                build_args.entry("ESB_BASE_IMAGE".to_owned()).or_insert_with(|| base.clone());
            }
            let recipe = BuildRecipe::Dockerfile {
                context: context.clone(),
                dockerfile: dockerfile.clone(),
                build_args,
                target: target.clone(),
            };
            (base, recipe)
        }
    };
    // The labels are part of the image too, so what they name is hashed with the content.
    let identity = [function.logical_id.as_str(), function.name.as_str(), function.template.as_str()];
    let hash = content_hash(&recipe, base_image.as_deref(), &identity)?;
    let tag = format!("esb-fn/{}:{hash}", service.trim_start_matches("fn-"));
    Ok(FunctionBuild { function: function.clone(), service, tag, base_image, recipe })
}

/// Returns the compose service name of a function: `fn-` and its logical ID in lower case.
pub fn service_name(logical_id: &str) -> String {
    format!("fn-{}", logical_id.to_ascii_lowercase())
}

fn add_code(files: &mut Vec<ContextFile>, prefix: &str, source: &CodeSource, handler: Option<&String>) -> Result<()> {
    match source {
        CodeSource::Directory(dir) => {
            let before = files.len();
            collect_files(dir, dir, prefix, files)?;
            if files.len() == before {
                bail!("code folder {dir} is empty");
            }
            Ok(())
        }
        CodeSource::Inline(code) => {
            // CloudFormation saves inline Python code as index.py; the handler names the module.
            let module = handler.and_then(|handler| handler.rsplit_once('.')).map(|(module, _)| module).unwrap_or("index");
            files.push(ContextFile { path: format!("{prefix}/{module}.py"), contents: code.clone().into_bytes(), mode: 0o644 });
            Ok(())
        }
        CodeSource::Archive(path) => add_archive(files, prefix, path),
    }
}

/// Adds the files of a `.zip` or `.jar` archive, as Lambda unpacks it into
/// the task root. Entries whose names would leave the folder are rejected.
fn add_archive(files: &mut Vec<ContextFile>, prefix: &str, path: &Utf8Path) -> Result<()> {
    use std::io::Read;
    let file = std::fs::File::open(path).with_context(|| format!("cannot open code archive {path}"))?;
    let mut archive = zip::ZipArchive::new(file).with_context(|| format!("{path} is not a valid zip archive"))?;
    let before = files.len();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).with_context(|| format!("cannot read entry {index} of {path}"))?;
        if entry.is_dir() {
            continue;
        }
        let Some(name) = entry.enclosed_name() else {
            bail!("{path}: entry `{}` points outside the archive's folder", entry.name());
        };
        let name = Utf8PathBuf::from_path_buf(name).map_err(|name| anyhow::anyhow!("{path}: entry {} is not UTF-8", name.display()))?;
        let mode = if entry.unix_mode().is_some_and(|mode| mode & 0o111 != 0) { 0o755 } else { 0o644 };
        let mut contents = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut contents).with_context(|| format!("cannot unpack {name} from {path}"))?;
        files.push(ContextFile { path: format!("{prefix}/{name}"), contents, mode });
    }
    if files.len() == before {
        bail!("code archive {path} has no files");
    }
    Ok(())
}

fn collect_files(root: &Utf8Path, dir: &Utf8Path, prefix: &str, files: &mut Vec<ContextFile>) -> Result<()> {
    let mut entries: Vec<_> = dir
        .read_dir_utf8()
        .with_context(|| format!("cannot read code folder {dir}"))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot read code folder {dir}"))?;
    entries.sort_by(|left, right| left.file_name().cmp(right.file_name()));
    for entry in entries {
        let path = entry.path();
        if matches!(entry.file_name(), "__pycache__" | ".aws-sam" | ".git") {
            continue;
        }
        let metadata = std::fs::metadata(path).with_context(|| format!("cannot read {path}"))?;
        if metadata.is_dir() {
            collect_files(root, path, prefix, files)?;
        } else {
            let relative = path.strip_prefix(root).expect("walk stays below its root");
            let contents = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
            let mode = if std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o111 != 0 { 0o755 } else { 0o644 };
            files.push(ContextFile { path: format!("{prefix}/{relative}"), contents, mode });
        }
    }
    Ok(())
}

/// Hashes everything that makes an image: the base reference, the values of
/// its labels, the generated Dockerfile and every context file, or the user's
/// context folder and build arguments. Returns the first 16 hex digits.
fn content_hash(recipe: &BuildRecipe, base_image: Option<&str>, identity: &[&str]) -> Result<String> {
    let mut hasher = Sha256::new();
    for part in std::iter::once(base_image.unwrap_or("")).chain(identity.iter().copied()) {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    match recipe {
        BuildRecipe::Generated { dockerfile, files } => {
            hasher.update(dockerfile.as_bytes());
            for file in files {
                hash_file(&mut hasher, &file.path, file.mode, &file.contents);
            }
        }
        BuildRecipe::Dockerfile { context, dockerfile, build_args, target } => {
            hasher.update(dockerfile.as_bytes());
            hasher.update(serde_json::to_vec(build_args)?);
            hasher.update(target.as_deref().unwrap_or("").as_bytes());
            let mut files = Vec::new();
            collect_files(context, context, "", &mut files)?;
            for file in files {
                hash_file(&mut hasher, &file.path, file.mode, &file.contents);
            }
        }
    }
    Ok(hex::encode(hasher.finalize())[..16].to_owned())
}

fn hash_file(hasher: &mut Sha256, path: &str, mode: u32, contents: &[u8]) {
    hasher.update(path.as_bytes());
    hasher.update([0]);
    hasher.update(mode.to_le_bytes());
    hasher.update((contents.len() as u64).to_le_bytes());
    hasher.update(contents);
}

/// Builds the images of `plan` that are not present yet, at most `jobs` at a
/// time, and writes the functions manifest into `out_dir`.
pub async fn build(docker: &Docker, plan: &BuildPlan, out_dir: &Utf8Path, jobs: usize) -> Result<FunctionsManifest> {
    let base_ids = resolve_base_images(docker, &plan.builds).await?;
    let step = report::Step::start("build-functions", report::count(plan.builds.len(), "function"));
    let results: Vec<(String, bool)> = futures_util::stream::iter(plan.builds.iter())
        .map(|build| {
            let base_id = build.base_image.as_ref().and_then(|base| base_ids.get(base)).cloned();
            build_one(docker, build, base_id)
        })
        .buffered(jobs.max(1))
        .try_collect()
        .await?;

    let mut functions = Vec::new();
    for (build, (image_id, rebuilt)) in plan.builds.iter().zip(&results) {
        report::line(
            "build-functions",
            format!("{:<24} {} {}", build.function.logical_id, build.tag, if *rebuilt { "built" } else { "unchanged" }),
        );
        functions.push(function_image(build, image_id));
    }
    let manifest = FunctionsManifest { functions };
    manifest::write_json(&out_dir.join(FUNCTIONS_MANIFEST), &manifest)?;
    let built = results.iter().filter(|(_, rebuilt)| *rebuilt).count();
    step.done(format!("{built} built, {} unchanged; manifest {}", results.len() - built, out_dir.join(FUNCTIONS_MANIFEST)));
    Ok(manifest)
}

fn function_image(build: &FunctionBuild, image_id: &str) -> FunctionImage {
    let function = &build.function;
    FunctionImage {
        logical_id: function.logical_id.clone(),
        name: function.name.clone(),
        service: build.service.clone(),
        image: build.tag.clone(),
        image_id: image_id.to_owned(),
        timeout_seconds: function.timeout_seconds,
        memory_mb: function.memory_mb,
        environment: function.environment.clone(),
        routes: function.routes.clone(),
        expected_status: function.expected_status,
        image_config: match &function.package {
            Package::Image { command, entry_point, working_directory, .. }
                if command.is_some() || entry_point.is_some() || working_directory.is_some() =>
            {
                Some(ImageConfig {
                    command: command.clone(),
                    entry_point: entry_point.clone(),
                    working_directory: working_directory.clone(),
                })
            }
            _ => None,
        },
    }
}

/// Returns the image ID of every base image the builds use; fails listing
/// every missing base image with the functions that need it.
async fn resolve_base_images(docker: &Docker, builds: &[FunctionBuild]) -> Result<HashMap<String, String>> {
    let mut users: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for build in builds {
        if let Some(base) = &build.base_image {
            users.entry(base).or_default().push(&build.function.logical_id);
        }
    }
    let mut ids = HashMap::new();
    let mut missing = Vec::new();
    for (base, functions) in users {
        match engine::image_id(docker, base).await? {
            Some(id) => {
                ids.insert(base.to_owned(), id);
            }
            None => missing.push(format!("  `{base}` for {}", functions.join(", "))),
        }
    }
    if !missing.is_empty() {
        bail!(
            "base images not present:\n{}\nhint: load them with `docker load`, or map the runtime to a present image with --base-image RUNTIME=IMAGE",
            missing.join("\n")
        );
    }
    Ok(ids)
}

/// Builds one function image unless an image with its tag exists on the same
/// base image; returns its ID and whether it was built.
async fn build_one(docker: &Docker, build: &FunctionBuild, base_id: Option<String>) -> Result<(String, bool)> {
    if let Some((id, labels)) = engine::image_labels(docker, &build.tag).await? {
        if labels.get(BASE_ID_LABEL) == base_id.as_ref() {
            return Ok((id, false));
        }
        report::line("build-functions", format!("{}: base image changed, rebuilding", build.function.logical_id));
    }
    let function = &build.function;
    let mut labels: HashMap<String, String> = [
        (KIND_LABEL, "function".to_owned()),
        ("com.esb.function", function.logical_id.clone()),
        ("com.esb.function-name", function.name.clone()),
        ("com.esb.template", function.template.to_string()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    if let Some(base_id) = base_id {
        labels.insert(BASE_ID_LABEL.to_owned(), base_id);
    }

    let step = report::Step::start("build-functions", format!("building {} as {}", function.logical_id, build.tag));
    let (spec, context) = match &build.recipe {
        BuildRecipe::Generated { dockerfile, files } => {
            let dockerfile = dockerfile.clone();
            let files = files.clone();
            let context = engine::stream_tar(move |builder| {
                append_bytes(builder, "Dockerfile", dockerfile.as_bytes(), 0o644)?;
                for file in &files {
                    append_bytes(builder, &file.path, &file.contents, file.mode)?;
                }
                Ok(())
            });
            let spec = BuildSpec { tag: build.tag.clone(), dockerfile: "Dockerfile".to_owned(), labels, ..BuildSpec::default() };
            (spec, context)
        }
        BuildRecipe::Dockerfile { context, dockerfile, build_args, target } => {
            let dir = context.clone();
            let stream = engine::stream_tar(move |builder| builder.append_dir_all(".", &dir));
            let spec = BuildSpec {
                tag: build.tag.clone(),
                dockerfile: dockerfile.clone(),
                build_args: build_args.clone().into_iter().collect(),
                labels,
                target: target.clone(),
            };
            (spec, stream)
        }
    };
    let image_id = engine::build_image(docker, &spec, context, &step)
        .await
        .with_context(|| format!("function {} in {}", function.logical_id, function.template))?;
    step.done(format!("built {} ({})", build.tag, short_id(&image_id)));
    Ok((image_id, true))
}

/// Reads a base image table file: `RUNTIME=IMAGE` lines, blank lines and `#` comments.
pub fn read_base_image_file(path: &Utf8Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read base image file {path}"))?;
    parse_base_image_table(&text).with_context(|| format!("invalid base image file {path}"))
}

fn parse_base_image_table(text: &str) -> Result<BTreeMap<String, String>> {
    let mut table = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        match line.split_once('=') {
            Some((runtime, image)) if !runtime.trim().is_empty() && !image.trim().is_empty() => {
                table.insert(runtime.trim().to_owned(), image.trim().to_owned());
            }
            _ => bail!("line {}: expected RUNTIME=IMAGE, found `{line}`", index + 1),
        }
    }
    Ok(table)
}

/// Parses repeated `KEY=VALUE` options into a map.
pub fn parse_pairs(pairs: &[String], option: &str) -> Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
            _ => bail!("{option} `{pair}` is not KEY=VALUE"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_table_overrides() {
        let overrides = parse_pairs(&["python3.11=public.ecr.aws/lambda/python:3.11".to_owned(), "nodejs20.x=node:20".to_owned()], "--base-image").unwrap();
        let table = base_image_table("esb-base/python:3.11-abc", &overrides);
        assert_eq!(table["python3.12"], "esb-base/python:3.11-abc");
        assert_eq!(table["python3.11"], "public.ecr.aws/lambda/python:3.11");
        assert_eq!(table["nodejs20.x"], "node:20");
    }

    #[test]
    fn base_image_file_lines() {
        let table = parse_base_image_table("# site registry\npython3.12 = registry.local/lambda/python:3.12\n\nnodejs20.x=registry.local/node:20 # LTS\n").unwrap();
        assert_eq!(table.len(), 2);
        assert_eq!(table["python3.12"], "registry.local/lambda/python:3.12");
        assert_eq!(table["nodejs20.x"], "registry.local/node:20");

        let error = parse_base_image_table("python3.12\n").unwrap_err().to_string();
        assert!(error.contains("line 1: expected RUNTIME=IMAGE"), "{error}");
    }

    #[test]
    fn parse_pairs_rejects_missing_equals() {
        let error = parse_pairs(&["Stage".to_owned()], "--parameter-overrides").unwrap_err().to_string();
        assert!(error.contains("`Stage` is not KEY=VALUE"), "{error}");
    }

    #[test]
    fn archive_files_unpacked_under_prefix() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::from_path_buf(dir.path().join("code.zip")).unwrap();
        let mut writer = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        writer.add_directory("pkg/", options).unwrap();
        writer.start_file("app.py", options).unwrap();
        writer.write_all(b"def handler(event, context):\n    return event\n").unwrap();
        writer.start_file("pkg/util.py", options.unix_permissions(0o755)).unwrap();
        writer.write_all(b"X = 1\n").unwrap();
        writer.finish().unwrap();

        let mut files = Vec::new();
        add_code(&mut files, "code", &CodeSource::Archive(path), None).unwrap();
        let paths: Vec<&str> = files.iter().map(|file| file.path.as_str()).collect();
        assert_eq!(paths, ["code/app.py", "code/pkg/util.py"]);
        assert_eq!(files[0].contents, b"def handler(event, context):\n    return event\n");
        assert_eq!(files[0].mode, 0o644);
        assert_eq!(files[1].mode, 0o755);
    }

    #[test]
    fn archive_not_zip_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::from_path_buf(dir.path().join("code.zip")).unwrap();
        std::fs::write(&path, b"not a zip").unwrap();
        let error = add_code(&mut Vec::new(), "code", &CodeSource::Archive(path.clone()), None).unwrap_err().to_string();
        assert!(error.contains("is not a valid zip archive"), "{error}");
        assert!(error.contains(path.as_str()), "{error}");
    }

    fn zip_function(code_dir: &Utf8Path, layer_dir: &Utf8Path) -> FunctionSpec {
        FunctionSpec {
            logical_id: "EchoFunction".to_owned(),
            name: "echo".to_owned(),
            template: Utf8PathBuf::from("/stack/template.yaml"),
            package: Package::Zip {
                runtime: "python3.11".to_owned(),
                handler: "app.handler".to_owned(),
                code: CodeSource::Directory(code_dir.to_owned()),
                layers: vec![sam::LayerSpec { logical_id: "Shared".to_owned(), content: CodeSource::Directory(layer_dir.to_owned()) }],
            },
            architecture: "x86_64".to_owned(),
            environment: BTreeMap::new(),
            timeout_seconds: 3,
            memory_mb: 128,
            routes: Vec::new(),
            expected_status: None,
        }
    }

    fn planned_tag(function: &FunctionSpec, base: &str) -> String {
        let table = base_image_table(base, &BTreeMap::new());
        match plan_function(function, &table) {
            Ok(build) => build.tag,
            Err(_) => panic!("planning failed"),
        }
    }

    #[test]
    fn tag_follows_content() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("code")).unwrap();
        std::fs::create_dir_all(root.join("layer/python")).unwrap();
        std::fs::write(root.join("code/app.py"), "def handler(e, c): return 1\n").unwrap();
        std::fs::write(root.join("layer/python/shared.py"), "X = 1\n").unwrap();
        let function = zip_function(&root.join("code"), &root.join("layer"));

        let first = planned_tag(&function, "base:1");
        assert!(first.starts_with("esb-fn/echofunction:"), "{first}");
        assert_eq!(planned_tag(&function, "base:1"), first, "same inputs, same tag");
        assert_ne!(planned_tag(&function, "base:2"), first, "another base image");

        let mut renamed = function.clone();
        renamed.name = "echo-prod".to_owned();
        assert_ne!(planned_tag(&renamed, "base:1"), first, "the function-name label changed");

        std::fs::write(root.join("layer/python/shared.py"), "X = 2\n").unwrap();
        let layer_changed = planned_tag(&function, "base:1");
        assert_ne!(layer_changed, first, "layer content changed");

        std::fs::write(root.join("code/app.py"), "def handler(e, c): return 2\n").unwrap();
        assert_ne!(planned_tag(&function, "base:1"), layer_changed, "code changed");
    }

    #[test]
    fn generated_dockerfile_layers_before_code() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("code")).unwrap();
        std::fs::create_dir_all(root.join("layer/python")).unwrap();
        std::fs::write(root.join("code/app.py"), "pass\n").unwrap();
        std::fs::write(root.join("layer/python/shared.py"), "pass\n").unwrap();
        let function = zip_function(&root.join("code"), &root.join("layer"));
        let Ok(build) = plan_function(&function, &base_image_table("base:1", &BTreeMap::new())) else { panic!("planning failed") };
        let BuildRecipe::Generated { dockerfile, files } = build.recipe else { panic!("expected a generated Dockerfile") };

        assert_eq!(dockerfile, "FROM base:1\nCOPY layers/Shared/ /opt/\nCOPY code/ /var/task/\nCMD [\"app.handler\"]\n");
        let paths: Vec<&str> = files.iter().map(|file| file.path.as_str()).collect();
        assert_eq!(paths, ["layers/Shared/python/shared.py", "code/app.py"]);
    }

    #[test]
    fn case_only_difference_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(dir.path()).unwrap();
        std::fs::write(root.join("app.py"), "pass\n").unwrap();
        let table = base_image_table("base:1", &BTreeMap::new());
        let first = zip_function(root, root);
        let mut second = zip_function(root, root);
        second.logical_id = "ECHOFUNCTION".to_owned();
        let builds: Vec<FunctionBuild> = [first, second]
            .iter()
            .map(|function| match plan_function(function, &table) {
                Ok(build) => build,
                Err(_) => panic!("planning failed"),
            })
            .collect();

        let error = check_unique_services(&builds).unwrap_err().to_string();
        assert!(error.contains("EchoFunction"), "{error}");
        assert!(error.contains("ECHOFUNCTION"), "{error}");
        assert!(error.contains("`fn-echofunction`"), "{error}");
        assert!(check_unique_services(&builds[..1]).is_ok());
    }

    #[test]
    fn unknown_runtime_has_no_base() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(dir.path()).unwrap();
        let mut function = zip_function(root, root);
        if let Package::Zip { runtime, .. } = &mut function.package {
            *runtime = "nodejs20.x".to_owned();
        }
        match plan_function(&function, &base_image_table("base:1", &BTreeMap::new())) {
            Err(PlanError::NoBaseImage(runtime)) => assert_eq!(runtime, "nodejs20.x"),
            _ => panic!("expected a missing base image for nodejs20.x"),
        }
    }

    #[test]
    fn service_name_is_lower_case() {
        assert_eq!(service_name("EchoFunction"), "fn-echofunction");
    }
}
