//! What `delivery` and `rider` share: finding a shipment from what a person has at hand
//! (an order id, a shipment id or a tracking code), printing it, and saying in plain words
//! why shipping refused something.

use anyhow::Result;
use mandi_sdk::proto::mandi::common::v1::GeoPoint;
use mandi_sdk::proto::mandi::shipping::v1::{
    GetShipmentRequest, ListShipmentsRequest, Shipment, ShipmentStatus,
};
use tonic::Code;
use tonic_types::StatusExt;

use crate::cli::ShipmentStatusArg;
use crate::exit::{CliError, Exit, exit_for};
use crate::money::format_money;
use crate::output::{enum_label, format_time, format_window};
use crate::session::Context;

/// The protobuf name of a shipment, for `--output json`.
pub const SHIPMENT: &str = "mandi.shipping.v1.Shipment";

/// Pages read when looking for a tracking code among the caller's shipments.
const TRACKING_CODE_PAGES: usize = 20;

/// Finds a shipment by shipment id, order id or tracking code. Ids are UUIDs; anything
/// else is a tracking code, looked for among the shipments the caller may see.
pub async fn resolve(ctx: &Context, text: &str) -> Result<Shipment> {
    let text = text.trim();
    if text.is_empty() {
        return Err(CliError::invalid(
            "shipment",
            "give an order id, shipment id or tracking code",
        )
        .into());
    }
    if uuid::Uuid::parse_str(text).is_ok() {
        let by_order = ctx
            .mandi
            .shipping()
            .list_shipments(ListShipmentsRequest {
                order_id: text.to_owned(),
                page_size: 1,
                ..Default::default()
            })
            .await
            .map_err(error(ctx, "find the shipment"))?
            .into_inner();
        if let Some(shipment) = by_order.shipments.into_iter().next() {
            return Ok(shipment);
        }
        return match ctx
            .mandi
            .shipping()
            .get_shipment(GetShipmentRequest {
                shipment_id: text.to_owned(),
            })
            .await
        {
            Ok(response) => Ok(response.into_inner().shipment.unwrap_or_default()),
            Err(status) if status.code() == Code::NotFound => Err(not_found(text)),
            Err(status) => Err(error(ctx, "find the shipment")(status)),
        };
    }
    let mut page_token = String::new();
    for _ in 0..TRACKING_CODE_PAGES {
        let page = ctx
            .mandi
            .shipping()
            .list_shipments(ListShipmentsRequest {
                page_size: 200,
                page_token,
                ..Default::default()
            })
            .await
            .map_err(error(ctx, "find the shipment"))?
            .into_inner();
        if let Some(shipment) = page
            .shipments
            .into_iter()
            .find(|s| s.tracking_code.eq_ignore_ascii_case(text))
        {
            return Ok(shipment);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    Err(not_found(text))
}

fn not_found(text: &str) -> anyhow::Error {
    CliError::new(
        Exit::NotFound,
        format!(
            "no shipment for order, shipment or tracking code {text:?} among yours: check it \
             with `mandi delivery list` (orders get a shipment once they are paid)"
        ),
    )
    .into()
}

/// Maps a failed shipping call to a readable error: the ErrorInfo reasons shipping sends
/// become a sentence saying what to do; everything else is mapped like any call.
pub fn error<'a>(ctx: &'a Context, action: &str) -> impl Fn(tonic::Status) -> anyhow::Error + 'a {
    let fallback = ctx.status(action);
    let action = action.to_owned();
    move |status| match explain(&status, &action) {
        Some(message) => CliError::new(exit_for(status.code()), message).into(),
        None => fallback(status),
    }
}

/// The plain message for a shipping ErrorInfo reason; None for other statuses.
pub fn explain(status: &tonic::Status, action: &str) -> Option<String> {
    let info = status.get_details_error_info()?;
    let server = status.message().trim();
    let why = match info.reason.as_str() {
        "WRONG_DELIVERY_CODE" => "that is not the customer's delivery code: ask them again for \
             the 6 digits `mandi delivery track` shows them (after 5 wrong codes it locks)"
            .to_owned(),
        "DELIVERY_CODE_LOCKED" => "too many wrong delivery codes, so the code is locked: \
             report the attempt with `mandi rider fail <shipment> --note ...` or ask an admin \
             to complete the delivery"
            .to_owned(),
        "SLOT_UNAVAILABLE" => "that delivery slot is full, closed or has no cold chain for \
             this order: pick another from `mandi delivery slots`"
            .to_owned(),
        "UNSERVICEABLE_ADDRESS" => "mandi does not deliver to this address yet (its postal \
             code is outside every delivery zone)"
            .to_owned(),
        "CASH_MISMATCH" => format!(
            "the cash entered is not what the customer owes ({server}): pass --cash with the \
             amount `mandi rider shipments` shows"
        ),
        "NO_RIDER_AVAILABLE" => format!(
            "no available rider can carry it now ({server}): try again later or name one with \
             --rider (see `mandi rider list`)"
        ),
        "RIDER_UNSUITABLE" => format!("{server}: pick another rider from `mandi rider list`"),
        "NOT_A_RIDER" => "your account has no rider profile: an admin registers you with \
             `mandi rider add`, then log in again"
            .to_owned(),
        "NOT_ASSIGNED_RIDER" => "this shipment is not assigned to you: see yours with `mandi \
             rider shipments`"
            .to_owned(),
        "NOT_YOUR_RIDER" => "that rider id is not yours: check --rider (log out and in again \
             to forget a remembered one)"
            .to_owned(),
        "ILLEGAL_TRANSITION" => format!(
            "the shipment cannot move there from where it is now ({server}); see its status \
             with `mandi rider shipments` or `mandi delivery track`"
        ),
        _ => return None,
    };
    Some(format!("{action}: {why}"))
}

/// Whether a shipment has reached the end of its life.
pub fn is_terminal(status: ShipmentStatus) -> bool {
    matches!(
        status,
        ShipmentStatus::Delivered | ShipmentStatus::Returned | ShipmentStatus::Cancelled
    )
}

pub fn status_label(status: ShipmentStatus) -> String {
    enum_label(status.as_str_name(), "SHIPMENT_STATUS_")
}

pub fn shipment_status(status: ShipmentStatusArg) -> ShipmentStatus {
    match status {
        ShipmentStatusArg::Pending => ShipmentStatus::Pending,
        ShipmentStatusArg::Assigned => ShipmentStatus::Assigned,
        ShipmentStatusArg::PickedUp => ShipmentStatus::PickedUp,
        ShipmentStatusArg::OutForDelivery => ShipmentStatus::OutForDelivery,
        ShipmentStatusArg::Delivered => ShipmentStatus::Delivered,
        ShipmentStatusArg::DeliveryFailed => ShipmentStatus::DeliveryFailed,
        ShipmentStatusArg::Returned => ShipmentStatus::Returned,
        ShipmentStatusArg::Cancelled => ShipmentStatus::Cancelled,
    }
}

/// Cash the rider collects at the door, or None when nothing is due.
pub fn cash_due(shipment: &Shipment) -> Option<String> {
    shipment
        .cash_to_collect
        .as_ref()
        .filter(|m| m.amount_minor != 0)
        .map(format_money)
}

/// The one-line destination: recipient, street, city and postal code.
pub fn destination_line(shipment: &Shipment) -> String {
    let Some(destination) = &shipment.destination else {
        return String::new();
    };
    let mut parts = vec![destination.recipient_name.as_str()];
    if let Some(address) = &destination.address {
        parts.extend([
            address.line1.as_str(),
            address.line2.as_str(),
            address.city.as_str(),
            address.postal_code.as_str(),
        ]);
    }
    parts
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One shipment as label and value pairs.
pub fn fields(shipment: &Shipment) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("shipment", shipment.id.clone()),
        ("tracking code", shipment.tracking_code.clone()),
        ("order", shipment.order_id.clone()),
        ("status", status_label(shipment.status())),
        (
            "slot",
            shipment
                .slot
                .as_ref()
                .map(|s| format_window(s.start_time.as_ref(), s.end_time.as_ref()))
                .unwrap_or_else(|| "-".to_owned()),
        ),
        ("to", destination_line(shipment)),
    ];
    if shipment.cold_chain {
        fields.push(("cold chain", "yes: keep it chilled".to_owned()));
    }
    if let Some(cash) = cash_due(shipment) {
        let label = if shipment.status() == ShipmentStatus::Delivered {
            "cash collected"
        } else {
            "cash to collect"
        };
        fields.push((label, cash));
    }
    if !shipment.rider_display_name.is_empty() {
        let accepted = if shipment.rider_accepted {
            ""
        } else {
            " (not accepted yet)"
        };
        fields.push((
            "rider",
            format!("{}{accepted}", shipment.rider_display_name),
        ));
    }
    if let Some(location) = &shipment.rider_location {
        fields.push((
            "rider at",
            format!(
                "{} ({})",
                format_point(location),
                format_time(shipment.rider_location_time.as_ref())
            ),
        ));
    }
    if shipment.estimated_delivery_time.is_some() && !is_terminal(shipment.status()) {
        fields.push((
            "arrives by",
            format_time(shipment.estimated_delivery_time.as_ref()),
        ));
    }
    if shipment.deliver_time.is_some() {
        fields.push(("delivered", format_time(shipment.deliver_time.as_ref())));
    }
    fields
}

/// A point as `12.971600,77.594600` (degrees, the wire's micro-degree precision).
pub fn format_point(point: &GeoPoint) -> String {
    format!(
        "{},{}",
        format_degrees(point.latitude_e6),
        format_degrees(point.longitude_e6)
    )
}

fn format_degrees(e6: i64) -> String {
    let sign = if e6 < 0 { "-" } else { "" };
    let abs = e6.unsigned_abs();
    format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
}

/// Degrees as typed (`12.9716`, `-0.5`) in micro-degrees, no float on the way; at most six
/// decimals and within ±`limit` degrees.
pub fn parse_degrees(text: &str, limit: i64) -> Result<i64, String> {
    let text = text.trim();
    let invalid = || format!("expected degrees like 12.9716, got {text:?}");
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 6 {
        return Err(invalid());
    }
    let whole: i64 = whole.parse().map_err(|_| invalid())?;
    let fraction: i64 = format!("{fraction:0<6}").parse().map_err(|_| invalid())?;
    let e6 = whole
        .checked_mul(1_000_000)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(invalid)?;
    if e6 > limit * 1_000_000 {
        return Err(format!("must be between -{limit} and {limit} degrees"));
    }
    Ok(if negative { -e6 } else { e6 })
}

/// A point given as `LAT,LNG`.
pub fn parse_point(text: &str) -> Result<GeoPoint, String> {
    let (lat, lng) = text
        .split_once(',')
        .ok_or_else(|| format!("expected LAT,LNG like 12.9716,77.5946, got {text:?}"))?;
    Ok(GeoPoint {
        latitude_e6: parse_degrees(lat, 90)?,
        longitude_e6: parse_degrees(lng, 180)?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use mandi_sdk::proto::mandi::common::v1::Money;
    use tonic_types::ErrorDetails;

    use super::*;

    fn refused(reason: &str, message: &str) -> tonic::Status {
        let details = ErrorDetails::with_error_info(reason, "mandi.shipping", HashMap::new());
        tonic::Status::with_error_details(Code::FailedPrecondition, message, details)
    }

    #[test]
    fn shipping_reasons_read_as_what_to_do() {
        let wrong = explain(
            &refused("WRONG_DELIVERY_CODE", "wrong delivery code"),
            "deliver",
        )
        .unwrap();
        assert!(wrong.starts_with("deliver: that is not the customer's delivery code"));
        assert!(wrong.contains("mandi delivery track"));
        let locked = explain(&refused("DELIVERY_CODE_LOCKED", "locked"), "deliver").unwrap();
        assert!(locked.contains("mandi rider fail"), "{locked}");
        let slot = explain(&refused("SLOT_UNAVAILABLE", "full"), "book").unwrap();
        assert!(slot.contains("mandi delivery slots"), "{slot}");
        let zone = explain(&refused("UNSERVICEABLE_ADDRESS", "no zone"), "slots").unwrap();
        assert!(zone.contains("does not deliver to this address"), "{zone}");
        let illegal = explain(
            &refused("ILLEGAL_TRANSITION", "cannot go from pending to delivered"),
            "deliver",
        )
        .unwrap();
        assert!(
            illegal.contains("cannot go from pending to delivered"),
            "{illegal}"
        );
    }

    #[test]
    fn other_statuses_are_left_to_the_common_mapping() {
        assert_eq!(explain(&refused("SOMETHING_ELSE", "x"), "a"), None);
        assert_eq!(explain(&tonic::Status::not_found("gone"), "a"), None);
    }

    #[test]
    fn degrees_parse_to_micro_degrees_without_floats() {
        assert_eq!(parse_degrees("12.9716", 90), Ok(12_971_600));
        assert_eq!(parse_degrees("-0.5", 90), Ok(-500_000));
        assert_eq!(parse_degrees("+77", 180), Ok(77_000_000));
        assert_eq!(parse_degrees("180", 180), Ok(180_000_000));
        assert!(
            parse_degrees("91", 90)
                .unwrap_err()
                .contains("between -90 and 90")
        );
        assert!(
            parse_degrees("1.1234567", 90)
                .unwrap_err()
                .contains("12.9716")
        );
        assert!(parse_degrees("north", 90).unwrap_err().contains("12.9716"));
        assert!(parse_degrees(".5", 90).is_err());
        assert!(parse_degrees("1.-5", 90).is_err());
    }

    #[test]
    fn points_read_and_print_as_lat_comma_lng() {
        let point = parse_point("12.9716,-77.5946").unwrap();
        assert_eq!(point.latitude_e6, 12_971_600);
        assert_eq!(point.longitude_e6, -77_594_600);
        assert_eq!(format_point(&point), "12.971600,-77.594600");
        assert!(parse_point("12.9").unwrap_err().contains("LAT,LNG"));
    }

    #[test]
    fn a_shipment_shows_cold_chain_cash_and_rider() {
        let shipment = Shipment {
            id: "s1".into(),
            tracking_code: "MND-7K3Q9".into(),
            status: ShipmentStatus::OutForDelivery as i32,
            cold_chain: true,
            cash_to_collect: Some(Money {
                currency_code: "INR".into(),
                amount_minor: 25_000,
            }),
            rider_display_name: "Ravi".into(),
            rider_location: Some(GeoPoint {
                latitude_e6: 12_971_600,
                longitude_e6: 77_594_600,
            }),
            ..Default::default()
        };
        let fields: HashMap<_, _> = fields(&shipment).into_iter().collect();
        assert_eq!(fields["status"], "out for delivery");
        assert_eq!(fields["cold chain"], "yes: keep it chilled");
        assert_eq!(fields["cash to collect"], "₹250.00");
        assert_eq!(fields["rider"], "Ravi (not accepted yet)");
        assert!(fields["rider at"].starts_with("12.971600,77.594600"));
        let paid = Shipment {
            cash_to_collect: Some(Money {
                currency_code: "INR".into(),
                amount_minor: 0,
            }),
            ..Default::default()
        };
        assert_eq!(cash_due(&paid), None);
    }
}
