//! Benchmark of `build-functions` on a generated stack of Python zip
//! functions that share one layer. It prints three figures on stdout: a cold
//! build, a rebuild with nothing changed, and a rebuild after one function's
//! code changed. Each figure is the wall time of planning plus building, with
//! the number of images built and left unchanged.
//!
//! Run it with `cargo bench -p xtask --bench build_functions`, after
//! `cargo xtask base-images`. The benchmark never builds base images itself,
//! because that needs root and a Debian mirror. It removes the function images
//! it built when it ends, unless `--keep` is given.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::time::{Instant, SystemTime};

use anyhow::{bail, Context, Result};
use bollard::errors::Error as DockerError;
use bollard::query_parameters::RemoveImageOptions;
use bollard::Docker;
use camino::{Utf8Path, Utf8PathBuf};
use clap::Parser;
use xtask::base_images;
use xtask::build_functions::{self, BuildPlan};
use xtask::engine;
use xtask::flags::{BaseRecipeArgs, TemplateArgs};

/// Builds a generated stack of Python functions three times and prints how long each build took.
#[derive(Debug, Parser)]
#[command(name = "build_functions")]
struct BenchArgs {
    /// Number of generated functions.
    #[arg(long, default_value_t = 100)]
    functions: usize,
    /// Number of function images built at the same time, as `build-functions --jobs`.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
    /// Keep the function images this run built instead of removing them at the end.
    #[arg(long)]
    keep: bool,
    /// Set by `cargo bench` for every benchmark target, and ignored here.
    #[arg(long, hide = true)]
    bench: bool,
}

/// One measured build: wall time and what the build did.
struct Figure {
    label: &'static str,
    seconds: f64,
    built: usize,
    unchanged: usize,
}

fn main() -> std::process::ExitCode {
    let args = BenchArgs::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("Error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: &BenchArgs) -> Result<()> {
    if args.functions == 0 {
        bail!("invalid --functions 0: the stack needs at least one function");
    }
    let docker = engine::connect().await?;
    let python_base = present_python_base(&docker).await?;

    // The folder is deleted when `temp_dir` is dropped at the end of this function.
    let temp_dir = tempfile::tempdir().context("cannot create a temporary folder for the generated stack")?;
    let work_dir = Utf8Path::from_path(temp_dir.path()).context("the temporary folder's path is not UTF-8")?.to_owned();
    let run_id = random_run_id();
    let template = write_stack(&work_dir, args.functions, &run_id)?;
    eprintln!("[bench] run {run_id}: {} functions in {template}", args.functions);

    // Every tag this run created, so that cleanup removes those and nothing else.
    let mut own_tags = BTreeSet::new();
    let measured = measure_all(&docker, args, &work_dir, &template, &python_base, &mut own_tags).await;

    if args.keep {
        eprintln!("[bench] --keep: leaving {} function images in place", own_tags.len());
    } else {
        remove_images(&docker, &own_tags).await?;
    }
    let figures = measured?;

    let cores = std::thread::available_parallelism().map(|cores| cores.get()).unwrap_or(0);
    println!("build-functions benchmark: {} Python zip functions, one shared layer, --jobs {}", args.functions, args.jobs);
    println!("cores available: {cores}");
    for figure in &figures {
        println!(
            "{:<26} {:>8.2} s   built {:>3}, unchanged {:>3}",
            figure.label, figure.seconds, figure.built, figure.unchanged
        );
    }
    Ok(())
}

/// Returns the tag of the offline Python base when the engine has it.
async fn present_python_base(docker: &Docker) -> Result<String> {
    let recipe = BaseRecipeArgs { mirror: None, suite: "bookworm".to_owned() };
    let python = base_images::planned(&recipe)?.python;
    if engine::image_id(docker, &python).await?.is_none() {
        bail!("the Python base image `{python}` is not present\nhint: run `cargo xtask base-images` first");
    }
    Ok(python)
}

/// Takes the three figures in order. The first function's code is changed
/// between the second and the third.
async fn measure_all(
    docker: &Docker,
    args: &BenchArgs,
    work_dir: &Utf8Path,
    template: &Utf8Path,
    python_base: &str,
    own_tags: &mut BTreeSet<String>,
) -> Result<Vec<Figure>> {
    let template_args = TemplateArgs { templates: vec![template.to_owned()], parameter_overrides: Vec::new(), base_images: Vec::new(), base_image_file: None };
    let out_dir = work_dir.join("out");
    let mut figures = Vec::new();

    let (image_ids, tags) = snapshot(docker, &template_args, python_base).await?;
    let present: Vec<&String> = tags.iter().filter(|tag| image_ids[*tag].is_some()).collect();
    if !present.is_empty() {
        bail!(
            "{} images of the generated stack exist before the cold build, such as `{}`, so the build would not be cold\nhint: run the benchmark again, which picks a new run ID",
            present.len(),
            present[0]
        );
    }
    figures.push(measure(docker, "cold build", &template_args, python_base, &out_dir, args.jobs, own_tags).await?);
    figures.push(measure(docker, "rebuild, nothing changed", &template_args, python_base, &out_dir, args.jobs, own_tags).await?);

    let handler = work_dir.join(format!("functions/{}/app.py", function_folder(0)));
    let mut code = std::fs::read_to_string(&handler).with_context(|| format!("cannot read {handler}"))?;
    code.push_str("\n# changed by the benchmark before the last rebuild\n");
    std::fs::write(&handler, code).with_context(|| format!("cannot write {handler}"))?;
    figures.push(measure(docker, "rebuild, one changed", &template_args, python_base, &out_dir, args.jobs, own_tags).await?);

    Ok(figures)
}

/// Plans and builds once, timing both. A function counts as built when its
/// tag did not exist before or now names another image.
async fn measure(
    docker: &Docker,
    label: &'static str,
    template_args: &TemplateArgs,
    python_base: &str,
    out_dir: &Utf8Path,
    jobs: usize,
    own_tags: &mut BTreeSet<String>,
) -> Result<Figure> {
    // The tags are known before the timed build, so that a failed build still has its partial images cleaned up.
    let (before, tags) = snapshot(docker, template_args, python_base).await?;
    own_tags.extend(tags.into_iter().filter(|tag| before[tag].is_none()));

    eprintln!("[bench] {label}");
    let started = Instant::now();
    let plan = build_functions::plan(template_args, python_base)?;
    let manifest = build_functions::build(docker, &plan, out_dir, jobs).await?;
    let seconds = started.elapsed().as_secs_f64();

    let built = manifest
        .functions
        .iter()
        .filter(|function| before.get(&function.image).and_then(Option::as_ref) != Some(&function.image_id))
        .count();
    Ok(Figure { label, seconds, built, unchanged: manifest.functions.len() - built })
}

/// Plans the stack and returns, for each planned tag, the image ID the engine
/// has for it now, with the tags in plan order.
async fn snapshot(docker: &Docker, template_args: &TemplateArgs, python_base: &str) -> Result<(HashMap<String, Option<String>>, Vec<String>)> {
    let plan: BuildPlan = build_functions::plan(template_args, python_base)?;
    let mut image_ids = HashMap::new();
    let mut tags = Vec::new();
    for build in &plan.builds {
        image_ids.insert(build.tag.clone(), engine::image_id(docker, &build.tag).await?);
        tags.push(build.tag.clone());
    }
    Ok((image_ids, tags))
}

/// Removes the given tags. Removal is never forced, so an image that a
/// container still uses stays and is reported.
async fn remove_images(docker: &Docker, tags: &BTreeSet<String>) -> Result<()> {
    let mut failed = Vec::new();
    for tag in tags {
        match docker.remove_image(tag, Some(RemoveImageOptions::default()), None).await {
            Ok(_) | Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => {}
            Err(error) => failed.push(format!("  {tag}: {error}")),
        }
    }
    if !failed.is_empty() {
        bail!("cannot remove {} of the benchmark's images:\n{}", failed.len(), failed.join("\n"));
    }
    eprintln!("[bench] removed {} function images", tags.len());
    Ok(())
}

/// Returns 16 hex digits that differ between runs. They go into every
/// generated file, so each run's content-hashed tags are new.
fn random_run_id() -> String {
    let hash = RandomState::new().hash_one((SystemTime::now(), std::process::id()));
    format!("{hash:016x}")
}

fn function_folder(index: usize) -> String {
    format!("f{index:03}")
}

/// Writes the template, the shared layer and one handler per function under
/// `dir`, and returns the template's path.
fn write_stack(dir: &Utf8Path, functions: usize, run_id: &str) -> Result<Utf8PathBuf> {
    let mut template = String::from(
        "AWSTemplateFormatVersion: '2010-09-09'\n\
         Transform: AWS::Serverless-2016-10-31\n\
         Description: Generated by the build_functions benchmark.\n\
         Globals:\n  Function:\n    Runtime: python3.11\n    Layers:\n      - !Ref SharedLayer\n\
         Resources:\n  SharedLayer:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      \
         ContentUri: layers/shared/\n      CompatibleRuntimes:\n        - python3.11\n",
    );
    // The run ID is in the layer too, so that the engine's build cache contains no
    // step of an earlier run and the first build is cold.
    write_file(
        &dir.join("layers/shared/python/bench_shared.py"),
        &format!("RUN_ID = \"{run_id}\"\n\n\ndef greeting(name):\n    return f\"hello from {{name}}\"\n"),
    )?;

    for index in 0..functions {
        let folder = function_folder(index);
        template.push_str(&format!(
            "  BenchFunction{index:03}:\n    Type: AWS::Serverless::Function\n    Properties:\n      \
             CodeUri: functions/{folder}/\n      Handler: app.handler\n      Events:\n        Get:\n          \
             Type: Api\n          Properties:\n            Path: /{folder}\n            Method: get\n"
        ));
        write_file(
            &dir.join(format!("functions/{folder}/app.py")),
            &format!(
                "# benchmark run {run_id}\nimport bench_shared\n\n\ndef handler(event, context):\n    \
                 return {{\"statusCode\": 200, \"body\": bench_shared.greeting(\"{folder}\")}}\n"
            ),
        )?;
    }

    let path = dir.join("template.yaml");
    write_file(&path, &template)?;
    Ok(path)
}

fn write_file(path: &Utf8Path, contents: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {parent}"))?;
    }
    std::fs::write(path, contents).with_context(|| format!("cannot write {path}"))
}
