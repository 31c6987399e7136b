//! ESB bundle tooling. Each subcommand of `cargo xtask` is one module whose
//! `run` function reads as a short list of steps. The plans those steps follow
//! are plain data built by pure functions, tested without Docker.

pub mod base_images;
pub mod build_functions;
pub mod bundle;
pub mod certs;
pub mod collect_images;
pub mod compose;
pub mod engine;
pub mod flags;
pub mod manifest;
pub mod project;
pub mod report;
pub mod sam;
pub mod scan;
pub mod smoke;
pub mod tls;
