//! `cargo xtask collect-images`: every image the stack needs, saved into one
//! `images.tar` (shared layers once) with `bundle.json` beside it.

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Context, Result};
use bollard::Docker;
use camino::Utf8Path;

use crate::base_images::short_id;
use crate::compose::{ComposeFile, ServiceBuild};
use crate::engine::{self, BuildSpec};
use crate::flags::CollectImagesArgs;
use crate::manifest::{self, BundleManifest, BundledImage, FunctionsManifest, ImageSource, BUNDLE_MANIFEST, FUNCTIONS_MANIFEST};
use crate::{base_images, compose, project, report};

pub const IMAGES_ARCHIVE: &str = "images.tar";

/// Variables the stack's compose file may use, beside the environment's:
/// `ESB_PYTHON_BASE` names the offline Python base for services built here.
pub fn compose_variables(python_base: &str) -> BTreeMap<String, String> {
    let mut variables: BTreeMap<String, String> = std::env::vars().collect();
    variables.entry("ESB_PYTHON_BASE".to_owned()).or_insert_with(|| python_base.to_owned());
    variables
}

pub async fn run(args: &CollectImagesArgs) -> Result<()> {
    let docker = engine::connect().await?;
    let out_dir = project::absolute(&args.out_dir)?;
    let bases = base_images::planned(&args.recipe)?;
    let compose = compose::load(&project::absolute(&args.compose_file)?, &compose_variables(&bases.python))?;
    let functions: FunctionsManifest = manifest::read_json(&out_dir.join(FUNCTIONS_MANIFEST))
        .context("run `cargo xtask build-functions` first: collect-images takes the function images from its manifest")?;
    collect(&docker, &compose, &functions, &args.extra_images, &out_dir).await?;
    println!("{}", out_dir.join(IMAGES_ARCHIVE));
    Ok(())
}

/// Returns the images to save, each once, with every place that names it.
pub fn required_images(compose: &ComposeFile, functions: &FunctionsManifest, extras: &[String]) -> Vec<(String, Vec<ImageSource>)> {
    let mut order: Vec<String> = Vec::new();
    let mut sources: HashMap<String, Vec<ImageSource>> = HashMap::new();
    let mut add = |reference: &str, source: ImageSource| {
        if !sources.contains_key(reference) {
            order.push(reference.to_owned());
        }
        sources.entry(reference.to_owned()).or_default().push(source);
    };
    for service in &compose.services {
        add(&service.image, ImageSource::Service(service.name.clone()));
    }
    for function in &functions.functions {
        add(&function.image, ImageSource::Function(function.logical_id.clone()));
    }
    for extra in extras {
        add(extra, ImageSource::Extra(extra.clone()));
    }
    order.into_iter().map(|reference| {
        let sources = sources.remove(&reference).unwrap_or_default();
        (reference, sources)
    }).collect()
}

/// Fails, listing all of them, when images that nothing here builds (services
/// without `build`, extras) are missing; run before any long step.
pub async fn check_prebuilt_present(docker: &Docker, compose: &ComposeFile, extras: &[String]) -> Result<()> {
    let mut missing = Vec::new();
    for service in compose.services.iter().filter(|service| service.build.is_none()) {
        if engine::image_id(docker, &service.image).await?.is_none() {
            missing.push(format!("  `{}` named by service `{}` in {}", service.image, service.name, compose.path));
        }
    }
    for extra in extras {
        if engine::image_id(docker, extra).await?.is_none() {
            missing.push(format!("  `{extra}` named by --extra-image"));
        }
    }
    report_missing(&missing)
}

fn report_missing(missing: &[String]) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    bail!(
        "collect-images: {} not present:\n{}\nhint: build them first (`cargo xtask build-functions` for functions), or load them with `docker load`; nothing can be pulled on an offline host",
        if missing.len() == 1 { "1 image is".to_owned() } else { format!("{} images are", missing.len()) },
        missing.join("\n")
    )
}

/// Builds the compose services that declare `build`, checks that every other
/// image is present (reporting all missing ones at once), then exports them.
pub async fn collect(
    docker: &Docker,
    compose: &ComposeFile,
    functions: &FunctionsManifest,
    extras: &[String],
    out_dir: &Utf8Path,
) -> Result<BundleManifest> {
    for service in &compose.services {
        if let Some(build) = &service.build {
            build_service(docker, &service.name, &service.image, build).await?;
        }
    }

    let required = required_images(compose, functions, extras);
    let mut missing = Vec::new();
    let mut images = Vec::new();
    for (reference, sources) in &required {
        match engine::image_id(docker, reference).await? {
            Some(id) => {
                let size = engine::image_size(docker, reference).await?;
                images.push(BundledImage { reference: reference.clone(), id, size, sources: sources.clone() });
            }
            None => missing.push(format!("  `{reference}` named by {}", describe_sources(sources, &compose.path))),
        }
    }
    report_missing(&missing)?;

    std::fs::create_dir_all(out_dir).with_context(|| format!("cannot create {out_dir}"))?;
    let total: u64 = images.iter().map(|image| image.size).sum();
    let archive = out_dir.join(IMAGES_ARCHIVE);
    let step = report::Step::start(
        "collect-images",
        format!("saving {} ({} before layer sharing) into {archive}", report::count(images.len(), "image"), report::format_bytes(total)),
    );
    let references: Vec<String> = images.iter().map(|image| image.reference.clone()).collect();
    let archive_size = engine::export_images(docker, &references, &archive, total).await?;
    let bundle = BundleManifest { images, archive_size };
    manifest::write_json(&out_dir.join(BUNDLE_MANIFEST), &bundle)?;
    step.done(format!("saved {}, {} in {archive}", report::count(bundle.images.len(), "image"), report::format_bytes(archive_size)));
    Ok(bundle)
}

fn describe_sources(sources: &[ImageSource], compose_path: &Utf8Path) -> String {
    let parts: Vec<String> = sources
        .iter()
        .map(|source| match source {
            ImageSource::Service(name) => format!("service `{name}` in {compose_path}"),
            ImageSource::Function(name) => format!("function `{name}` in the functions manifest"),
            ImageSource::Extra(_) => "--extra-image".to_owned(),
        })
        .collect();
    parts.join(", ")
}

async fn build_service(docker: &Docker, name: &str, image: &str, build: &ServiceBuild) -> Result<()> {
    if !build.context.exists() {
        bail!("service `{name}`: build context {} not found\nhint: a relative `build.context` is resolved against the compose file's folder", build.context);
    }
    if !build.context.is_dir() {
        bail!("service `{name}`: build context {} is not a folder", build.context);
    }
    let step = report::Step::start("collect-images", format!("building service `{name}` as {image} from {}", build.context));
    let dir = build.context.clone();
    let context = engine::stream_tar(move |builder| builder.append_dir_all(".", &dir));
    let spec = BuildSpec {
        tag: image.to_owned(),
        dockerfile: build.dockerfile.clone(),
        build_args: build.args.clone().into_iter().collect(),
        labels: [("com.esb.kind".to_owned(), "service".to_owned()), ("com.esb.service".to_owned(), name.to_owned())].into(),
        target: None,
    };
    let image_id = engine::build_image(docker, &spec, context, &step).await.with_context(|| format!("service `{name}`"))?;
    step.done(format!("built {image} ({})", short_id(&image_id)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::FunctionImage;

    fn function(logical_id: &str, image: &str) -> FunctionImage {
        FunctionImage {
            logical_id: logical_id.to_owned(),
            name: logical_id.to_owned(),
            service: format!("fn-{}", logical_id.to_lowercase()),
            image: image.to_owned(),
            image_id: "sha256:1".to_owned(),
            timeout_seconds: 3,
            memory_mb: 128,
            environment: BTreeMap::new(),
            routes: Vec::new(),
            expected_status: None,
            image_config: None,
        }
    }

    #[test]
    fn required_images_once_with_all_sources() {
        let compose = compose::parse(
            Utf8Path::new("compose.yaml"),
            "services:\n  gateway:\n    image: gw:1\n  worker:\n    image: shared:1\n",
            &BTreeMap::new(),
        )
        .unwrap();
        let functions = FunctionsManifest { functions: vec![function("Echo", "fn/echo:1"), function("Other", "shared:1")] };
        let required = required_images(&compose, &functions, &["extra:1".to_owned(), "gw:1".to_owned()]);

        let references: Vec<&str> = required.iter().map(|(reference, _)| reference.as_str()).collect();
        assert_eq!(references, ["gw:1", "shared:1", "fn/echo:1", "extra:1"]);
        assert_eq!(required[0].1, [ImageSource::Service("gateway".into()), ImageSource::Extra("gw:1".into())]);
        assert_eq!(required[1].1, [ImageSource::Service("worker".into()), ImageSource::Function("Other".into())]);
    }
}
