//! ESB bundle tooling. Each subcommand of `cargo xtask` is one module whose
//! `run` function reads as a short list of steps; the plans those steps follow
//! are plain data built by pure functions, tested without Docker.

pub mod certs;
pub mod flags;
pub mod project;
pub mod sam;
