//! The `orchestrate` binary: parse, run, map the outcome to an exit code.

mod args;
mod calls;
mod commands;
mod document;
mod output;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    match args::Cli::try_parse() {
        Ok(cli) => ExitCode::from(commands::run(cli)),
        Err(err) => ExitCode::from(commands::usage_error(&err)),
    }
}
