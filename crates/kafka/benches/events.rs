//! Events per second through publish → broker → consume → handler, with acks=all, and the
//! end-to-end latency (the event's occur time to its handling) p50/p99: through mandi's
//! publisher and consumer runner, beside plain rdkafka producing and consuming the same
//! encoded envelopes, in the same run against the same broker (`make up`'s tansu at
//! `MANDI_TEST_KAFKA_BROKERS`, default 127.0.0.1:9092). Each round starts its clock once the
//! consumer has joined its group and seen a warm-up event. Only the ratio travels.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use mandi_kafka::consumer::{ConsumedEvent, ConsumerSettings, EventHandler, HandlingError, Runner};
use mandi_kafka::{KafkaConfig, KafkaPublisher};
use mandi_runtime::events::{EventPublisher, envelope};
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use mandi_sdk::proto::mandi::events::v1::{EventEnvelope, StockLow};
use prost::Message as _;
use rdkafka::Message as _;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};

const EVENTS: usize = 20_000;
const KEYS: usize = 64;
const IN_FLIGHT: usize = 256;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

struct Figures {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

async fn run() -> Result<(), BoxError> {
    let brokers =
        std::env::var("MANDI_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let config = KafkaConfig::new(brokers, "events-bench");
    let mut raw = Vec::new();
    let mut mandi = Vec::new();
    for round in 0..3 {
        raw.push(plain_rdkafka(&config, round).await?);
        mandi.push(through_mandi(&config, round).await?);
    }
    let median =
        |runs: &[Figures], f: fn(&Figures) -> f64| mandi_testkit::bench::median(runs.iter().map(f));
    println!(
        "Events through the broker, {EVENTS} events over {KEYS} keys, acks=all, 3 partitions, median of 3 rounds"
    );
    for (name, runs) in [
        ("plain rdkafka", &raw),
        ("mandi publisher + runner", &mandi),
    ] {
        println!(
            "  {name:<26} {:>8.0} events/s   end to end p50 {:>7.1} ms   p99 {:>7.1} ms",
            median(runs, |f| f.per_second),
            median(runs, |f| f.p50.as_secs_f64() * 1e3),
            median(runs, |f| f.p99.as_secs_f64() * 1e3),
        );
    }
    println!(
        "  ratio mandi / plain        {:>8.2} by events/s",
        median(&mandi, |f| f.per_second) / median(&raw, |f| f.per_second)
    );
    Ok(())
}

fn topic(kind: &str, round: usize) -> String {
    format!(
        "mandi.bench.{kind}.{round}.{}",
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or_default()
    )
}

fn stock_low(key: &str, n: i64) -> EventEnvelope {
    envelope("bench", "product", key, |meta| {
        Payload::StockLow(StockLow {
            event_id: meta.event_id,
            occur_time: Some(meta.occur_time),
            product_id: key.to_owned(),
            available_quantity: n,
            low_stock_threshold: 10,
        })
    })
}

/// How long ago the envelope's event occurred.
fn age(envelope: &EventEnvelope) -> Duration {
    let Some(at) = envelope.occur_time else {
        return Duration::ZERO;
    };
    let at = SystemTime::UNIX_EPOCH + Duration::new(at.seconds as u64, at.nanos as u32);
    SystemTime::now().duration_since(at).unwrap_or_default()
}

fn figures(started: Instant, mut latencies: Vec<Duration>) -> Figures {
    let per_second = latencies.len() as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    Figures {
        per_second,
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// Sends `EVENTS` events, at most `IN_FLIGHT` at a time, with `send`.
async fn produce<F, Fut>(send: F) -> Result<(), BoxError>
where
    F: Fn(String, EventEnvelope) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send,
{
    let tasks: Vec<_> = (0..IN_FLIGHT)
        .map(|lane| {
            let send = send.clone();
            tokio::spawn(async move {
                for n in (lane..EVENTS).step_by(IN_FLIGHT) {
                    let key = format!("product-{}", n % KEYS);
                    let event = stock_low(&key, n as i64);
                    send(key, event).await?;
                }
                Ok::<(), BoxError>(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Waits until the consumer has joined its group and handled one warm-up event, so the
/// timed part measures the flow and not the group join.
async fn warm_up<F, Fut>(send: &F, latencies: &Mutex<Vec<Duration>>) -> Result<(), BoxError>
where
    F: Fn(String, EventEnvelope) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    send("warm-up".into(), stock_low("warm-up", -1)).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while latencies.lock().map_err(|_| "poisoned")?.is_empty() {
        if Instant::now() > deadline {
            return Err("the consumer never received the warm-up event".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    latencies.lock().map_err(|_| "poisoned")?.clear();
    Ok(())
}

async fn wait_for(latencies: &Mutex<Vec<Duration>>) -> Result<Vec<Duration>, BoxError> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = latencies.lock().map_err(|_| "poisoned")?.len();
        if done >= EVENTS {
            return Ok(std::mem::take(
                &mut *latencies.lock().map_err(|_| "poisoned")?,
            ));
        }
        if Instant::now() > deadline {
            return Err(format!("only {done} of {EVENTS} events arrived").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn plain_rdkafka(config: &KafkaConfig, round: usize) -> Result<Figures, BoxError> {
    let topic = topic("plain", round);
    KafkaPublisher::new(config.clone())?
        .ensure_topic(&topic)
        .await?;
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        .create()?;
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("group.id", format!("{topic}.group"))
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "1000")
        .create()?;
    consumer.subscribe(&[&topic])?;
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(EVENTS)));
    let sink = latencies.clone();
    let reader = tokio::spawn(async move {
        while let Ok(message) = consumer.recv().await {
            if let Ok(envelope) = EventEnvelope::decode(message.payload().unwrap_or_default())
                && let Ok(mut sink) = sink.lock()
            {
                sink.push(age(&envelope));
            }
        }
    });
    let send_topic = topic.clone();
    let send = move |key: String, event: EventEnvelope| {
        let (producer, topic) = (producer.clone(), send_topic.clone());
        async move {
            let payload = event.encode_to_vec();
            let record = FutureRecord::to(&topic).key(&key).payload(&payload);
            producer
                .send(record, Duration::from_secs(10))
                .await
                .map(|_| ())
                .map_err(|(e, _)| e.into())
        }
    };
    warm_up(&send, &latencies).await?;
    let started = Instant::now();
    produce(send).await?;
    let latencies = wait_for(&latencies).await?;
    reader.abort();
    Ok(figures(started, latencies))
}

#[derive(Clone)]
struct Measure(Arc<Mutex<Vec<Duration>>>);

impl EventHandler for Measure {
    async fn handle(&self, event: &ConsumedEvent) -> Result<(), HandlingError> {
        let age = age(&event.envelope);
        self.0
            .lock()
            .map_err(|_| HandlingError::Retry("poisoned".into()))?
            .push(age);
        Ok(())
    }
}

async fn through_mandi(config: &KafkaConfig, round: usize) -> Result<Figures, BoxError> {
    let topic = topic("mandi", round);
    let publisher = Arc::new(KafkaPublisher::new(config.clone())?);
    publisher.ensure_topic(&topic).await?;
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(EVENTS)));
    let settings = ConsumerSettings {
        group_id: format!("{topic}.group"),
        topics: vec![topic.clone()],
        max_attempts: 3,
        first_backoff: Duration::from_millis(10),
    };
    let runner = Runner::new(config, settings, Measure(latencies.clone())).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let reader = tokio::spawn(runner.run(async {
        let _ = stopped.await;
    }));
    let send = move |key: String, event: EventEnvelope| {
        let (publisher, topic) = (publisher.clone(), topic.clone());
        async move { Ok(publisher.publish(&topic, &key, event).await?) }
    };
    warm_up(&send, &latencies).await?;
    let started = Instant::now();
    produce(send).await?;
    let latencies = wait_for(&latencies).await?;
    let _ = stop.send(());
    reader.await??;
    Ok(figures(started, latencies))
}
