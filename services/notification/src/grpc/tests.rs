#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use mandi_kafka::consumer::{ConsumedEvent, EventHandler as _};
use mandi_runtime::events::envelope;
use mandi_sdk::proto::mandi::events::v1::OrderCreated;
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use mandi_sdk::proto::mandi::notification::v1::notification_service_server::NotificationService as _;
use mandi_testkit::status::bad_request_fields as fields;
use tokio::sync::Notify;

use super::*;
use crate::directory::StaticDirectory;
use crate::domain::{Contact, Preferences, Recipient, Rendered};
use crate::notifier::Settings;
use crate::store::memory::MemoryStore;

type Service = NotificationGrpc<MemoryStore, StaticDirectory>;

fn service() -> (Service, StaticDirectory) {
    let directory = StaticDirectory::default();
    let notifier = Notifier::new(
        Arc::new(MemoryStore::default()),
        directory.clone(),
        Settings::default(),
        Arc::new(Notify::new()),
    );
    (NotificationGrpc::new(notifier), directory)
}

fn as_user<T>(user: Uuid, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.extensions_mut().insert(Caller {
        subject: user.to_string(),
        roles: vec![roles::CUSTOMER.into()],
        service: None,
    });
    request
}

#[test]
fn a_bad_send_request_names_every_field() {
    let err = send_request(pb::SendNotificationRequest {
        user_id: "nope".into(),
        channels: vec![pb::Channel::Email as i32, 42],
        template: " ".into(),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(
        fields(&to_status(err)),
        ["user_id", "channels[1]", "template"]
    );
}

#[test]
fn a_raw_recipient_must_fit_its_channel() {
    let err = send_request(pb::SendNotificationRequest {
        channels: vec![pb::Channel::Sms as i32],
        template: "promotion".into(),
        recipient: "ops@mandi.local".into(),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(fields(&to_status(err)), ["recipient"]);
}

#[test]
fn a_listing_with_an_unknown_status_or_channel_is_invalid() {
    let bad_status = filter(&pb::ListDeliveriesRequest {
        status: 99,
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(fields(&to_status(bad_status)), ["status"]);
    let bad_channel = filter(&pb::ListDeliveriesRequest {
        channel: 99,
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(fields(&to_status(bad_channel)), ["channel"]);
}

#[test]
fn errors_map_to_their_codes_without_leaking_causes() {
    let status = to_status(NotificationError::NotFound(Uuid::now_v7()));
    assert_eq!(status.code(), Code::NotFound);
    let status = to_status(NotificationError::Unavailable("profile is down".into()));
    assert_eq!(status.code(), Code::Unavailable);
    assert!(!status.message().contains("profile"));
    let status = to_status(NotificationError::Store(crate::store::StoreError::Failed(
        "password=hunter2".into(),
    )));
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(status.message(), "internal error");
}

#[test]
fn push_recipients_are_truncated_and_retry_times_shown_only_while_retrying() {
    let now = crate::domain::now();
    let mut push = Delivery::queued(
        ChannelKind::Push,
        format!("user:{}", Uuid::now_v7()),
        "order_placed",
        Rendered::default(),
        3,
        now,
    );
    push.next_attempt_at = Some(now);
    let shown = to_proto(push.clone());
    assert!(shown.recipient.ends_with('…') && shown.recipient.len() < 24);
    assert_eq!(shown.next_attempt_time, None, "a lease is not a retry time");
    push.status = DeliveryStatus::Retrying;
    assert!(to_proto(push).next_attempt_time.is_some());
}

async fn place_orders(service: &Service, user: Uuid, n: usize) {
    for i in 0..n {
        let event = envelope("order", "order", format!("o-{i}"), |meta| {
            Payload::OrderCreated(OrderCreated {
                event_id: meta.event_id,
                order_id: format!("o-{i}"),
                user_id: user.to_string(),
                ..OrderCreated::default()
            })
        });
        service
            .notifier
            .handle(&ConsumedEvent {
                topic: "mandi.order.events.v1".into(),
                partition: 0,
                offset: i64::try_from(i).unwrap(),
                key: format!("o-{i}"),
                envelope: event,
                headers: Vec::new(),
            })
            .await
            .unwrap();
    }
}

fn page(
    user: Uuid,
    page_size: i32,
    page_token: String,
    template: &str,
) -> Request<pb::ListDeliveriesRequest> {
    as_user(
        user,
        pb::ListDeliveriesRequest {
            page_size,
            page_token,
            template: template.into(),
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn deliveries_page_newest_first_with_tokens_bound_to_the_filters() {
    let (service, directory) = service();
    let asha = Uuid::now_v7();
    directory.insert(Recipient {
        user_id: asha,
        contact: Contact {
            email: Some("asha@example.in".into()),
            phone: None,
        },
        preferences: Preferences::default(),
    });
    place_orders(&service, asha, 5).await;

    let first = service
        .list_deliveries(page(asha, 3, String::new(), ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.deliveries.len(), 3);
    assert_eq!(first.deliveries[0].template_data["order_id"], "o-4");
    let second = service
        .list_deliveries(page(asha, 3, first.next_page_token.clone(), ""))
        .await
        .unwrap()
        .into_inner();
    let orders: Vec<&str> = second
        .deliveries
        .iter()
        .map(|d| d.template_data["order_id"].as_str())
        .collect();
    assert_eq!(orders, ["o-1", "o-0"]);
    assert!(second.next_page_token.is_empty());

    let other_filters = service
        .list_deliveries(page(asha, 3, first.next_page_token, "order_placed"))
        .await
        .unwrap_err();
    assert_eq!(fields(&other_filters), ["page_token"]);
    let negative = service
        .list_deliveries(page(asha, -1, String::new(), ""))
        .await
        .unwrap_err();
    assert_eq!(fields(&negative), ["page_size"]);
}
