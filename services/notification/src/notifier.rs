//! The use cases. [`Notifier`] turns an event (as an [`EventHandler`]) or a
//! SendNotification request into rendered deliveries, recorded with what caused them in
//! one transaction (so the same event twice records once), then wakes the
//! [`Dispatcher`], which sends due deliveries over their channel and records each attempt:
//! sent, retried with exponential backoff on transient failures (rate limits, a relay
//! down), failed after the last attempt or a permanent refusal.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mandi_kafka::consumer::{ConsumedEvent, EventHandler, HandlingError};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::channels::{Channels, SendError};
use crate::directory::Directory;
use crate::domain::{
    self, ChannelKind, Delivery, DeliveryStatus, NotificationError, Plan, Recipient, Violation,
    templates,
};
use crate::events::{self, Audience};
use crate::store::{NotificationStore, Recorded, Source};

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Attempts per delivery before it is FAILED (at least 1).
    pub max_attempts: i32,
    /// Wait before the second attempt, doubled for each one after.
    pub backoff: Duration,
    /// Where StockLow and BatchExpiring go; `None` records them with no delivery.
    pub operations_email: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            backoff: Duration::from_secs(1),
            operations_email: None,
        }
    }
}

/// Who is asking, for the read use cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    /// A signed-in person: their own deliveries only.
    User(Uuid),
    /// An admin or an internal service: everyone's.
    Staff,
}

/// A direct request to notify (SendNotification), parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRequest {
    /// The user to notify, unless `recipient` is set.
    pub user_id: Option<Uuid>,
    /// Channels to use; empty means the user's preferred ones.
    pub channels: Vec<ChannelKind>,
    /// Template id.
    pub template: String,
    /// Template values.
    pub data: BTreeMap<String, String>,
    /// A raw address instead of a user's (needs exactly one channel).
    pub recipient: Option<String>,
    /// Idempotency key; `None` makes every call new.
    pub request_id: Option<String>,
}

/// Events and requests into deliveries.
pub struct Notifier<S, D> {
    store: Arc<S>,
    directory: D,
    settings: Settings,
    wake: Arc<Notify>,
}

impl<S: NotificationStore, D: Directory> Notifier<S, D> {
    /// Records into `store`, looking users up in `directory`; `wake` is notified when
    /// there is something to send.
    pub fn new(store: Arc<S>, directory: D, settings: Settings, wake: Arc<Notify>) -> Self {
        Self {
            store,
            directory,
            settings,
            wake,
        }
    }

    /// Records the deliveries `event` calls for, once per event id: `Ok(true)` when it
    /// recorded, `Ok(false)` when the event was seen before or needs no message.
    pub async fn on_event(&self, event: &ConsumedEvent) -> Result<bool, HandlingError> {
        let envelope = &event.envelope;
        if envelope.event_id.trim().is_empty() {
            return Err(HandlingError::Reject("the event has no event_id".into()));
        }
        let Some(notice) = events::notice(envelope).map_err(HandlingError::Reject)? else {
            return Ok(false);
        };
        let source = Source::Event(envelope.event_id.clone());
        // Redelivery is normal: answer it without asking identity and profile again.
        if self.store.seen(&source).await.map_err(retry)? {
            return Ok(false);
        }
        let template = templates::find(notice.template)
            .ok_or_else(|| HandlingError::Reject(format!("no template {}", notice.template)))?;
        let now = domain::now();
        let mut audiences = Vec::new();
        for audience in notice.audiences {
            let resolved = match audience {
                Audience::VendorOf(product) => match self.directory.vendor_of(&product).await {
                    Ok(Some(vendor)) => Audience::User(vendor),
                    Ok(None) => {
                        tracing::info!(%product, "catalog does not know the product; telling operations");
                        Audience::Operations
                    }
                    Err(error) => return Err(HandlingError::Retry(error.to_string())),
                },
                other => other,
            };
            if !audiences.contains(&resolved) {
                audiences.push(resolved);
            }
        }
        let mut deliveries = Vec::new();
        for audience in audiences {
            deliveries.extend(
                self.deliveries_to(audience, template, &notice.data, now)
                    .await?,
            );
        }
        if deliveries.is_empty() {
            tracing::info!(event_id = %envelope.event_id, template = template.id, "nobody to tell; event recorded with no delivery");
        }
        let trace_id = events::trace_id(&event.headers);
        let deliveries = deliveries
            .into_iter()
            .map(|mut d| {
                d.event_id.clone_from(&envelope.event_id);
                d.trace_id.clone_from(&trace_id);
                d
            })
            .collect();
        let recorded = self
            .store
            .record(&source, deliveries)
            .await
            .map_err(retry)?;
        self.wake.notify_one();
        Ok(matches!(recorded, Recorded::New(_)))
    }

    /// Records the deliveries `request` asks for; a repeated request id returns the first
    /// call's deliveries.
    pub async fn send(&self, request: SendRequest) -> Result<Vec<Delivery>, NotificationError> {
        let template = templates::find(&request.template).ok_or_else(|| {
            NotificationError::Invalid(vec![Violation::new("template", "is not a known template")])
        })?;
        let missing = template.missing(&request.data);
        if !missing.is_empty() {
            return Err(NotificationError::Invalid(missing));
        }
        let fingerprint = serde_json::json!({
            "user_id": request.user_id,
            "channels": request.channels.iter().map(|c| c.name()).collect::<Vec<_>>(),
            "template": request.template,
            "data": request.data,
            "recipient": request.recipient,
        })
        .to_string();
        let request_id = request
            .request_id
            .clone()
            .unwrap_or_else(|| Uuid::now_v7().to_string());
        let source = Source::Request {
            request_id: request_id.clone(),
            fingerprint: fingerprint.clone(),
        };
        let now = domain::now();
        let deliveries = match (&request.recipient, request.user_id) {
            (Some(address), _) => {
                let [channel] = request.channels[..] else {
                    return Err(NotificationError::Invalid(vec![Violation::new(
                        "channels",
                        "a raw recipient needs exactly one channel",
                    )]));
                };
                vec![self.delivery(
                    template,
                    None,
                    channel,
                    Plan::Send(address.clone()),
                    &request.data,
                    now,
                )?]
            }
            (None, Some(user)) => {
                let recipient = self
                    .directory
                    .lookup(user)
                    .await
                    .map_err(|e| NotificationError::Unavailable(e.to_string()))?
                    .ok_or_else(|| {
                        NotificationError::Invalid(vec![Violation::new("user_id", "no such user")])
                    })?;
                self.deliveries_for(template, &recipient, &request.channels, &request.data, now)?
            }
            (None, None) => {
                return Err(NotificationError::Invalid(vec![Violation::new(
                    "user_id",
                    "is required unless recipient is set",
                )]));
            }
        };
        let deliveries = deliveries
            .into_iter()
            .map(|mut d| {
                d.request_id.clone_from(&request_id);
                d
            })
            .collect();
        match self.store.record(&source, deliveries).await? {
            Recorded::New(deliveries) => {
                self.wake.notify_one();
                Ok(deliveries)
            }
            Recorded::Existing {
                deliveries,
                fingerprint: first,
            } if first == fingerprint => Ok(deliveries),
            Recorded::Existing { .. } => Err(NotificationError::Invalid(vec![Violation::new(
                "request_id",
                "was used before with a different request",
            )])),
        }
    }

    /// The delivery `id`, if `viewer` may see it.
    pub async fn get(&self, viewer: &Viewer, id: Uuid) -> Result<Delivery, NotificationError> {
        let delivery = self
            .store
            .get(id)
            .await?
            .ok_or(NotificationError::NotFound(id))?;
        match viewer {
            Viewer::Staff => Ok(delivery),
            Viewer::User(user) if delivery.user_id == Some(*user) => Ok(delivery),
            // Someone else's delivery does not exist for this caller.
            Viewer::User(_) => Err(NotificationError::NotFound(id)),
        }
    }

    /// A page of deliveries `viewer` may see, narrowed to `filter`.
    pub async fn list(
        &self,
        viewer: &Viewer,
        mut filter: domain::DeliveryFilter,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<Delivery>, NotificationError> {
        if let Viewer::User(user) = viewer {
            match filter.user_id {
                Some(asked) if asked != *user => {
                    return Err(NotificationError::PermissionDenied(
                        "you may list only your own deliveries".into(),
                    ));
                }
                _ => filter.user_id = Some(*user),
            }
        }
        Ok(self.store.list(&filter, after, limit).await?)
    }

    /// The deliveries of a notice to one (resolved) audience.
    async fn deliveries_to(
        &self,
        audience: Audience,
        template: &templates::Template,
        data: &BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, HandlingError> {
        let reject = |e: NotificationError| HandlingError::Reject(e.to_string());
        match audience {
            Audience::User(user) => match self.directory.lookup(user).await {
                Ok(Some(recipient)) => self
                    .deliveries_for(template, &recipient, &[], data, now)
                    .map_err(reject),
                Ok(None) => {
                    tracing::warn!(%user, "a notice for a user identity does not know; not sent");
                    Ok(Vec::new())
                }
                Err(error) => Err(HandlingError::Retry(error.to_string())),
            },
            Audience::Operations => match &self.settings.operations_email {
                Some(address) => Ok(vec![
                    self.delivery(
                        template,
                        None,
                        ChannelKind::Email,
                        Plan::Send(address.clone()),
                        data,
                        now,
                    )
                    .map_err(reject)?,
                ]),
                None => {
                    tracing::info!(
                        template = template.id,
                        "no MANDI_NOTIFICATION__OPS_EMAIL; operations notice not sent"
                    );
                    Ok(Vec::new())
                }
            },
            // Resolved by the caller; a vendor left unresolved is nobody to send to.
            Audience::VendorOf(_) => Ok(Vec::new()),
        }
    }

    fn deliveries_for(
        &self,
        template: &templates::Template,
        recipient: &Recipient,
        requested: &[ChannelKind],
        data: &BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, NotificationError> {
        domain::plan(template, recipient, requested)
            .into_iter()
            .map(|(channel, plan)| {
                self.delivery(template, Some(recipient.user_id), channel, plan, data, now)
            })
            .collect()
    }

    fn delivery(
        &self,
        template: &templates::Template,
        user_id: Option<Uuid>,
        channel: ChannelKind,
        plan: Plan,
        data: &BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<Delivery, NotificationError> {
        let rendered = template.render(channel, data)?;
        let (recipient, suppressed) = match plan {
            Plan::Send(address) => (address, None),
            Plan::Suppress(reason) => (String::new(), Some(reason)),
        };
        let mut delivery = Delivery::queued(
            channel,
            recipient,
            template.id,
            rendered,
            self.settings.max_attempts,
            now,
        );
        delivery.user_id = user_id;
        delivery.data = data.clone();
        if let Some(reason) = suppressed {
            delivery.status = DeliveryStatus::Suppressed;
            delivery.last_error = reason;
        }
        Ok(delivery)
    }
}

fn retry(error: crate::store::StoreError) -> HandlingError {
    HandlingError::Retry(error.to_string())
}

impl<S: NotificationStore, D: Directory> EventHandler for Notifier<S, D> {
    async fn handle(&self, event: &ConsumedEvent) -> Result<(), HandlingError> {
        self.on_event(event).await.map(|_| ())
    }
}

impl<S, D: Clone> Clone for Notifier<S, D> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            directory: self.directory.clone(),
            settings: self.settings.clone(),
            wake: self.wake.clone(),
        }
    }
}

// === impl Dispatcher ===

/// Sends due deliveries and records every attempt.
pub struct Dispatcher<S> {
    store: Arc<S>,
    channels: Channels,
    backoff: Duration,
    /// How long a claimed delivery stays hidden from other senders.
    lease: Duration,
    batch: usize,
}

impl<S: NotificationStore> Dispatcher<S> {
    /// Sends from `store` over `channels`, retrying transient failures after `backoff`
    /// (doubled per attempt).
    pub fn new(store: Arc<S>, channels: Channels, backoff: Duration) -> Self {
        Self {
            store,
            channels,
            backoff,
            lease: Duration::from_secs(60),
            batch: 100,
        }
    }

    /// Attempts every delivery due now; returns how many were attempted.
    pub async fn run_once(&self) -> Result<usize, crate::store::StoreError> {
        let mut attempted = 0;
        loop {
            let now = domain::now();
            let lease_until = now
                + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::minutes(1));
            let due = self.store.claim_due(now, lease_until, self.batch).await?;
            if due.is_empty() {
                return Ok(attempted);
            }
            for mut delivery in due {
                let outcome = match self.channels.get(delivery.channel) {
                    Some(channel) => channel.send(&delivery).await,
                    None => Err(SendError::Permanent(format!(
                        "no transport for {}",
                        delivery.channel.name()
                    ))),
                };
                if let Err(error) = &outcome {
                    tracing::warn!(delivery_id = %delivery.id, %error, "notification attempt failed");
                }
                let outcome = outcome.map_err(|e| match e {
                    SendError::Transient(reason) => (reason, true),
                    SendError::Permanent(reason) => (reason, false),
                });
                delivery.attempted(domain::now(), outcome, self.backoff);
                self.store.save_attempt(&delivery).await?;
                attempted += 1;
            }
        }
    }

    /// Runs until the process ends: on every `wake`, and every `interval` for retries.
    pub fn spawn(self, wake: Arc<Notify>, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if let Err(error) = self.run_once().await {
                    tracing::warn!(%error, "notification dispatch failed; trying again");
                }
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(interval) => {}
                }
            }
        })
    }
}
