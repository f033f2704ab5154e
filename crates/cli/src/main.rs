//! mandi: the command line of the marketplace, for shoppers (catalog, cart, checkout,
//! orders) and operators (stock, order status). It talks to the services only through
//! `mandi-sdk`, like any other client.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod config;
mod exit;
mod money;
mod output;
mod session;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command};
use crate::exit::{CliError, Exit};
use crate::session::Context;

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with 2.
    let cli = Cli::parse();
    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(shell, &mut Cli::command(), "mandi", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return report(&anyhow::Error::new(e).context("cannot start the async runtime")),
    };
    let result = runtime.block_on(async {
        let mut ctx = Context::new(&cli.global)?;
        commands::run(&mut ctx, cli.command).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(&error),
    }
}

/// Prints the error as one readable message and returns its exit code.
fn report(error: &anyhow::Error) -> ExitCode {
    let exit = match error.chain().find_map(|e| e.downcast_ref::<CliError>()) {
        Some(cli) => {
            eprintln!("error: {}", cli.message);
            cli.exit
        }
        None => {
            eprintln!("error: {error:#}");
            Exit::Other
        }
    };
    ExitCode::from(exit as u8)
}
