//! The transports, one [`Channel`] per way of reaching people: [`LogChannel`] writes each
//! message to the log and, when a directory is configured, appends it as a JSON line to
//! `<dir>/<channel>.jsonl` a developer can read; [`smtp::SmtpChannel`] sends email over
//! SMTP with lettre.

pub mod smtp;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::AsyncWriteExt as _;

use crate::domain::{ChannelKind, Delivery};

/// Why a send did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Rate limited, unreachable or a temporary refusal: try again later.
    #[error("{0}")]
    Transient(String),
    /// Refused for good (bad address, message rejected).
    #[error("{0}")]
    Permanent(String),
}

/// What a send returns.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// One transport.
pub trait Channel: Send + Sync + 'static {
    /// Hands `delivery` (rendered) to the provider.
    fn send<'a>(&'a self, delivery: &'a Delivery) -> SendFuture<'a>;
}

/// The transport of each channel.
#[derive(Clone)]
pub struct Channels {
    by_kind: HashMap<ChannelKind, Arc<dyn Channel>>,
}

impl Channels {
    /// Every channel on `fallback`.
    pub fn all(fallback: Arc<dyn Channel>) -> Self {
        Self {
            by_kind: ChannelKind::ALL
                .into_iter()
                .map(|k| (k, fallback.clone()))
                .collect(),
        }
    }

    /// `kind` on `channel` instead.
    pub fn with(mut self, kind: ChannelKind, channel: Arc<dyn Channel>) -> Self {
        self.by_kind.insert(kind, channel);
        self
    }

    /// The transport of `kind`.
    pub fn get(&self, kind: ChannelKind) -> Option<&Arc<dyn Channel>> {
        self.by_kind.get(&kind)
    }
}

/// Writes messages to the log and, with a directory, to `<dir>/<channel>.jsonl`.
#[derive(Debug, Clone, Default)]
pub struct LogChannel {
    dir: Option<PathBuf>,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl LogChannel {
    /// Logs only.
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self {
            dir,
            lock: Arc::default(),
        }
    }

    async fn write(&self, delivery: &Delivery) -> Result<(), SendError> {
        tracing::info!(
            delivery_id = %delivery.id,
            channel = delivery.channel.name(),
            recipient = %delivery.recipient,
            template = %delivery.template,
            subject = %delivery.subject,
            body = %delivery.body,
            "notification sent (local channel)"
        );
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let line = serde_json::json!({
            "id": delivery.id,
            "channel": delivery.channel.name(),
            "recipient": delivery.recipient,
            "user_id": delivery.user_id,
            "template": delivery.template,
            "subject": delivery.subject,
            "body": delivery.body,
            "html": delivery.html,
            "event_id": delivery.event_id,
            "sent_at": chrono::Utc::now(),
        })
        .to_string();
        let path = dir.join(format!("{}.jsonl", delivery.channel.name()));
        // One writer at a time keeps lines whole.
        let _guard = self.lock.lock().await;
        let io = |e: std::io::Error| {
            SendError::Transient(format!("cannot write {}: {e}", path.display()))
        };
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await
            .map_err(io)?;
        file.write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(io)?;
        file.flush().await.map_err(io)
    }
}

impl Channel for LogChannel {
    fn send<'a>(&'a self, delivery: &'a Delivery) -> SendFuture<'a> {
        Box::pin(self.write(delivery))
    }
}
