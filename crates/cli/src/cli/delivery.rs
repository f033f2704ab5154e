//! The grammar of `mandi delivery` (customers: slots, quotes, live tracking; admins:
//! assigning riders) and `mandi rider` (riders working their shipments; admins: riders).

use clap::{Args, Subcommand, ValueEnum};

/// Delivery subcommands.
#[derive(Debug, Subcommand)]
pub enum DeliveryCommand {
    /// Delivery slots for an address, soonest first; full and closed ones are marked.
    Slots(SlotsArgs),
    /// What delivery to an address costs and when it can arrive.
    Quote(QuoteArgs),
    /// Follow a delivery live until it ends; shows the code to tell the rider.
    Track {
        /// An order id, shipment id or tracking code (e.g. MND-7K3Q9).
        shipment: String,
    },
    /// Your shipments (admins: everyone's), by slot.
    List {
        /// Only shipments in this status (repeatable).
        #[arg(long, value_enum)]
        status: Vec<ShipmentStatusArg>,
        /// Most shipments to show.
        #[arg(long, default_value_t = 20)]
        limit: i32,
    },
    /// Assign a rider to a pending shipment (admins); without --rider the nearest
    /// available rider who can carry it.
    Assign {
        /// A shipment id, order id or tracking code.
        shipment: String,
        /// Id of the rider (see `mandi rider list`).
        #[arg(long)]
        rider: Option<String>,
    },
}

/// Where to deliver: a saved address, or a postal code given inline.
#[derive(Debug, Args)]
pub struct DestinationArgs {
    /// Id of one of your saved addresses, or `default` [default: your default address].
    #[arg(long, conflicts_with = "postal_code")]
    pub address: Option<String>,
    /// A postal code instead of a saved address (no login needed).
    #[arg(long)]
    pub postal_code: Option<String>,
    /// ISO country code of --postal-code.
    #[arg(long, default_value = "IN", requires = "postal_code")]
    pub country: String,
}

#[derive(Debug, Args)]
pub struct SlotsArgs {
    #[command(flatten)]
    pub destination: DestinationArgs,
    /// How many days ahead to show, 1 to 14.
    #[arg(long, default_value_t = 7)]
    pub days: i64,
    /// Only slots served with the cold chain (for chilled or frozen produce).
    #[arg(long)]
    pub cold_chain: bool,
}

#[derive(Debug, Args)]
pub struct QuoteArgs {
    #[command(flatten)]
    pub destination: DestinationArgs,
    /// Weight to deliver: `500g`, `2kg`, or grams.
    #[arg(long, default_value = "1kg")]
    pub weight: String,
    /// The goods need the cold chain.
    #[arg(long)]
    pub cold_chain: bool,
    /// Value of the goods in rupees (e.g. 450 or 450.50), for free delivery above a
    /// threshold.
    #[arg(long)]
    pub subtotal: Option<String>,
    /// Id of the slot wanted; its surcharge is included.
    #[arg(long)]
    pub slot: Option<String>,
}

/// Rider subcommands.
#[derive(Debug, Subcommand)]
pub enum RiderCommand {
    /// Shipments assigned to you, by slot; cold-chain ones and cash to collect stand out.
    Shipments {
        /// Only shipments in this status (repeatable) [default: the open ones].
        #[arg(long, value_enum)]
        status: Vec<ShipmentStatusArg>,
        /// Every status, delivered and cancelled ones too.
        #[arg(long, conflicts_with = "status")]
        all: bool,
    },
    /// Take an assigned shipment on.
    Accept {
        /// A shipment id or tracking code.
        shipment: String,
    },
    /// Turn an assigned shipment down; it is offered to another rider.
    Reject {
        /// A shipment id or tracking code.
        shipment: String,
        /// Why, for the operators.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Report where you are; customers watching your open shipments see it.
    Location {
        /// Latitude in degrees, e.g. 12.9716.
        #[arg(allow_hyphen_values = true)]
        latitude: String,
        /// Longitude in degrees, e.g. 77.5946.
        #[arg(allow_hyphen_values = true)]
        longitude: String,
        #[command(flatten)]
        rider: RiderIdArgs,
    },
    /// Start or end your shift: `available` for assignments, or `off-duty`.
    Status {
        #[arg(value_enum)]
        status: RiderStatusArg,
        #[command(flatten)]
        rider: RiderIdArgs,
    },
    /// You collected the shipment at the warehouse.
    Pickup(MoveArgs),
    /// You are on the way to the customer.
    Out(MoveArgs),
    /// Handed over: needs the customer's 6-digit delivery code.
    Deliver {
        #[command(flatten)]
        shipment: MoveArgs,
        /// The delivery code the customer tells you (admins may leave it out).
        #[arg(long)]
        code: Option<String>,
        /// Cash collected at the door for cash-on-delivery orders, e.g. 250 or 250.50.
        #[arg(long)]
        cash: Option<String>,
    },
    /// The delivery attempt failed (nobody home, address not found).
    Fail {
        #[command(flatten)]
        shipment: MoveArgs,
        /// What happened, for the customer.
        #[arg(long)]
        note: String,
    },
    /// Register a delivery account as a rider (admins); gives the user the delivery role.
    Add(Box<AddRiderArgs>),
    /// List riders (admins).
    List {
        /// Only riders in this status.
        #[arg(long, value_enum)]
        status: Option<RiderStatusArg>,
    },
}

/// Which rider to act as. Riders cannot list riders, so the id is learnt from a shipment
/// assigned to you or given once with --rider; it is remembered with the session.
#[derive(Debug, Args)]
pub struct RiderIdArgs {
    /// Your rider id (an admin sees it in `mandi rider add` and `mandi rider list`)
    /// [default: the remembered one, else the rider of your shipments].
    #[arg(long, env = "MANDI_RIDER")]
    pub rider: Option<String>,
}

/// A shipment to move along, with what the customer sees with it.
#[derive(Debug, Args)]
pub struct MoveArgs {
    /// A shipment id or tracking code.
    pub shipment: String,
    /// Where you are, as `LAT,LNG` in degrees (e.g. 12.9716,77.5946).
    #[arg(long, allow_hyphen_values = true)]
    pub at: Option<String>,
    /// New arrival estimate, in minutes from now.
    #[arg(long)]
    pub eta: Option<i64>,
}

#[derive(Debug, Args)]
pub struct AddRiderArgs {
    /// The rider's user id (from `mandi whoami` on their account).
    #[arg(long)]
    pub user: String,
    /// Name shown to customers.
    #[arg(long)]
    pub name: String,
    /// Phone in E.164 form, e.g. +919812345678.
    #[arg(long)]
    pub phone: String,
    /// What the rider delivers with.
    #[arg(long, value_enum, default_value_t = VehicleArg::Motorcycle)]
    pub vehicle: VehicleArg,
    /// The rider has an insulated or refrigerated carrier.
    #[arg(long)]
    pub cold_chain: bool,
    /// Most weight carried at once: `20kg`, `15000g`.
    #[arg(long, default_value = "20kg")]
    pub max_load: String,
    /// Id of a zone the rider serves (repeatable; e.g. blr-central); riders are only
    /// offered shipments in their zones.
    #[arg(long = "zone", required = true)]
    pub zones: Vec<String>,
}

/// Shipment statuses as the command line spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ShipmentStatusArg {
    Pending,
    Assigned,
    PickedUp,
    OutForDelivery,
    Delivered,
    DeliveryFailed,
    Returned,
    Cancelled,
}

/// Rider statuses a rider sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RiderStatusArg {
    Available,
    OnDelivery,
    OffDuty,
}

/// Vehicles as the command line spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VehicleArg {
    Bicycle,
    Motorcycle,
    ThreeWheeler,
    Van,
}
