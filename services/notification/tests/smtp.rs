//! The SMTP channel against a local SMTP sink this test starts (a small SMTP server on
//! tokio): a message arrives with its subject and both parts; a 4xx reply (rate limited)
//! is retried with backoff until it goes through; a 5xx reply fails the delivery at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mandi_notification::channels::smtp::SmtpChannel;
use mandi_notification::channels::{Channel, Channels, LogChannel, SendError};
use mandi_notification::domain::{ChannelKind, Delivery, DeliveryStatus, Rendered};
use mandi_notification::notifier::Dispatcher;
use mandi_notification::store::memory::MemoryStore;
use mandi_notification::store::{NotificationStore, Source};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;
use uuid::Uuid;

/// A mail the sink accepted.
#[derive(Debug, Clone)]
struct Mail {
    from: String,
    to: Vec<String>,
    data: String,
}

/// An SMTP server that keeps what it receives; it answers MAIL FROM with each of
/// `refusals` in turn before it accepts.
#[derive(Clone)]
struct Sink {
    port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl Sink {
    async fn start(refusals: Vec<&'static str>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let refusals = Arc::new(Mutex::new(refusals));
        let kept = mails.clone();
        tokio::spawn(async move {
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                let mails = kept.clone();
                let refusals = refusals.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                    let mut mail = Mail {
                        from: String::new(),
                        to: Vec::new(),
                        data: String::new(),
                    };
                    while let Ok(Some(line)) = lines.next_line().await {
                        let upper = line.to_ascii_uppercase();
                        let reply: String =
                            if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                                "250 sink\r\n".into()
                            } else if upper.starts_with("MAIL FROM") {
                                let refusal = {
                                    let mut r = refusals.lock().unwrap();
                                    (!r.is_empty()).then(|| r.remove(0))
                                };
                                match refusal {
                                    Some(refusal) => format!("{refusal}\r\n"),
                                    None => {
                                        mail.from = line[10..].trim().to_owned();
                                        "250 ok\r\n".into()
                                    }
                                }
                            } else if upper.starts_with("RCPT TO") {
                                mail.to.push(line[8..].trim().to_owned());
                                "250 ok\r\n".into()
                            } else if upper == "DATA" {
                                write.write_all(b"354 end with .\r\n").await.unwrap();
                                while let Ok(Some(data)) = lines.next_line().await {
                                    if data == "." {
                                        break;
                                    }
                                    mail.data.push_str(&data);
                                    mail.data.push('\n');
                                }
                                mails.lock().unwrap().push(mail.clone());
                                "250 queued\r\n".into()
                            } else if upper == "QUIT" {
                                write.write_all(b"221 bye\r\n").await.unwrap();
                                return;
                            } else {
                                "250 ok\r\n".into()
                            };
                        if write.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self { port, mails }
    }

    fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    fn channel(&self) -> SmtpChannel {
        SmtpChannel::new(
            "127.0.0.1",
            self.port,
            "mandi <no-reply@mandi.local>",
            Duration::from_secs(5),
        )
        .unwrap()
    }
}

fn email(to: &str) -> Delivery {
    let rendered = Rendered {
        subject: "Your mandi order o-42 is placed".into(),
        body: "Thank you! We received your order o-42.".into(),
        html: "<p>Thank you! We received your order <b>o-42</b>.</p>".into(),
    };
    let mut d = Delivery::queued(
        ChannelKind::Email,
        to,
        "order_placed",
        rendered,
        3,
        mandi_notification::domain::now(),
    );
    d.user_id = Some(Uuid::now_v7());
    d.event_id = "e-42".into();
    d
}

/// Undoes quoted-printable soft line breaks, enough to read the parts.
fn unfolded(data: &str) -> String {
    data.replace("=\n", "")
}

#[tokio::test]
async fn an_email_arrives_with_its_subject_text_and_html() {
    let sink = Sink::start(vec![]).await;
    sink.channel()
        .send(&email("asha@example.in"))
        .await
        .unwrap();
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.from, "<no-reply@mandi.local>");
    assert_eq!(mail.to, ["<asha@example.in>"]);
    let data = unfolded(&mail.data);
    assert!(
        data.contains("Subject: Your mandi order o-42 is placed"),
        "{data}"
    );
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(
        data.contains("Thank you! We received your order o-42."),
        "{data}"
    );
    assert!(data.contains("<b>o-42</b>"), "{data}");
}

#[tokio::test]
async fn a_rate_limited_email_is_retried_with_backoff_until_it_goes_through() {
    let sink = Sink::start(vec!["421 4.7.0 too many messages, slow down"]).await;
    let store = Arc::new(MemoryStore::default());
    let delivery = email("asha@example.in");
    store
        .record(&Source::Event("e-42".into()), vec![delivery.clone()])
        .await
        .unwrap();
    let channels = Channels::all(Arc::new(LogChannel::default()))
        .with(ChannelKind::Email, Arc::new(sink.channel()));
    let dispatcher = Dispatcher::new(store.clone(), channels, Duration::from_millis(50));

    assert_eq!(dispatcher.run_once().await.unwrap(), 1);
    let retrying = store.get(delivery.id).await.unwrap().unwrap();
    assert_eq!(retrying.status, DeliveryStatus::Retrying);
    assert!(
        retrying.last_error.contains("421"),
        "{}",
        retrying.last_error
    );
    assert_eq!(
        dispatcher.run_once().await.unwrap(),
        0,
        "nothing is due before the backoff"
    );

    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(dispatcher.run_once().await.unwrap(), 1);
    let sent = store.get(delivery.id).await.unwrap().unwrap();
    assert_eq!((sent.status, sent.attempts), (DeliveryStatus::Sent, 2));
    assert_eq!(sink.mails().len(), 1);
}

#[tokio::test]
async fn a_refused_address_fails_the_delivery_at_once() {
    let sink = Sink::start(vec!["550 5.1.1 mailbox unavailable"]).await;
    let err = sink
        .channel()
        .send(&email("nobody@example.in"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendError::Permanent(ref m) if m.contains("550")),
        "{err:?}"
    );
    assert!(sink.mails().is_empty());
}

#[tokio::test]
async fn an_unreachable_relay_is_a_transient_failure() {
    // Bind and drop: nothing listens on the port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let channel = SmtpChannel::new(
        "127.0.0.1",
        port,
        "mandi <no-reply@mandi.local>",
        Duration::from_secs(2),
    )
    .unwrap();
    let err = channel.send(&email("asha@example.in")).await.unwrap_err();
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
}
