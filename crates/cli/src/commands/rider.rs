//! `rider ...`: a rider's day (their shipments, accepting or turning one down, location,
//! shift status, pickup to delivery with the customer's code), and for admins registering
//! and listing riders.

use anyhow::Result;
use mandi_sdk::proto::mandi::identity::v1::{GetCurrentUserRequest, Role, SetUserRoleRequest};
use mandi_sdk::proto::mandi::shipping::v1::{
    AcceptShipmentRequest, CreateRiderRequest, GetRiderRequest, ListRidersRequest,
    ListShipmentsRequest, RejectShipmentRequest, Rider, RiderStatus, Shipment, ShipmentStatus,
    UpdateRiderRequest, UpdateShipmentStatusRequest, VehicleType,
};
use tonic::Code;

use crate::cli::{
    AddRiderArgs, MoveArgs, RiderCommand, RiderIdArgs, RiderStatusArg, ShipmentStatusArg,
    VehicleArg,
};
use crate::commands::shipments::{
    self, SHIPMENT, cash_due, destination_line, fields, format_point, parse_degrees, parse_point,
    resolve, shipment_status, status_label,
};
use crate::exit::{CliError, Exit};
use crate::money::{QuantityInput, format_quantity, parse_amount, parse_quantity};
use crate::output::{
    Table, enum_label, format_time, format_window, print_fields, print_json, to_json,
};
use crate::session::{Context, request_id};

const RIDER: &str = "mandi.shipping.v1.Rider";

/// What `rider shipments` shows without --status: everything still to do.
const OPEN: [ShipmentStatus; 4] = [
    ShipmentStatus::Assigned,
    ShipmentStatus::PickedUp,
    ShipmentStatus::OutForDelivery,
    ShipmentStatus::DeliveryFailed,
];

pub async fn run(ctx: &mut Context, command: RiderCommand) -> Result<()> {
    ctx.require_login()?;
    match command {
        RiderCommand::Shipments { status, all } => list(ctx, &status, all).await,
        RiderCommand::Accept { shipment } => {
            let found = resolve(ctx, &shipment).await?;
            let accepted = ctx
                .mandi
                .shipping()
                .accept_shipment(AcceptShipmentRequest {
                    shipment_id: found.id.clone(),
                })
                .await
                .map_err(shipments::error(
                    ctx,
                    &format!("accept {}", found.tracking_code),
                ))?
                .into_inner()
                .shipment
                .unwrap_or_default();
            remember_rider(ctx, &accepted.rider_id)?;
            show(
                ctx,
                &accepted,
                "accepted: collect it at the warehouse, then `mandi rider pickup`",
            )
        }
        RiderCommand::Reject { shipment, reason } => {
            let found = resolve(ctx, &shipment).await?;
            let rejected = ctx
                .mandi
                .shipping()
                .reject_shipment(RejectShipmentRequest {
                    shipment_id: found.id.clone(),
                    reason,
                })
                .await
                .map_err(shipments::error(
                    ctx,
                    &format!("turn down {}", found.tracking_code),
                ))?
                .into_inner()
                .shipment
                .unwrap_or_default();
            ctx.print(&rejected, SHIPMENT, |s| {
                println!(
                    "turned down {}: it is offered to another rider",
                    s.tracking_code
                );
            })
        }
        RiderCommand::Location {
            latitude,
            longitude,
            rider,
        } => {
            let point = mandi_sdk::proto::mandi::common::v1::GeoPoint {
                latitude_e6: parse_degrees(&latitude, 90)
                    .map_err(|e| CliError::invalid("latitude", e))?,
                longitude_e6: parse_degrees(&longitude, 180)
                    .map_err(|e| CliError::invalid("longitude", e))?,
            };
            let updated = update_rider(
                ctx,
                &rider,
                Rider {
                    last_location: Some(point),
                    ..Default::default()
                },
                "last_location",
                "report your location",
            )
            .await?;
            ctx.print(&updated, RIDER, |r| {
                println!(
                    "you are at {}; customers following your shipments see it",
                    r.last_location
                        .as_ref()
                        .map(format_point)
                        .unwrap_or_default()
                );
            })
        }
        RiderCommand::Status { status, rider } => {
            let updated = update_rider(
                ctx,
                &rider,
                Rider {
                    status: rider_status(status) as i32,
                    ..Default::default()
                },
                "status",
                "change your status",
            )
            .await?;
            ctx.print(&updated, RIDER, |r| {
                println!("{} is {}", r.display_name, rider_status_label(r));
            })
        }
        RiderCommand::Pickup(args) => {
            let moved = move_to(ctx, &args, ShipmentStatus::PickedUp, Step::default()).await?;
            show(ctx, &moved, "picked up: `mandi rider out` when you set off")
        }
        RiderCommand::Out(args) => {
            let moved =
                move_to(ctx, &args, ShipmentStatus::OutForDelivery, Step::default()).await?;
            show(
                ctx,
                &moved,
                "on the way: at the door ask for the delivery code, then `mandi rider deliver \
                 <shipment> --code <code>`",
            )
        }
        RiderCommand::Deliver {
            shipment,
            code,
            cash,
        } => {
            let code = code
                .map(|c| parse_code(&c).map_err(|e| CliError::invalid("code", e)))
                .transpose()?;
            let step = Step {
                code,
                cash,
                note: String::new(),
            };
            let moved = move_to(ctx, &shipment, ShipmentStatus::Delivered, step).await?;
            show(ctx, &moved, "delivered")
        }
        RiderCommand::Fail { shipment, note } => {
            if note.trim().is_empty() {
                return Err(
                    CliError::invalid("note", "say what happened, for the customer").into(),
                );
            }
            let step = Step {
                note,
                ..Default::default()
            };
            let moved = move_to(ctx, &shipment, ShipmentStatus::DeliveryFailed, step).await?;
            show(
                ctx,
                &moved,
                "attempt recorded: `mandi rider out` to try again, or bring it back",
            )
        }
        RiderCommand::Add(args) => add(ctx, *args).await,
        RiderCommand::List { status } => riders(ctx, status).await,
    }
}

fn show(ctx: &Context, shipment: &Shipment, what: &str) -> Result<()> {
    ctx.print(shipment, SHIPMENT, |s| {
        println!("{} {what}", s.tracking_code);
        print_fields(&fields(s));
    })
}

// === shipments ===

async fn list(ctx: &mut Context, statuses: &[ShipmentStatusArg], all: bool) -> Result<()> {
    let statuses: Vec<i32> = if all {
        Vec::new()
    } else if statuses.is_empty() {
        OPEN.iter().map(|s| *s as i32).collect()
    } else {
        statuses
            .iter()
            .map(|s| shipment_status(*s) as i32)
            .collect()
    };
    let response = ctx
        .mandi
        .shipping()
        .list_shipments(ListShipmentsRequest {
            statuses,
            page_size: 200,
            ..Default::default()
        })
        .await
        .map_err(shipments::error(ctx, "list your shipments"))?
        .into_inner();
    if ctx.json() {
        print_json(&to_json(
            &response,
            "mandi.shipping.v1.ListShipmentsResponse",
        )?);
        return Ok(());
    }
    if response.shipments.is_empty() {
        println!(
            "no shipments for you{}: set `mandi rider status available` to get assignments",
            if all { "" } else { " to deliver" }
        );
        return Ok(());
    }
    shipments_table(&response.shipments).print();
    let cold = response.shipments.iter().filter(|s| s.cold_chain).count();
    if cold > 0 {
        println!(
            "\n{cold} of these need the COLD CHAIN: keep them in the insulated box until handed over"
        );
    }
    Ok(())
}

/// The rider's work list: cold chain in capitals and cash to collect stand out.
fn shipments_table(shipments: &[Shipment]) -> Table {
    let mut table = Table::new([
        "TRACKING", "STATUS", "SLOT", "TO", "WEIGHT", "COLD", "CASH", "SHIPMENT",
    ]);
    for s in shipments {
        let status = if s.status() == ShipmentStatus::Assigned && !s.rider_accepted {
            "assigned: accept?".to_owned()
        } else {
            status_label(s.status())
        };
        table.row(vec![
            s.tracking_code.clone(),
            status,
            s.slot
                .as_ref()
                .map(|slot| format_window(slot.start_time.as_ref(), slot.end_time.as_ref()))
                .unwrap_or_else(|| "-".to_owned()),
            destination_line(s),
            format_quantity(
                s.weight_grams,
                mandi_sdk::proto::mandi::common::v1::UnitOfSale::Kilogram,
            ),
            if s.cold_chain { "COLD CHAIN" } else { "-" }.to_owned(),
            cash_due(s).map_or_else(|| "-".to_owned(), |cash| format!("collect {cash}")),
            s.id.clone(),
        ]);
    }
    table
}

/// What a status change carries besides the status.
#[derive(Debug, Default)]
struct Step {
    code: Option<String>,
    cash: Option<String>,
    note: String,
}

async fn move_to(
    ctx: &Context,
    args: &MoveArgs,
    status: ShipmentStatus,
    step: Step,
) -> Result<Shipment> {
    let location = args
        .at
        .as_deref()
        .map(|at| parse_point(at).map_err(|e| CliError::invalid("at", e)))
        .transpose()?;
    let eta = match args.eta {
        Some(minutes) if minutes <= 0 => {
            return Err(CliError::invalid("eta", "give minutes from now, more than 0").into());
        }
        Some(minutes) => Some(prost_types::Timestamp {
            seconds: chrono::Utc::now().timestamp() + minutes * 60,
            nanos: 0,
        }),
        None => None,
    };
    let shipment = resolve(ctx, &args.shipment).await?;
    let cash_collected = cash_collected(&shipment, status, step.cash.as_deref())?;
    let action = format!("mark {} {}", shipment.tracking_code, status_label(status));
    Ok(ctx
        .mandi
        .shipping()
        .update_shipment_status(UpdateShipmentStatusRequest {
            shipment_id: shipment.id.clone(),
            status: status as i32,
            location,
            note: step.note,
            estimated_delivery_time: eta,
            cash_collected,
            request_id: request_id(),
            delivery_code: step.code.unwrap_or_default(),
        })
        .await
        .map_err(shipments::error(ctx, &action))?
        .into_inner()
        .shipment
        .unwrap_or_default())
}

/// The cash to report for a delivery, in the shipment's currency. Forgetting --cash on a
/// cash-on-delivery shipment is caught here, before the server refuses it.
fn cash_collected(
    shipment: &Shipment,
    status: ShipmentStatus,
    cash: Option<&str>,
) -> Result<Option<mandi_sdk::proto::mandi::common::v1::Money>> {
    let currency = shipment
        .cash_to_collect
        .as_ref()
        .map(|m| m.currency_code.as_str())
        .filter(|c| !c.is_empty())
        .unwrap_or("INR");
    match (cash, cash_due(shipment)) {
        (Some(text), _) => Ok(Some(
            parse_amount(text, currency).map_err(|e| CliError::invalid("cash", e))?,
        )),
        (None, Some(due)) if status == ShipmentStatus::Delivered => Err(CliError::invalid(
            "cash",
            format!("collect {due} at the door and pass --cash with the amount"),
        )
        .into()),
        (None, _) => Ok(None),
    }
}

/// A delivery code as the customer reads it out: 6 digits, spaces and dashes ignored.
fn parse_code(text: &str) -> Result<String, String> {
    let code: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()) {
        Ok(code)
    } else {
        Err(format!(
            "the delivery code is the 6 digits the customer sees, got {text:?}"
        ))
    }
}

// === the rider themself ===

/// Changes one field of the signed-in rider (riders may change `status` and
/// `last_location`).
async fn update_rider(
    ctx: &mut Context,
    args: &RiderIdArgs,
    mut rider: Rider,
    path: &str,
    action: &str,
) -> Result<Rider> {
    rider.id = rider_id(ctx, args).await?;
    let updated = ctx
        .mandi
        .shipping()
        .update_rider(UpdateRiderRequest {
            rider: Some(rider),
            update_mask: Some(prost_types::FieldMask {
                paths: vec![path.to_owned()],
            }),
            request_id: request_id(),
        })
        .await
        .map_err(shipments::error(ctx, action))?
        .into_inner()
        .rider
        .unwrap_or_default();
    remember_rider(ctx, &updated.id)?;
    Ok(updated)
}

/// The rider id to act as: --rider (or MANDI_RIDER), else the one remembered with the
/// session, else the rider of the caller's shipments when that rider is the caller. Riders
/// cannot list riders, so before a first shipment it has to be given once.
async fn rider_id(ctx: &Context, args: &RiderIdArgs) -> Result<String> {
    if let Some(id) = args.rider.as_deref().filter(|id| !id.trim().is_empty()) {
        return Ok(id.trim().to_owned());
    }
    if let Some(id) = ctx.config.session.as_ref().and_then(|s| s.rider_id.clone()) {
        return Ok(id);
    }
    let shipments = ctx
        .mandi
        .shipping()
        .list_shipments(ListShipmentsRequest {
            page_size: 50,
            ..Default::default()
        })
        .await
        .map_err(shipments::error(ctx, "find your rider id"))?
        .into_inner()
        .shipments;
    let mut candidates: Vec<String> = shipments
        .into_iter()
        .map(|s| s.rider_id)
        .filter(|id| !id.is_empty())
        .collect();
    candidates.sort();
    candidates.dedup();
    if !candidates.is_empty() {
        let me = ctx
            .mandi
            .identity()
            .get_current_user(GetCurrentUserRequest {})
            .await
            .map_err(ctx.status("find your rider id"))?
            .into_inner()
            .user
            .unwrap_or_default();
        // Admins see other riders' shipments: only a rider whose account is the caller's
        // is the caller.
        for id in candidates {
            let rider = ctx
                .mandi
                .shipping()
                .get_rider(GetRiderRequest {
                    rider_id: id.clone(),
                })
                .await;
            match rider {
                Ok(rider) if rider.get_ref().rider.as_ref().map(|r| &r.user_id) == Some(&me.id) => {
                    return Ok(id);
                }
                Ok(_) => {}
                Err(status) if matches!(status.code(), Code::NotFound | Code::PermissionDenied) => {
                }
                Err(status) => return Err(shipments::error(ctx, "find your rider id")(status)),
            }
        }
    }
    Err(CliError::new(
        Exit::Usage,
        "rider: cannot tell your rider id yet (you have no shipments): pass --rider <id> once \
         (the admin who registered you sees it in `mandi rider list`); it is remembered until \
         you log out",
    )
    .into())
}

/// Keeps the rider id with the session once the server accepted it as the caller's.
fn remember_rider(ctx: &mut Context, rider_id: &str) -> Result<()> {
    let Some(session) = ctx.config.session.as_mut() else {
        return Ok(());
    };
    if rider_id.is_empty() || session.rider_id.as_deref() == Some(rider_id) {
        return Ok(());
    }
    session.rider_id = Some(rider_id.to_owned());
    ctx.save()
}

// === admins ===

async fn add(ctx: &Context, args: AddRiderArgs) -> Result<()> {
    let max_load_grams = match parse_quantity(&args.max_load) {
        Ok(QuantityInput::Plain(grams) | QuantityInput::Grams(grams)) => grams,
        Err(e) => return Err(CliError::invalid("max-load", e).into()),
    };
    // A rider's account has the delivery role: that is what lets it see and move its
    // shipments.
    ctx.mandi
        .identity()
        .set_user_role(SetUserRoleRequest {
            user_id: args.user.clone(),
            role: Role::Delivery as i32,
            request_id: request_id(),
        })
        .await
        .map_err(ctx.status(&format!("give user {} the delivery role", args.user)))?;
    let rider = ctx
        .mandi
        .shipping()
        .create_rider(CreateRiderRequest {
            rider: Some(Rider {
                user_id: args.user,
                display_name: args.name,
                phone: args.phone,
                vehicle_type: vehicle(args.vehicle) as i32,
                cold_chain: args.cold_chain,
                max_load_grams,
                zone_ids: args.zones,
                ..Default::default()
            }),
            request_id: request_id(),
        })
        .await
        .map_err(shipments::error(ctx, "register the rider"))?
        .into_inner()
        .rider
        .unwrap_or_default();
    ctx.print(&rider, RIDER, |r| {
        println!("registered rider {} ({})", r.display_name, r.id);
        print_fields(&rider_fields(r));
        println!(
            "\nthe rider logs in again (the new role comes with a new session), then starts a \
             shift with `mandi rider status available --rider {}`",
            r.id
        );
    })
}

async fn riders(ctx: &Context, status: Option<RiderStatusArg>) -> Result<()> {
    let response = ctx
        .mandi
        .shipping()
        .list_riders(ListRidersRequest {
            status: status.map_or(RiderStatus::Unspecified, rider_status) as i32,
            page_size: 200,
            ..Default::default()
        })
        .await
        .map_err(shipments::error(ctx, "list riders"))?
        .into_inner();
    if ctx.json() {
        print_json(&to_json(&response, "mandi.shipping.v1.ListRidersResponse")?);
        return Ok(());
    }
    if response.riders.is_empty() {
        println!("no riders yet: register one with `mandi rider add`");
        return Ok(());
    }
    let mut table = Table::new([
        "NAME",
        "STATUS",
        "VEHICLE",
        "COLD",
        "ZONES",
        "LAST SEEN",
        "ID",
    ]);
    for r in &response.riders {
        table.row(vec![
            r.display_name.clone(),
            rider_status_label(r),
            enum_label(r.vehicle_type().as_str_name(), "VEHICLE_TYPE_"),
            if r.cold_chain { "yes" } else { "no" }.to_owned(),
            r.zone_ids.join(","),
            r.last_location.as_ref().map_or_else(
                || "-".to_owned(),
                |at| {
                    format!(
                        "{} ({})",
                        format_point(at),
                        format_time(r.last_location_time.as_ref())
                    )
                },
            ),
            r.id.clone(),
        ]);
    }
    table.print();
    Ok(())
}

fn rider_fields(rider: &Rider) -> Vec<(&'static str, String)> {
    vec![
        ("rider", rider.id.clone()),
        ("user", rider.user_id.clone()),
        ("phone", rider.phone.clone()),
        (
            "vehicle",
            enum_label(rider.vehicle_type().as_str_name(), "VEHICLE_TYPE_"),
        ),
        (
            "cold chain",
            if rider.cold_chain { "yes" } else { "no" }.to_owned(),
        ),
        (
            "max load",
            format_quantity(
                rider.max_load_grams,
                mandi_sdk::proto::mandi::common::v1::UnitOfSale::Kilogram,
            ),
        ),
        ("zones", rider.zone_ids.join(", ")),
        ("status", rider_status_label(rider)),
    ]
}

fn rider_status_label(rider: &Rider) -> String {
    enum_label(rider.status().as_str_name(), "RIDER_STATUS_")
}

fn rider_status(status: RiderStatusArg) -> RiderStatus {
    match status {
        RiderStatusArg::Available => RiderStatus::Available,
        RiderStatusArg::OnDelivery => RiderStatus::OnDelivery,
        RiderStatusArg::OffDuty => RiderStatus::OffDuty,
    }
}

fn vehicle(vehicle: VehicleArg) -> VehicleType {
    match vehicle {
        VehicleArg::Bicycle => VehicleType::Bicycle,
        VehicleArg::Motorcycle => VehicleType::Motorcycle,
        VehicleArg::ThreeWheeler => VehicleType::ThreeWheeler,
        VehicleArg::Van => VehicleType::Van,
    }
}

#[cfg(test)]
mod tests;
