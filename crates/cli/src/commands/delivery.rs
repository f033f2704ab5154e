//! `delivery slots/quote/track/list/assign`: when a delivery can come and what it costs,
//! following one live until it ends (WatchShipment), and assigning riders (admins).

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use mandi_sdk::proto::mandi::common::v1::{Address, GeoPoint};
use mandi_sdk::proto::mandi::shipping::v1::{
    AssignRiderRequest, DeliverySlot, GetShippingQuoteRequest, ListDeliverySlotsRequest,
    ListDeliverySlotsResponse, ListShipmentsRequest, Shipment, ShipmentStatus, TrackingEvent,
    WatchShipmentRequest, WatchShipmentResponse,
};

use crate::cli::{DeliveryCommand, DestinationArgs, QuoteArgs, SlotsArgs};
use crate::commands::addresses::{default_saved, one_line, saved};
use crate::commands::shipments::{
    self, SHIPMENT, destination_line, format_point, is_terminal, resolve, shipment_status,
    status_label,
};
use crate::exit::{CliError, Exit};
use crate::money::{QuantityInput, format_money, format_optional, parse_amount, parse_quantity};
use crate::output::{
    Table, format_time, format_window, format_window_local, local_offset, print_fields, print_json,
    to_json,
};
use crate::session::{Context, request_id};

/// Most days ahead ListDeliverySlots answers for.
const MAX_DAYS: i64 = 14;
/// Pages of slots read at most (200 each): more than two weeks of any zone's schedule.
const SLOT_PAGES: usize = 10;
/// Times in a row a dropped watch is reopened before giving up; the first message after
/// reconnecting is the current shipment, so nothing is missed.
const RECONNECTS: u32 = 5;

pub async fn run(ctx: &mut Context, command: DeliveryCommand) -> Result<()> {
    match command {
        DeliveryCommand::Slots(args) => slots(ctx, args).await,
        DeliveryCommand::Quote(args) => quote(ctx, args).await,
        DeliveryCommand::Track { shipment } => {
            ctx.require_login()?;
            track(ctx, &shipment).await
        }
        DeliveryCommand::List { status, limit } => {
            ctx.require_login()?;
            if limit <= 0 {
                return Err(CliError::invalid("limit", "must be greater than 0").into());
            }
            let response = ctx
                .mandi
                .shipping()
                .list_shipments(ListShipmentsRequest {
                    statuses: status.iter().map(|s| shipment_status(*s) as i32).collect(),
                    page_size: limit,
                    ..Default::default()
                })
                .await
                .map_err(shipments::error(ctx, "list shipments"))?
                .into_inner();
            if ctx.json() {
                print_json(&to_json(
                    &response,
                    "mandi.shipping.v1.ListShipmentsResponse",
                )?);
            } else if response.shipments.is_empty() {
                println!("no shipments yet: an order gets one once it is paid");
            } else {
                let mut table = Table::new(["TRACKING", "STATUS", "SLOT", "RIDER", "ORDER"]);
                for s in &response.shipments {
                    table.row(vec![
                        s.tracking_code.clone(),
                        status_label(s.status()),
                        slot_window(s),
                        s.rider_display_name.clone(),
                        s.order_id.clone(),
                    ]);
                }
                table.print();
            }
            Ok(())
        }
        DeliveryCommand::Assign { shipment, rider } => {
            ctx.require_login()?;
            let found = resolve(ctx, &shipment).await?;
            let assigned = ctx
                .mandi
                .shipping()
                .assign_rider(AssignRiderRequest {
                    shipment_id: found.id.clone(),
                    rider_id: rider.unwrap_or_default(),
                    request_id: request_id(),
                })
                .await
                .map_err(shipments::error(
                    ctx,
                    &format!("assign a rider to {}", found.tracking_code),
                ))?
                .into_inner()
                .shipment
                .unwrap_or_default();
            ctx.print(&assigned, SHIPMENT, |s| {
                println!(
                    "assigned {} to {} ({})",
                    s.tracking_code, s.rider_display_name, s.rider_id
                );
            })
        }
    }
}

// === slots and quotes ===

async fn slots(ctx: &Context, args: SlotsArgs) -> Result<()> {
    if !(1..=MAX_DAYS).contains(&args.days) {
        return Err(CliError::invalid("days", format!("must be 1 to {MAX_DAYS}")).into());
    }
    let (destination, label) = destination(ctx, &args.destination).await?;
    let now = chrono::Utc::now().timestamp();
    let end = prost_types::Timestamp {
        seconds: now + args.days * 86_400,
        nanos: 0,
    };
    let mut all = ListDeliverySlotsResponse::default();
    let mut page_token = String::new();
    for _ in 0..SLOT_PAGES {
        let page = ctx
            .mandi
            .shipping()
            .list_delivery_slots(ListDeliverySlotsRequest {
                destination: Some(destination.clone()),
                start_time: None,
                end_time: Some(end),
                cold_chain_required: args.cold_chain,
                page_size: 200,
                page_token,
            })
            .await
            .map_err(shipments::error(ctx, "list delivery slots"))?
            .into_inner();
        all.slots.extend(page.slots);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if ctx.json() {
        print_json(&to_json(
            &all,
            "mandi.shipping.v1.ListDeliverySlotsResponse",
        )?);
        return Ok(());
    }
    if all.slots.is_empty() {
        println!(
            "no delivery slots to {label} in the next {} days{}",
            args.days,
            if args.cold_chain {
                " with the cold chain"
            } else {
                ""
            }
        );
        return Ok(());
    }
    println!("delivery slots to {label}:");
    slots_table(&all.slots, local_offset()).print();
    Ok(())
}

/// The slots with what is left of each; full and closed ones say so instead of a count.
/// Times are UTC like everywhere in mandi; `local` (the terminal's offset, when not UTC)
/// adds a column in the reader's own clock.
fn slots_table(slots: &[DeliverySlot], local: Option<chrono::FixedOffset>) -> Table {
    let mut table = match local {
        Some(_) => Table::new(["LOCAL", "UTC", "LEFT", "SURCHARGE", "COLD CHAIN", "SLOT"]),
        None => Table::new(["WHEN", "LEFT", "SURCHARGE", "COLD CHAIN", "SLOT"]),
    };
    for slot in slots {
        let mut row = Vec::new();
        if let Some(offset) = local {
            row.push(format_window_local(
                slot.start_time.as_ref(),
                slot.end_time.as_ref(),
                offset,
            ));
        }
        row.extend([
            format_window(slot.start_time.as_ref(), slot.end_time.as_ref()),
            places_left(slot),
            slot.surcharge
                .as_ref()
                .filter(|m| m.amount_minor != 0)
                .map(|m| format!("+{}", format_money(m)))
                .unwrap_or_else(|| "-".to_owned()),
            if slot.cold_chain { "yes" } else { "no" }.to_owned(),
            slot.id.clone(),
        ]);
        table.row(row);
    }
    table
}

fn places_left(slot: &DeliverySlot) -> String {
    let left = (slot.capacity - slot.booked).max(0);
    if slot.available {
        format!("{left} of {}", slot.capacity)
    } else if left == 0 {
        "full".to_owned()
    } else {
        // Not full, but past its booking cutoff.
        "closed".to_owned()
    }
}

async fn quote(ctx: &Context, args: QuoteArgs) -> Result<()> {
    let weight_grams = match parse_quantity(&args.weight) {
        Ok(QuantityInput::Plain(grams) | QuantityInput::Grams(grams)) => grams,
        Err(e) => return Err(CliError::invalid("weight", e).into()),
    };
    let order_subtotal = args
        .subtotal
        .as_deref()
        .map(|text| parse_amount(text, "INR").map_err(|e| CliError::invalid("subtotal", e)))
        .transpose()?;
    let (destination, label) = destination(ctx, &args.destination).await?;
    let response = ctx
        .mandi
        .shipping()
        .get_shipping_quote(GetShippingQuoteRequest {
            destination: Some(destination),
            weight_grams,
            cold_chain: args.cold_chain,
            order_subtotal,
            slot_id: args.slot.unwrap_or_default(),
        })
        .await
        .map_err(shipments::error(ctx, "quote delivery"))?
        .into_inner();
    ctx.print(
        &response,
        "mandi.shipping.v1.GetShippingQuoteResponse",
        |quote| {
            if !quote.serviceable {
                println!("mandi does not deliver to {label} yet");
                return;
            }
            let mut fields = vec![
                ("to", label.clone()),
                ("zone", quote.zone_id.clone()),
                ("fee", format_optional(quote.fee.as_ref())),
                (
                    "earliest arrival",
                    format_time(quote.estimated_delivery_time.as_ref()),
                ),
            ];
            if let Some(threshold) = &quote.free_delivery_threshold {
                fields.push(("free from", format_money(threshold)));
            }
            print_fields(&fields);
        },
    )
}

/// The postal address to deliver to and how to name it: `--postal-code` as given, a
/// saved address by id, or the signed-in user's default address.
async fn destination(ctx: &Context, args: &DestinationArgs) -> Result<(Address, String)> {
    if let Some(postal_code) = &args.postal_code {
        let address = Address {
            postal_code: postal_code.trim().to_owned(),
            country_code: args.country.trim().to_ascii_uppercase(),
            ..Default::default()
        };
        let label = format!("{} {}", address.postal_code, address.country_code);
        return Ok((address, label));
    }
    if !ctx.is_logged_in() {
        return Err(CliError::new(
            Exit::Unauthenticated,
            "address: log in to use your saved addresses (`mandi login`), or give one with \
             --postal-code <code> [--country IN]",
        )
        .into());
    }
    let address = match args.address.as_deref() {
        None | Some("default") => default_saved(ctx).await?,
        Some(id) => saved(ctx, id).await?,
    };
    let label = format!("{} ({})", address.label, one_line(&address));
    Ok((address.postal_address.unwrap_or_default(), label))
}

// === track ===

async fn track(ctx: &Context, text: &str) -> Result<()> {
    let shipment = resolve(ctx, text).await?;
    let code = shipment.tracking_code.clone();
    // Ctrl-C ends the command cleanly wherever it is: reading, printing or reconnecting.
    tokio::select! {
        followed = follow(ctx, shipment) => followed,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("stopped following {code}; `mandi delivery track {code}` picks it up again");
            Ok(())
        }
    }
}

/// Prints the shipment's updates until it reaches a terminal status, reopening the stream
/// when it drops (UNAVAILABLE, or the server closing it early).
async fn follow(ctx: &Context, mut last: Shipment) -> Result<()> {
    let mut view = TrackView::default();
    let mut attempts = 0;
    loop {
        let opened = ctx
            .mandi
            .shipping()
            .watch_shipment(WatchShipmentRequest {
                shipment_id: last.id.clone(),
            })
            .await;
        let mut stream = match opened {
            Ok(stream) => stream.into_inner(),
            Err(status) if attempts < RECONNECTS && is_transient(&status) => {
                attempts += 1;
                backoff(attempts).await;
                continue;
            }
            Err(status) => return Err(shipments::error(ctx, "follow the delivery")(status)),
        };
        loop {
            match stream.message().await {
                Ok(Some(message)) => {
                    attempts = 0;
                    let lines = if ctx.json() {
                        vec![
                            to_json(&message, "mandi.shipping.v1.WatchShipmentResponse")?
                                .to_string(),
                        ]
                    } else {
                        view.lines(&message)
                    };
                    if !emit(&lines)? {
                        // Whoever read the output (`| head`, `| grep -m1`) has gone.
                        return Ok(());
                    }
                    if let Some(shipment) = message.shipment {
                        last = shipment;
                    }
                    if is_terminal(last.status()) {
                        return Ok(());
                    }
                }
                // The server ended the stream before a terminal status (it is draining, say):
                // open it again.
                Ok(None) if attempts < RECONNECTS => {
                    attempts += 1;
                    backoff(attempts).await;
                    break;
                }
                Ok(None) => {
                    return Err(CliError::new(
                        Exit::Unavailable,
                        format!(
                            "follow the delivery: the server keeps closing the stream; {} is \
                             {} (try `mandi delivery track {}` again shortly)",
                            last.tracking_code,
                            status_label(last.status()),
                            last.tracking_code
                        ),
                    )
                    .into());
                }
                Err(status) if attempts < RECONNECTS && is_transient(&status) => {
                    attempts += 1;
                    backoff(attempts).await;
                    break;
                }
                Err(status) => return Err(shipments::error(ctx, "follow the delivery")(status)),
            }
        }
    }
}

/// Writes lines to stdout at once (the command runs long, so nothing waits in a buffer);
/// false when the reader closed the pipe, which ends the command quietly.
fn emit(lines: &[String]) -> Result<bool> {
    let mut out = std::io::stdout().lock();
    let written = lines
        .iter()
        .try_for_each(|line| writeln!(out, "{line}"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to standard output")),
    }
}

/// Whether reopening the watch may help: the server is unavailable or slow, or the
/// connection itself broke mid-stream (tonic reports that as UNKNOWN or INTERNAL with the
/// transport error as its source, unlike a status the server sent).
fn is_transient(status: &tonic::Status) -> bool {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => true,
        tonic::Code::Unknown | tonic::Code::Internal => std::error::Error::source(status).is_some(),
        _ => false,
    }
}

/// Waits a little longer before each reconnect: 0.5 s, 1 s, 2 s, ...
async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(250 << attempt.min(5))).await;
}

/// What `delivery track` has printed so far, so a reconnect (which repeats the current
/// shipment) prints only what is new.
#[derive(Debug, Default)]
struct TrackView {
    started: bool,
    events_shown: usize,
    code_shown: bool,
    location: Option<(i64, i64)>,
}

impl TrackView {
    /// The lines to print for one message of the stream.
    fn lines(&mut self, message: &WatchShipmentResponse) -> Vec<String> {
        let Some(shipment) = &message.shipment else {
            return Vec::new();
        };
        let mut lines = Vec::new();
        if !self.started {
            self.started = true;
            lines.push(format!(
                "tracking {} (order {}) to {}",
                shipment.tracking_code,
                shipment.order_id,
                destination_line(shipment)
            ));
            lines.push(format!("slot {}", slot_window(shipment)));
        }
        if !self.code_shown && !shipment.delivery_code.is_empty() && !is_terminal(shipment.status())
        {
            self.code_shown = true;
            lines.push(format!(
                "delivery code {}: tell this code to the rider at the door",
                shipment.delivery_code
            ));
        }
        let events = &shipment.tracking_events;
        let new = events.get(self.events_shown..).unwrap_or_default();
        for event in new {
            lines.push(event_line(event, shipment));
        }
        self.events_shown = self.events_shown.max(events.len());
        if new.is_empty() {
            // A change without a new status: the rider moved or the estimate changed.
            if let Some(event) = &message.event {
                lines.push(event_line(event, shipment));
            } else if let Some(at) = moved(self.location, shipment.rider_location.as_ref()) {
                lines.push(format!(
                    "{}  rider {} at {}",
                    format_time(shipment.rider_location_time.as_ref()),
                    shipment.rider_display_name,
                    format_point(at)
                ));
            }
        }
        self.location = shipment
            .rider_location
            .as_ref()
            .map(|p| (p.latitude_e6, p.longitude_e6));
        lines
    }
}

/// The rider's new position when it differs from the one printed last.
fn moved(before: Option<(i64, i64)>, now: Option<&GeoPoint>) -> Option<&GeoPoint> {
    now.filter(|p| before != Some((p.latitude_e6, p.longitude_e6)))
}

/// `WHEN  STATUS  note, rider NAME, at LAT,LNG, ETA WHEN`.
fn event_line(event: &TrackingEvent, shipment: &Shipment) -> String {
    let mut details = Vec::new();
    if !event.note.is_empty() {
        details.push(event.note.clone());
    }
    // PENDING comes before (or after losing) a rider, so it names none; a note naming the
    // rider already says who.
    let rider = &shipment.rider_display_name;
    if !rider.is_empty() && event.status() != ShipmentStatus::Pending && !event.note.contains(rider)
    {
        details.push(format!("rider {}", shipment.rider_display_name));
    }
    if let Some(at) = &event.location {
        details.push(format!("at {}", format_point(at)));
    }
    if event.estimated_delivery_time.is_some() && !is_terminal(event.status()) {
        details.push(format!(
            "ETA {}",
            format_time(event.estimated_delivery_time.as_ref())
        ));
    }
    let mut line = format!(
        "{}  {}",
        format_time(event.occur_time.as_ref()),
        status_label(event.status())
    );
    if !details.is_empty() {
        line.push_str("  ");
        line.push_str(&details.join(", "));
    }
    line
}

fn slot_window(shipment: &Shipment) -> String {
    shipment
        .slot
        .as_ref()
        .map(|s| format_window(s.start_time.as_ref(), s.end_time.as_ref()))
        .unwrap_or_else(|| "-".to_owned())
}

#[cfg(test)]
mod tests;
