//! The `orchestrate` binary: parse, run, map the outcome to an exit code.

mod args;
mod calls;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    ExitCode::from(commands::run(cli))
}
