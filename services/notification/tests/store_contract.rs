//! One contract for the notification store, run against the in-memory twin and
//! PostgreSQL (a fresh database per case; those cases fail when the server is missing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Duration, Utc};
use mandi_notification::domain::{ChannelKind, Delivery, DeliveryFilter, DeliveryStatus, Rendered};
use mandi_notification::store::memory::MemoryStore;
use mandi_notification::store::postgres::PgStore;
use mandi_notification::store::{NotificationStore, Recorded, Source};
use uuid::Uuid;

fn delivery(user: Option<Uuid>, channel: ChannelKind, event_id: &str) -> Delivery {
    let rendered = Rendered {
        subject: "Your mandi order o-1 is placed".into(),
        body: "Thank you!".into(),
        html: "<p>Thank you!</p>".into(),
    };
    let mut d = Delivery::queued(
        channel,
        "asha@example.in",
        "order_placed",
        rendered,
        3,
        mandi_notification::domain::now(),
    );
    d.user_id = user;
    d.data = BTreeMap::from([("order_id".to_owned(), "o-1".to_owned())]);
    d.event_id = event_id.into();
    d.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736".into();
    d
}

async fn the_same_event_twice_records_one_notification(store: impl NotificationStore) {
    let user = Uuid::now_v7();
    let source = Source::Event("e-1".into());
    assert!(!store.seen(&source).await.unwrap());
    let first = vec![
        delivery(Some(user), ChannelKind::Email, "e-1"),
        delivery(Some(user), ChannelKind::Sms, "e-1"),
    ];
    let Recorded::New(recorded) = store.record(&source, first.clone()).await.unwrap() else {
        panic!("first record is new");
    };
    assert_eq!(recorded, first);
    assert!(store.seen(&source).await.unwrap());

    let again = vec![delivery(Some(user), ChannelKind::Email, "e-1")];
    let Recorded::Existing { deliveries, .. } = store.record(&source, again).await.unwrap() else {
        panic!("second record finds the first");
    };
    assert_eq!(deliveries, first, "the first deliveries, in their order");
    let listed = store
        .list(
            &DeliveryFilter {
                user_id: Some(user),
                ..DeliveryFilter::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
}

async fn an_event_with_no_message_is_still_remembered(store: impl NotificationStore) {
    let source = Source::Event("e-quiet".into());
    store.record(&source, Vec::new()).await.unwrap();
    assert!(store.seen(&source).await.unwrap());
    assert!(matches!(
        store.record(&source, Vec::new()).await.unwrap(),
        Recorded::Existing { deliveries, .. } if deliveries.is_empty()
    ));
}

async fn a_request_keeps_its_fingerprint(store: impl NotificationStore) {
    let source = Source::Request {
        request_id: "r-1".into(),
        fingerprint: "abc".into(),
    };
    store
        .record(&source, vec![delivery(None, ChannelKind::Email, "")])
        .await
        .unwrap();
    let other = Source::Request {
        request_id: "r-1".into(),
        fingerprint: "xyz".into(),
    };
    let Recorded::Existing {
        fingerprint,
        deliveries,
    } = store.record(&other, Vec::new()).await.unwrap()
    else {
        panic!("the key is taken");
    };
    assert_eq!((fingerprint.as_str(), deliveries.len()), ("abc", 1));
    // An event and a request never share a key.
    assert!(!store.seen(&Source::Event("r-1".into())).await.unwrap());
}

async fn listing_is_newest_first_filtered_and_paged(store: impl NotificationStore) {
    let asha = Uuid::now_v7();
    let ravi = Uuid::now_v7();
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut d = delivery(Some(asha), ChannelKind::Email, &format!("a-{i}"));
        if i == 2 {
            d.channel = ChannelKind::Sms;
            d.status = DeliveryStatus::Suppressed;
        }
        ids.push(d.id);
        store
            .record(&Source::Event(format!("a-{i}")), vec![d])
            .await
            .unwrap();
    }
    store
        .record(
            &Source::Event("r-0".into()),
            vec![delivery(Some(ravi), ChannelKind::Email, "r-0")],
        )
        .await
        .unwrap();

    let mine = DeliveryFilter {
        user_id: Some(asha),
        ..DeliveryFilter::default()
    };
    let first = store.list(&mine, None, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|d| d.id).collect::<Vec<_>>(),
        [ids[4], ids[3]]
    );
    let second = store.list(&mine, Some(ids[3]), 10).await.unwrap();
    assert_eq!(
        second.iter().map(|d| d.id).collect::<Vec<_>>(),
        [ids[2], ids[1], ids[0]]
    );
    let sms = DeliveryFilter {
        channel: Some(ChannelKind::Sms),
        status: Some(DeliveryStatus::Suppressed),
        ..mine.clone()
    };
    assert_eq!(store.list(&sms, None, 10).await.unwrap().len(), 1);
    let by_event = DeliveryFilter {
        event_id: Some("r-0".into()),
        ..DeliveryFilter::default()
    };
    let found = store.list(&by_event, None, 10).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].user_id, Some(ravi));
    assert_eq!(
        store
            .list(&DeliveryFilter::default(), None, 100)
            .await
            .unwrap()
            .len(),
        6
    );
    assert_eq!(store.get(ids[0]).await.unwrap().unwrap().event_id, "a-0");
    assert!(store.get(Uuid::now_v7()).await.unwrap().is_none());
}

async fn due_deliveries_are_claimed_once_and_attempts_saved(store: impl NotificationStore) {
    let now = mandi_notification::domain::now();
    let mut suppressed = delivery(None, ChannelKind::Sms, "e-1");
    suppressed.status = DeliveryStatus::Suppressed;
    let mut later = delivery(None, ChannelKind::Email, "e-1");
    later.status = DeliveryStatus::Retrying;
    later.next_attempt_at = Some(now + Duration::minutes(5));
    let due = delivery(None, ChannelKind::Email, "e-1");
    store
        .record(
            &Source::Event("e-1".into()),
            vec![suppressed, later.clone(), due.clone()],
        )
        .await
        .unwrap();

    let lease = now + Duration::seconds(30);
    let claimed = store.claim_due(now, lease, 10).await.unwrap();
    assert_eq!(claimed.iter().map(|d| d.id).collect::<Vec<_>>(), [due.id]);
    assert!(
        store.claim_due(now, lease, 10).await.unwrap().is_empty(),
        "a claimed delivery is hidden until its lease ends"
    );

    let mut sent = claimed[0].clone();
    sent.attempted(Utc::now(), Ok(()), std::time::Duration::from_secs(1));
    store.save_attempt(&sent).await.unwrap();
    let stored = store.get(due.id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.attempts), (DeliveryStatus::Sent, 1));
    assert!(stored.sent_at.is_some());

    // After its lease a claimed delivery that was never saved comes back; so does the
    // retry once it is due.
    let after = now + Duration::minutes(10);
    let claimed = store
        .claim_due(after, after + Duration::seconds(30), 10)
        .await
        .unwrap();
    assert_eq!(claimed.iter().map(|d| d.id).collect::<Vec<_>>(), [later.id]);
}

async fn saving_an_unknown_delivery_fails(store: impl NotificationStore) {
    let ghost = delivery(None, ChannelKind::Email, "");
    assert!(store.save_attempt(&ghost).await.is_err());
}

async fn concurrent_records_of_one_event_store_it_once(store: impl NotificationStore) {
    let store = Arc::new(store);
    let source = Source::Event("race".into());
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        let source = source.clone();
        tasks.push(tokio::spawn(async move {
            store
                .record(&source, vec![delivery(None, ChannelKind::Email, "race")])
                .await
                .unwrap()
        }));
    }
    let mut new = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), Recorded::New(_)) {
            new += 1;
        }
    }
    assert_eq!(new, 1);
    let all = store
        .list(
            &DeliveryFilter {
                event_id: Some("race".into()),
                ..DeliveryFilter::default()
            },
            None,
            50,
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
}

async fn postgres() -> PgStore {
    PgStore::connect(&mandi_testkit::fresh_database().await)
        .await
        .unwrap()
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::MemoryStore::default()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::postgres().await).await;
                }
            )*
        }
    };
}

contract!(
    the_same_event_twice_records_one_notification,
    an_event_with_no_message_is_still_remembered,
    a_request_keeps_its_fingerprint,
    listing_is_newest_first_filtered_and_paged,
    due_deliveries_are_claimed_once_and_attempts_saved,
    saving_an_unknown_delivery_fails,
    concurrent_records_of_one_event_store_it_once,
);
