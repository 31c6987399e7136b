//! The command-line grammar of `cargo xtask`: every subcommand and flag, with
//! its help text beside it.

use camino::{Utf8Path, Utf8PathBuf};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// ESB bundle tooling: builds a SAM stack into one offline-bootable
/// Docker-in-Docker image and proves that it boots.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the command line. Paths the user gives are relative to the
    /// current directory; default paths are relative to `root`, so `cargo
    /// xtask` works from any folder of the repository.
    pub fn parse_with_root(root: &Utf8Path) -> Cli {
        let matches = Cli::command().get_matches();
        Cli::from_matches_with_root(&matches, root).unwrap_or_else(|error| error.exit())
    }

    fn from_matches_with_root(matches: &ArgMatches, root: &Utf8Path) -> Result<Cli, clap::Error> {
        let mut cli = Cli::from_arg_matches(matches)?;
        if let Some((_, sub_matches)) = matches.subcommand() {
            cli.command.anchor_default_paths(sub_matches, root);
        }
        Ok(cli)
    }
}

/// Joins `root` to `path` when the user did not give it on the command line.
fn anchor(path: &mut Utf8PathBuf, matches: &ArgMatches, id: &str, root: &Utf8Path) {
    if matches.value_source(id) == Some(ValueSource::DefaultValue) {
        *path = root.join(&*path);
    }
}

impl Command {
    fn anchor_default_paths(&mut self, matches: &ArgMatches, root: &Utf8Path) {
        let anchor_templates = |template: &mut TemplateArgs| {
            if matches.value_source("templates") == Some(ValueSource::DefaultValue) {
                for path in &mut template.templates {
                    *path = root.join(&*path);
                }
            }
        };
        match self {
            Command::BuildFunctions(args) => {
                anchor_templates(&mut args.template);
                anchor(&mut args.out_dir, matches, "out_dir", root);
            }
            Command::CollectImages(args) => {
                anchor(&mut args.compose_file, matches, "compose_file", root);
                anchor(&mut args.out_dir, matches, "out_dir", root);
            }
            Command::Bundle(args) => {
                anchor_templates(&mut args.template);
                anchor(&mut args.compose_file, matches, "compose_file", root);
                anchor(&mut args.out_dir, matches, "out_dir", root);
            }
            Command::Certs(args) => anchor(&mut args.compose_file, matches, "compose_file", root),
            Command::BaseImages(_) | Command::Smoke(_) => {}
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the development root CA, server and client certificates.
    Certs(CertsArgs),
    /// Build the offline base images (DinD, Lambda-style Python) from Debian packages.
    BaseImages(BaseImagesArgs),
    /// Build one image per function of the SAM template.
    BuildFunctions(BuildFunctionsArgs),
    /// Save every image the stack needs into one images.tar with bundle.json beside it.
    CollectImages(CollectImagesArgs),
    /// Build the whole stack into one Docker-in-Docker image.
    Bundle(BundleArgs),
    /// Run a bundle image and check that it boots and serves, then remove it.
    Smoke(SmokeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CertsArgs {
    /// Folder for the PEM files [default: .esb/certs under the repository root].
    #[arg(long, env = "CERT_DIR")]
    pub cert_dir: Option<Utf8PathBuf>,
    /// Extra subject alternative name for the server certificate (DNS name or IP); repeatable,
    /// or comma-separated in ESB_CERT_SANS.
    #[arg(long = "san", value_name = "NAME", env = "ESB_CERT_SANS", value_delimiter = ',')]
    pub sans: Vec<String>,
    /// Compose file whose service names the server certificate carries, when the file exists.
    #[arg(long, default_value = "fixtures/stack/compose.yaml")]
    pub compose_file: Utf8PathBuf,
    /// Key algorithm for newly issued keys.
    #[arg(long, value_enum, default_value_t = KeyAlgorithm::EcdsaP256)]
    pub key_algorithm: KeyAlgorithm,
    /// Validity of a new root CA, in days.
    #[arg(long, default_value_t = 3650)]
    pub ca_days: u32,
    /// Validity of new server and client certificates, in days (at most 825).
    #[arg(long, default_value_t = 825)]
    pub leaf_days: u32,
    /// Replace the root CA; the old one is kept beside it under a dated name.
    #[arg(long)]
    pub force_ca: bool,
    /// Only check the existing certificates: print each one and exit non-zero if any is invalid.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyAlgorithm {
    EcdsaP256,
    Rsa2048,
}

#[derive(Debug, Clone, Args)]
pub struct BaseImagesArgs {
    #[command(flatten)]
    pub recipe: BaseRecipeArgs,
    /// Rebuild even when an image of the same recipe exists.
    #[arg(long)]
    pub force: bool,
}

/// Source of the offline base images: the Debian mirror and suite.
#[derive(Debug, Clone, Args)]
pub struct BaseRecipeArgs {
    /// Debian mirror for debootstrap [default: the first Debian URI in the host's apt sources].
    #[arg(long, env = "ESB_DEBIAN_MIRROR")]
    pub mirror: Option<String>,
    /// Debian suite the base images are made from.
    #[arg(long, default_value = "bookworm")]
    pub suite: String,
}

#[derive(Debug, Clone, Args)]
pub struct TemplateArgs {
    /// SAM template to read; repeat for several templates.
    #[arg(long = "template", value_name = "FILE", default_value = "fixtures/template.yaml")]
    pub templates: Vec<Utf8PathBuf>,
    /// Template parameter value, as KEY=VALUE; repeatable.
    #[arg(long = "parameter-overrides", value_name = "KEY=VALUE")]
    pub parameter_overrides: Vec<String>,
    /// Base image for a runtime, as RUNTIME=IMAGE; repeatable. Overrides the built-in table.
    #[arg(long = "base-image", value_name = "RUNTIME=IMAGE")]
    pub base_images: Vec<String>,
    /// File of base images, one RUNTIME=IMAGE per line (`#` starts a comment); --base-image entries win over it.
    #[arg(long, value_name = "FILE")]
    pub base_image_file: Option<Utf8PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct BuildFunctionsArgs {
    #[command(flatten)]
    pub template: TemplateArgs,
    #[command(flatten)]
    pub recipe: BaseRecipeArgs,
    /// Print the resolved build plan as JSON on stdout and exit without touching Docker.
    #[arg(long)]
    pub plan: bool,
    /// Number of function images built at the same time.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Output folder for the functions manifest.
    #[arg(long, default_value = "target/esb")]
    pub out_dir: Utf8PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct CollectImagesArgs {
    #[command(flatten)]
    pub recipe: BaseRecipeArgs,
    /// The stack's compose file.
    #[arg(long, default_value = "fixtures/stack/compose.yaml")]
    pub compose_file: Utf8PathBuf,
    /// Extra image reference to include; repeatable.
    #[arg(long = "extra-image", value_name = "IMAGE")]
    pub extra_images: Vec<String>,
    /// Output folder for images.tar, bundle.json and the functions manifest.
    #[arg(long, default_value = "target/esb")]
    pub out_dir: Utf8PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct BundleArgs {
    #[command(flatten)]
    pub template: TemplateArgs,
    #[command(flatten)]
    pub recipe: BaseRecipeArgs,
    /// Number of function images built at the same time.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// The stack's compose file.
    #[arg(long, default_value = "fixtures/stack/compose.yaml")]
    pub compose_file: Utf8PathBuf,
    /// Extra image reference to carry in the bundle; repeatable.
    #[arg(long = "extra-image", value_name = "IMAGE")]
    pub extra_images: Vec<String>,
    /// Tag of the bundle image.
    #[arg(long, default_value = "esb-bundle:latest")]
    pub tag: String,
    /// Folder of the certificates [default: .esb/certs under the repository root].
    #[arg(long, env = "CERT_DIR")]
    pub cert_dir: Option<Utf8PathBuf>,
    /// Extra subject alternative name for the server certificate, beside the stack's service
    /// names; repeatable, or comma-separated in ESB_CERT_SANS.
    #[arg(long = "san", value_name = "NAME", env = "ESB_CERT_SANS", value_delimiter = ',')]
    pub sans: Vec<String>,
    /// Owner of the certificate files inside the bundle, as numeric UID:GID, for
    /// services that do not run as root.
    #[arg(long, default_value = "0:0", value_name = "UID:GID")]
    pub cert_owner: String,
    /// Base image of the bundle [default: the offline DinD base that `base-images` builds].
    #[arg(long)]
    pub dind_base: Option<String>,
    /// Working folder for images.tar, bundle.json and the build context.
    #[arg(long, default_value = "target/esb")]
    pub out_dir: Utf8PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct SmokeArgs {
    /// Bundle image to run.
    #[arg(long, default_value = "esb-bundle:latest")]
    pub image: String,
    /// Folder of the certificates the bundle was built with [default: .esb/certs under the repository root].
    #[arg(long, env = "CERT_DIR")]
    pub cert_dir: Option<Utf8PathBuf>,
    /// Seconds to wait for the bundle to turn healthy.
    #[arg(long, default_value_t = 300)]
    pub boot_timeout: u64,
    /// Print the report as JSON on stdout as well.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        let matches = Cli::command().try_get_matches_from(args).unwrap();
        Cli::from_matches_with_root(&matches, Utf8Path::new("/repo")).unwrap()
    }

    #[test]
    fn default_paths_anchored_at_root() {
        let Command::Bundle(args) = parse(&["xtask", "bundle"]).command else { panic!("expected bundle") };
        assert_eq!(args.template.templates, [Utf8PathBuf::from("/repo/fixtures/template.yaml")]);
        assert_eq!(args.compose_file, "/repo/fixtures/stack/compose.yaml");
        assert_eq!(args.out_dir, "/repo/target/esb");
    }

    #[test]
    fn given_paths_kept_as_given() {
        let cli = parse(&["xtask", "bundle", "--template", "my/template.yaml", "--compose-file", "stack.yaml", "--out-dir", "out"]);
        let Command::Bundle(args) = cli.command else { panic!("expected bundle") };
        assert_eq!(args.template.templates, [Utf8PathBuf::from("my/template.yaml")]);
        assert_eq!(args.compose_file, "stack.yaml");
        assert_eq!(args.out_dir, "out");
    }

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }
}
