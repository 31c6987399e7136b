use std::process::ExitCode;

use clap::Parser;
use xtask::flags::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Certs(args) => xtask::certs::run(args),
        _ => Err(anyhow::anyhow!("FIXME: not written yet")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
