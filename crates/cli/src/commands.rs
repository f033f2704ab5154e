//! One module per command group; `run` dispatches a parsed command line to them.

mod account;
mod addresses;
mod cart;
mod catalog;
mod checkout;
mod delivery;
mod inventory;
mod notifications;
mod orders;
mod rider;
mod shipments;

use anyhow::Result;

use crate::cli::Command;
use crate::session::Context;

/// Runs one command (completions are handled before, without a config).
pub async fn run(ctx: &mut Context, command: Command) -> Result<()> {
    ctx.refresh_if_needed().await?;
    match command {
        Command::Register(args) => account::register(ctx, args).await,
        Command::Login(args) => account::login(ctx, args).await,
        Command::Logout => account::logout(ctx).await,
        Command::Whoami => account::whoami(ctx).await,
        Command::Catalog(command) => catalog::run(ctx, command).await,
        Command::Cart(command) => cart::run(ctx, command).await,
        Command::Addresses(command) => addresses::run(ctx, command).await,
        Command::Checkout(args) => checkout::run(ctx, args).await,
        Command::Orders(command) => orders::run(ctx, command).await,
        Command::Inventory(command) => inventory::run(ctx, command).await,
        Command::Notifications(command) => notifications::run(ctx, command).await,
        Command::Delivery(command) => delivery::run(ctx, command).await,
        Command::Rider(command) => rider::run(ctx, command).await,
        Command::Completions { .. } => Ok(()),
    }
}
