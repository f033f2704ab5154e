//! The command line grammar: every subcommand, flag and their help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod delivery;
pub use delivery::*;

/// The endpoint of `make run` (`mandi-server --target=all`).
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:50051";

const AFTER_HELP: &str = "\
Configuration: flags win over environment variables (MANDI_ENDPOINT, MANDI_TOKEN,
MANDI_CONFIG), which win over the config file ($XDG_CONFIG_HOME/mandi/config.toml, else
~/.config/mandi/config.toml; written with 0600 permissions). `mandi login` keeps the
session there.

Exit codes:
  0  success
  1  any other error (the server failed, the config file is unreadable, ...)
  2  usage: a bad flag, argument or missing password
  3  not logged in, session expired, or not allowed (UNAUTHENTICATED, PERMISSION_DENIED)
  4  not found (NOT_FOUND)
  5  refused: invalid input, failed precondition, conflict, declined or failed checkout
  6  the server is unavailable or did not answer in time";

const RIDER_HELP: &str = "\
Riders log in with an account an admin registered with `mandi rider add` (which gives it the
delivery role; log in again afterwards). `location` and `status` need your rider id, which
riders cannot look up by account: it is taken from a shipment assigned to you, or given once
with --rider <id> (or MANDI_RIDER) before your first shipment; either way it is remembered
with your session until you log out. Shipments are named by id or tracking code.";

/// mandi: shop for fresh produce and run the marketplace from the terminal.
#[derive(Debug, Parser)]
#[command(name = "mandi", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The mandi server's gRPC URL [default: the config file's `endpoint`, else
    /// http://127.0.0.1:50051].
    #[arg(long, global = true, env = "MANDI_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,
    /// An access token to send instead of the logged-in session's.
    #[arg(
        long,
        global = true,
        env = "MANDI_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// How to print results: readable columns, or JSON for scripts.
    #[arg(long, short, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// The config file to use instead of the default one.
    #[arg(long, global = true, env = "MANDI_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
}

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Readable columns.
    Table,
    /// The protobuf messages as JSON (proto field names, enums by name).
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an account.
    Register(RegisterArgs),
    /// Sign in and keep the session in the config file; merges a guest cart.
    Login(LoginArgs),
    /// Sign out: revoke the session and forget it.
    Logout,
    /// Show the signed-in account.
    Whoami,
    /// Browse the catalog.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Your cart (a guest cart until you log in).
    #[command(subcommand)]
    Cart(CartCommand),
    /// Your saved delivery addresses.
    #[command(subcommand)]
    Addresses(AddressCommand),
    /// Check out your cart and follow the order being placed.
    Checkout(CheckoutArgs),
    /// Your orders; admins see and move every order.
    #[command(subcommand)]
    Orders(OrdersCommand),
    /// Stock in the warehouses (admins and vendors).
    #[command(subcommand)]
    Inventory(InventoryCommand),
    /// Messages mandi sent you (admins: anyone's).
    #[command(subcommand)]
    Notifications(NotificationsCommand),
    /// Delivery slots, quotes and live tracking of your deliveries.
    #[command(subcommand)]
    Delivery(DeliveryCommand),
    /// A rider's work: shipments, accepting, location, pickup and delivery.
    #[command(subcommand, after_help = RIDER_HELP)]
    Rider(RiderCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

/// How the password is given. Without either flag the password is asked for on the terminal.
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Your full name.
    #[arg(long)]
    pub name: String,
    /// Your email address.
    #[arg(long)]
    pub email: String,
    /// Register as a vendor who sells produce instead of a shopper.
    #[arg(long)]
    pub vendor: bool,
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Your email address.
    #[arg(long)]
    pub email: String,
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Full-text search over products on sale (typos are fine).
    Search {
        /// What to look for, e.g. "mango" or "organic bananna".
        query: String,
        /// Most products to show.
        #[arg(long, default_value_t = 20)]
        limit: i32,
    },
    /// Show one product by id or slug.
    Get {
        /// A product id or slug, e.g. `alphonso-mango`.
        product: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CartCommand {
    /// Add a product: QUANTITY counts units for count-priced products and grams for
    /// weight-priced ones; `1.5kg` and `500g` work for weight-priced products.
    Add {
        /// A product id or slug.
        product: String,
        /// How much, e.g. `2`, `500g`, `1.5kg`.
        #[arg(allow_hyphen_values = true)]
        quantity: String,
    },
    /// Show the cart with its totals.
    Show,
    /// Remove a product from the cart.
    Remove {
        /// A product id or slug.
        product: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AddressCommand {
    /// List your addresses, the default first.
    List,
    /// Save an address; the first one becomes the default.
    Add(Box<AddAddressArgs>),
}

#[derive(Debug, Args)]
pub struct AddAddressArgs {
    /// A short label, e.g. Home.
    #[arg(long, default_value = "Home")]
    pub label: String,
    /// Street line: house number, street.
    #[arg(long)]
    pub line1: String,
    /// Apartment, landmark.
    #[arg(long, default_value = "")]
    pub line2: String,
    /// City or town.
    #[arg(long)]
    pub city: String,
    /// State or region.
    #[arg(long, default_value = "")]
    pub region: String,
    /// Postal code in the country's format.
    #[arg(long)]
    pub postal_code: String,
    /// ISO country code.
    #[arg(long, default_value = "IN")]
    pub country: String,
    /// Who receives deliveries here [default: your name].
    #[arg(long, default_value = "")]
    pub recipient: String,
    /// The recipient's phone in E.164 form, e.g. +919812345678.
    #[arg(long, default_value = "")]
    pub phone: String,
    /// Make it the default address.
    #[arg(long)]
    pub default: bool,
}

#[derive(Debug, Args)]
pub struct CheckoutArgs {
    /// Id of one of your saved addresses [default: your default address].
    #[arg(long)]
    pub address: Option<String>,
    /// Id of a delivery slot, when the server books slots.
    #[arg(long)]
    pub slot: Option<String>,
    /// Pay by card: the card number (sandbox test cards in the README).
    #[arg(
        long,
        requires = "exp",
        conflicts_with = "cod",
        required_unless_present = "cod"
    )]
    pub card: Option<String>,
    /// The card's expiry, MM/YY.
    #[arg(long, requires = "card")]
    pub exp: Option<String>,
    /// Pay cash on delivery.
    #[arg(long)]
    pub cod: bool,
}

/// Notifications subcommands.
#[derive(Debug, Subcommand)]
pub enum NotificationsCommand {
    /// List notifications, newest first.
    List {
        /// Only this template (for example `order_placed`, `payment_confirmed`).
        #[arg(long, default_value = "")]
        template: String,
        /// Another user's notifications (admins only).
        #[arg(long, default_value = "")]
        user: String,
        /// Most notifications to show.
        #[arg(long, default_value_t = 20)]
        limit: i32,
    },
}

/// Orders subcommands.
#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// List orders, newest first (admins: every user's).
    List {
        /// Only orders in this status (repeatable).
        #[arg(long, value_enum)]
        status: Vec<OrderStatusArg>,
        /// Most orders to show.
        #[arg(long, default_value_t = 20)]
        limit: i32,
    },
    /// Show one order with its items and history.
    Get {
        /// The order id.
        id: String,
    },
    /// Cancel an order (while it is not packed yet).
    Cancel {
        /// The order id.
        id: String,
        /// Why, kept on the order.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Move an order to another status (admins).
    Advance {
        /// The order id.
        id: String,
        /// The status to move to.
        #[arg(value_enum)]
        status: OrderStatusArg,
        /// Why, kept in the order's history.
        #[arg(long, default_value = "")]
        reason: String,
    },
}

/// Order statuses as the command line spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OrderStatusArg {
    Created,
    PaymentPending,
    Paid,
    Packed,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
}

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Record a batch arriving at a warehouse.
    Receive(ReceiveArgs),
    /// Change a batch's on-hand quantity (spoiled, damaged, recount...).
    Adjust(AdjustArgs),
    /// Products at or below their low-stock threshold.
    LowStock {
        /// Most products to show.
        #[arg(long, default_value_t = 50)]
        limit: i32,
    },
    /// Available and reserved stock of one product.
    Stock {
        /// A product id or slug.
        product: String,
    },
    /// Warehouses: list them or add one.
    #[command(subcommand)]
    Warehouses(WarehouseCommand),
}

#[derive(Debug, Args)]
pub struct ReceiveArgs {
    /// A product id or slug.
    pub product: String,
    /// How much arrived, in the product's quantity unit (`500g`, `2kg` and plain counts).
    pub quantity: String,
    /// Id of the receiving warehouse.
    #[arg(long)]
    pub warehouse: String,
    /// When the batch expires: a date (2026-12-24) or a number of days from now (7d).
    #[arg(long)]
    pub expires: String,
    /// The supplier's reference (lot, invoice, farm).
    #[arg(long)]
    pub supplier: String,
    /// The batch needs the cold chain.
    #[arg(long)]
    pub cold_chain: bool,
}

#[derive(Debug, Args)]
pub struct AdjustArgs {
    /// Id of the batch.
    pub batch: String,
    /// Signed change to the on-hand quantity, e.g. `-500` or `+2`.
    #[arg(allow_hyphen_values = true)]
    pub delta: String,
    /// Why the quantity changes.
    #[arg(long, value_enum)]
    pub reason: AdjustReasonArg,
    /// Free text; required for `other`.
    #[arg(long, default_value = "")]
    pub note: String,
}

/// Adjustment reasons as the command line spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AdjustReasonArg {
    Spoiled,
    Damaged,
    CountCorrection,
    Returned,
    Lost,
    Other,
}

#[derive(Debug, Subcommand)]
pub enum WarehouseCommand {
    /// List warehouses.
    List,
    /// Add a warehouse.
    Add {
        /// Short unique code, e.g. BLR-N.
        #[arg(long)]
        code: String,
        /// Name shown to operators.
        #[arg(long)]
        name: String,
        /// Street line of the address.
        #[arg(long)]
        line1: String,
        /// City.
        #[arg(long)]
        city: String,
        /// Postal code.
        #[arg(long, default_value = "")]
        postal_code: String,
        /// ISO country code.
        #[arg(long, default_value = "IN")]
        country: String,
        /// The warehouse has cold storage.
        #[arg(long)]
        cold_storage: bool,
    },
}

#[cfg(test)]
mod tests;
