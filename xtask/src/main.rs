use std::process::ExitCode;

use anyhow::Result;
use xtask::flags::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse_with_root(&xtask::project::root());
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", xtask::report::format_error(&error));
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    match command {
        Command::Certs(args) => xtask::certs::run(&args),
        Command::BaseImages(args) => runtime.block_on(xtask::base_images::run(&args)),
        Command::BuildFunctions(args) => runtime.block_on(xtask::build_functions::run(&args)),
        Command::CollectImages(args) => runtime.block_on(xtask::collect_images::run(&args)),
        Command::Bundle(args) => runtime.block_on(xtask::bundle::run(&args)),
        Command::Smoke(args) => runtime.block_on(xtask::smoke::run(&args)),
    }
}
