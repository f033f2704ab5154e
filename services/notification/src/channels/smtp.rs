//! Email over SMTP with lettre: a multipart/alternative message (text and HTML) to the
//! delivery's address. Plain SMTP to a relay (the local sink in tests, a mail relay in
//! the cluster that does TLS onwards). 4xx replies and connection failures are transient
//! (rate limits, greylisting, a relay restarting); 5xx replies are permanent.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

use super::{Channel, SendError, SendFuture};
use crate::domain::Delivery;

/// Sends email through an SMTP relay.
pub struct SmtpChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpChannel {
    /// Sends through `host:port` as `from` (`mandi <no-reply@mandi.local>`), each
    /// exchange bounded by `timeout`.
    pub fn new(host: &str, port: u16, from: &str, timeout: Duration) -> Result<Self, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("{from:?} is not a mailbox: {e}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .timeout(Some(timeout))
            .build();
        Ok(Self { transport, from })
    }

    async fn deliver(&self, delivery: &Delivery) -> Result<(), SendError> {
        let to: Mailbox = delivery
            .recipient
            .parse()
            .map_err(|e| SendError::Permanent(format!("bad address: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(delivery.subject.clone())
            .message_id(Some(format!("<{}@mandi.notification>", delivery.id)))
            .multipart(MultiPart::alternative_plain_html(
                delivery.body.clone(),
                delivery.html.clone(),
            ))
            .map_err(|e| SendError::Permanent(format!("cannot build the email: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_permanent() => {
                Err(SendError::Permanent(format!("smtp refused: {error}")))
            }
            Err(error) => Err(SendError::Transient(format!("smtp failed: {error}"))),
        }
    }
}

impl Channel for SmtpChannel {
    fn send<'a>(&'a self, delivery: &'a Delivery) -> SendFuture<'a> {
        Box::pin(self.deliver(delivery))
    }
}
