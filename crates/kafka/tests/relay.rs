//! The outbox relay publishing to a real broker that goes away and comes back: rows stay
//! pending while it is down and drain, in order, once it is back. Runs its own tansu broker
//! (the binary `make up` installs in tools/kafka/bin) on a free port, so stopping it
//! disturbs no other test; fails when the binary is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mandi_kafka::consumer::{ConsumedEvent, ConsumerSettings, EventHandler, HandlingError, Runner};
use mandi_kafka::{KafkaConfig, KafkaPublisher};
use mandi_runtime::events::envelope;
use mandi_runtime::outbox::{OutboxError, OutboxRecord, OutboxStore, Relay};
use mandi_sdk::proto::mandi::events::v1::OrderStatusChanged;
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;

/// A tansu broker of this test's own.
struct Broker {
    child: Child,
    port: u16,
}

impl Broker {
    fn binary() -> PathBuf {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/kafka/bin/tansu");
        assert!(
            path.exists(),
            "{} is missing: run `make up`",
            path.display()
        );
        path
    }

    fn start(port: u16) -> Self {
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(Self::binary())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "tansu did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }

    fn stop(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An outbox table in memory: (record, sent).
#[derive(Default)]
struct Outbox(Mutex<Vec<(OutboxRecord, bool)>>);

impl Outbox {
    fn write(&self, order: &str, step: i32) {
        let mut rows = self.0.lock().unwrap();
        let sequence = rows.len() as i64 + 1;
        let envelope = envelope("order", "order", order, |meta| {
            Payload::OrderStatusChanged(OrderStatusChanged {
                event_id: meta.event_id,
                occur_time: Some(meta.occur_time),
                order_id: order.to_owned(),
                reason: step.to_string(),
                ..Default::default()
            })
        });
        rows.push((
            OutboxRecord {
                sequence,
                envelope,
                trace_headers: Vec::new(),
            },
            false,
        ));
    }

    fn pending_count(&self) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, sent)| !sent)
            .count()
    }
}

impl OutboxStore for Outbox {
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxRecord>, OutboxError> {
        let rows = self.0.lock().unwrap();
        Ok(rows
            .iter()
            .filter(|(_, s)| !s)
            .take(limit)
            .map(|(r, _)| r.clone())
            .collect())
    }

    async fn mark_sent(&self, sequence: i64) -> Result<(), OutboxError> {
        let mut rows = self.0.lock().unwrap();
        if let Some((_, sent)) = rows.iter_mut().find(|(r, _)| r.sequence == sequence) {
            *sent = true;
        }
        Ok(())
    }
}

/// Collects (order id, step) of each OrderStatusChanged it consumes.
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<(String, i32)>>>);

impl EventHandler for Collect {
    async fn handle(&self, event: &ConsumedEvent) -> Result<(), HandlingError> {
        let Some(Payload::OrderStatusChanged(changed)) = &event.envelope.payload else {
            return Err(HandlingError::Reject("not an OrderStatusChanged".into()));
        };
        let step = changed
            .reason
            .parse()
            .map_err(|_| HandlingError::Reject("bad step".into()))?;
        self.0
            .lock()
            .unwrap()
            .push((changed.order_id.clone(), step));
        Ok(())
    }
}

#[tokio::test]
async fn with_the_broker_down_outbox_rows_stay_pending_and_drain_in_order_when_it_is_back() {
    let broker = Broker::start(free_port());
    let config = KafkaConfig {
        send_timeout: Duration::from_secs(2),
        ..KafkaConfig::new(format!("127.0.0.1:{}", broker.port), "relay-test")
    };
    let outbox = Arc::new(Outbox::default());
    let relay = Relay::new(
        outbox.clone(),
        KafkaPublisher::new(config.clone()).unwrap(),
        50,
    );
    for step in 0..20 {
        outbox.write(&format!("order-{}", step % 4), step);
    }
    assert_eq!(relay.drain().await.unwrap().published, 20);

    // The broker goes away; the service keeps writing.
    let port = broker.stop();
    for step in 20..60 {
        outbox.write(&format!("order-{}", step % 4), step);
    }
    let pass = relay.drain().await.unwrap();
    assert!(pass.stalled);
    assert_eq!(pass.published, 0);
    assert_eq!(
        outbox.pending_count(),
        40,
        "nothing is marked sent while the broker is down"
    );

    // Back (empty: memory storage). The same relay drains what waited, in order.
    let _broker = Broker::start(port);
    let started = Instant::now();
    while outbox.pending_count() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the outbox did not drain"
        );
        relay.drain().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let collected = Collect::default();
    let settings = ConsumerSettings {
        group_id: "relay-test-reader".into(),
        topics: vec!["mandi.order.events.v1".into()],
        max_attempts: 1,
        first_backoff: Duration::from_millis(10),
    };
    let runner = Runner::new(&config, settings, collected.clone())
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runner.run(async {
        let _ = stopped.await;
    }));
    let started = Instant::now();
    while collected.0.lock().unwrap().len() < 40 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the drained events did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    let events = collected.0.lock().unwrap();
    assert_eq!(events.len(), 40);
    for order in 0..4 {
        let steps: Vec<i32> = events
            .iter()
            .filter(|(id, _)| id == &format!("order-{order}"))
            .map(|(_, step)| *step)
            .collect();
        let expected: Vec<i32> = (20..60).filter(|s| s % 4 == order).collect();
        assert_eq!(steps, expected, "order-{order} in order");
    }
}
