use mandi_sdk::proto::mandi::common::v1::Money;
use mandi_sdk::proto::mandi::shipping::v1::{DeliverySlot, ShipmentStatus};

use super::*;

/// 2025-12-01 07:00 UTC.
const SEVEN: i64 = 1_764_572_400;

fn at(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

fn slot(id: &str, booked: i32, available: bool) -> DeliverySlot {
    DeliverySlot {
        id: id.into(),
        start_time: at(SEVEN),
        end_time: at(SEVEN + 7_200),
        capacity: 10,
        booked,
        available,
        ..Default::default()
    }
}

fn event(status: ShipmentStatus, minutes: i64) -> TrackingEvent {
    TrackingEvent {
        status: status as i32,
        occur_time: at(SEVEN + minutes * 60),
        ..Default::default()
    }
}

fn shipment(events: Vec<TrackingEvent>) -> Shipment {
    let status = events
        .last()
        .map_or(ShipmentStatus::Pending as i32, |e| e.status);
    Shipment {
        id: "s1".into(),
        tracking_code: "MND-7K3Q9".into(),
        order_id: "o1".into(),
        status,
        rider_display_name: "Ravi".into(),
        delivery_code: "482913".into(),
        tracking_events: events,
        ..Default::default()
    }
}

fn message(shipment: Shipment, event: Option<TrackingEvent>) -> WatchShipmentResponse {
    WatchShipmentResponse {
        shipment: Some(shipment),
        event,
    }
}

#[test]
fn slots_show_places_left_and_mark_full_and_closed_ones() {
    let mut express = slot("express", 3, true);
    express.surcharge = Some(Money {
        currency_code: "INR".into(),
        amount_minor: 4_900,
    });
    express.cold_chain = true;
    let slots = [express, slot("full", 10, false), slot("late", 2, false)];
    let table = slots_table(&slots, None).render();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0],
        "WHEN                        LEFT     SURCHARGE  COLD CHAIN  SLOT"
    );
    assert_eq!(
        lines[1],
        "2025-12-01 07:00–09:00 UTC  7 of 10  +₹49.00    yes         express"
    );
    assert!(lines[2].contains("  full  ") && lines[2].ends_with("no          full"));
    assert!(lines[3].contains("  closed  "), "{}", lines[3]);

    // Away from UTC the reader's own clock comes first.
    let ist = chrono::FixedOffset::east_opt(330 * 60).unwrap();
    let local = slots_table(&slots, Some(ist)).render();
    let lines: Vec<&str> = local.lines().collect();
    assert!(lines[0].starts_with("LOCAL  "), "{local}");
    assert!(
        lines[1].starts_with("2025-12-01 12:30–14:30 +05:30  2025-12-01 07:00–09:00 UTC"),
        "{local}"
    );
}

#[test]
fn tracking_starts_with_the_code_and_what_happened_so_far() {
    let mut view = TrackView::default();
    let now = shipment(vec![
        event(ShipmentStatus::Pending, 0),
        event(ShipmentStatus::Assigned, 5),
    ]);
    let lines = view.lines(&message(now, None));
    assert_eq!(lines[0], "tracking MND-7K3Q9 (order o1) to ");
    assert_eq!(
        lines[2],
        "delivery code 482913: tell this code to the rider at the door"
    );
    assert_eq!(lines[3], "2025-12-01 07:00 UTC  pending");
    assert_eq!(lines[4], "2025-12-01 07:05 UTC  assigned  rider Ravi");
    assert_eq!(lines.len(), 5);
}

#[test]
fn a_reconnect_repeating_the_current_shipment_prints_nothing_twice() {
    let mut view = TrackView::default();
    let now = shipment(vec![event(ShipmentStatus::Assigned, 5)]);
    view.lines(&message(now.clone(), None));
    assert!(view.lines(&message(now, None)).is_empty());
}

#[test]
fn each_update_prints_one_line_with_note_location_and_eta() {
    let mut view = TrackView::default();
    let mut events = vec![event(ShipmentStatus::Assigned, 5)];
    view.lines(&message(shipment(events.clone()), None));

    let mut out = event(ShipmentStatus::OutForDelivery, 20);
    out.note = "on the way".into();
    out.location = Some(GeoPoint {
        latitude_e6: 12_971_600,
        longitude_e6: 77_594_600,
    });
    out.estimated_delivery_time = at(SEVEN + 45 * 60);
    events.push(out.clone());
    let lines = view.lines(&message(shipment(events.clone()), Some(out)));
    assert_eq!(
        lines,
        vec![
            "2025-12-01 07:20 UTC  out for delivery  on the way, rider Ravi, at \
             12.971600,77.594600, ETA 2025-12-01 07:45 UTC"
        ]
    );

    // The rider moving is not a new status, but it is news.
    let mut moved = shipment(events.clone());
    moved.rider_location = Some(GeoPoint {
        latitude_e6: 12_980_000,
        longitude_e6: 77_600_000,
    });
    moved.rider_location_time = at(SEVEN + 25 * 60);
    let lines = view.lines(&message(moved, None));
    assert_eq!(
        lines,
        vec!["2025-12-01 07:25 UTC  rider Ravi at 12.980000,77.600000"]
    );

    let delivered = event(ShipmentStatus::Delivered, 40);
    events.push(delivered.clone());
    let done = shipment(events);
    assert!(is_terminal(done.status()));
    assert_eq!(
        view.lines(&message(done, Some(delivered))),
        vec!["2025-12-01 07:40 UTC  delivered  rider Ravi"]
    );
}

#[test]
fn a_note_naming_the_rider_is_not_repeated() {
    let mut assigned = event(ShipmentStatus::Assigned, 5);
    assigned.note = "Ravi will deliver your order".into();
    assigned.estimated_delivery_time = at(SEVEN + 60 * 60);
    assert_eq!(
        event_line(&assigned, &shipment(vec![assigned.clone()])),
        "2025-12-01 07:05 UTC  assigned  Ravi will deliver your order, ETA 2025-12-01 08:00 UTC"
    );
}

#[test]
fn the_code_is_not_offered_for_a_shipment_already_delivered() {
    let mut view = TrackView::default();
    let done = shipment(vec![event(ShipmentStatus::Delivered, 40)]);
    let lines = view.lines(&message(done, None));
    assert!(
        !lines.iter().any(|l| l.contains("delivery code")),
        "{lines:?}"
    );
}

#[test]
fn a_broken_connection_is_retried_but_a_server_refusal_is_not() {
    assert!(is_transient(&tonic::Status::unavailable("draining")));
    assert!(is_transient(&tonic::Status::deadline_exceeded("slow")));
    // What tonic reports when the connection drops mid-stream: UNKNOWN, the I/O error kept.
    let broken = tonic::Status::from_error(Box::new(std::io::Error::other("connection reset")));
    assert_eq!(broken.code(), tonic::Code::Unknown);
    assert!(is_transient(&broken));
    // The same codes sent by a server carry no source.
    assert!(!is_transient(&tonic::Status::unknown("boom")));
    assert!(!is_transient(&tonic::Status::internal("boom")));
    assert!(!is_transient(&tonic::Status::permission_denied(
        "not yours"
    )));
}
