//! Notification's rules, without I/O: the channels, a delivery and where it stands, who a
//! message goes to, and which channels a user is reached on (`plan`). Templates are in
//! [`templates`].

pub mod templates;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use templates::{Rendered, Template};

/// A way to reach someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChannelKind {
    /// Email to the account address.
    Email,
    /// Text message to the profile's phone.
    Sms,
    /// Push notification to the user's devices (addressed by user id).
    Push,
    /// WhatsApp message to the profile's phone.
    WhatsApp,
}

impl ChannelKind {
    /// Every channel.
    pub const ALL: [ChannelKind; 4] = [
        ChannelKind::Email,
        ChannelKind::Sms,
        ChannelKind::Push,
        ChannelKind::WhatsApp,
    ];

    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Sms => "sms",
            ChannelKind::Push => "push",
            ChannelKind::WhatsApp => "whatsapp",
        }
    }

    /// The channel stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Recorded, waiting for its first attempt.
    Pending,
    /// An attempt failed; another runs at `next_attempt_at`.
    Retrying,
    /// The provider accepted it.
    Sent,
    /// Every attempt failed, or the provider refused it for good.
    Failed,
    /// Not sent on purpose: opted out, or no contact on that channel.
    Suppressed,
}

impl DeliveryStatus {
    const ALL: [DeliveryStatus; 5] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Retrying,
        DeliveryStatus::Sent,
        DeliveryStatus::Failed,
        DeliveryStatus::Suppressed,
    ];

    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Suppressed => "suppressed",
        }
    }

    /// The status stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether an attempt is still to come.
    pub fn is_open(self) -> bool {
        matches!(self, DeliveryStatus::Pending | DeliveryStatus::Retrying)
    }
}

/// One message to one recipient on one channel, with its attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// UUIDv7: deliveries sort by creation.
    pub id: Uuid,
    /// The user it is for; `None` for a raw recipient (operations, SendNotification).
    pub user_id: Option<Uuid>,
    /// The channel.
    pub channel: ChannelKind,
    /// Email address, phone number or `user:{id}` for push.
    pub recipient: String,
    /// Template id.
    pub template: String,
    /// Values the template was rendered with.
    pub data: BTreeMap<String, String>,
    /// Subject (email) or title (push); empty otherwise.
    pub subject: String,
    /// Text body.
    pub body: String,
    /// HTML body (email only).
    pub html: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// Why the last attempt failed, or why it was suppressed.
    pub last_error: String,
    /// When the next attempt may run; `None` means at once.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The event that caused it; empty for SendNotification.
    pub event_id: String,
    /// SendNotification's request id; empty for events.
    pub request_id: String,
    /// W3C trace id of the trace that caused it; empty when unknown.
    pub trace_id: String,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When the provider accepted it.
    pub sent_at: Option<DateTime<Utc>>,
}

impl Delivery {
    /// A new PENDING delivery of `rendered` on `channel` to `recipient`, recorded at
    /// `now`, with no user, values, event or request (callers set those they have).
    pub fn queued(
        channel: ChannelKind,
        recipient: impl Into<String>,
        template: impl Into<String>,
        rendered: Rendered,
        max_attempts: i32,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            user_id: None,
            channel,
            recipient: recipient.into(),
            template: template.into(),
            data: BTreeMap::new(),
            subject: rendered.subject,
            body: rendered.body,
            html: rendered.html,
            status: DeliveryStatus::Pending,
            attempts: 0,
            max_attempts: max_attempts.max(1),
            last_error: String::new(),
            next_attempt_at: None,
            event_id: String::new(),
            request_id: String::new(),
            trace_id: String::new(),
            created_at: now,
            updated_at: now,
            sent_at: None,
        }
    }

    /// Records the outcome of one attempt made at `now`: sent, or failed with `error`
    /// (`transient` failures are tried again after `backoff` doubled per attempt made,
    /// until `max_attempts`).
    pub fn attempted(
        &mut self,
        now: DateTime<Utc>,
        outcome: Result<(), (String, bool)>,
        backoff: std::time::Duration,
    ) {
        self.attempts += 1;
        self.updated_at = now;
        match outcome {
            Ok(()) => {
                self.status = DeliveryStatus::Sent;
                self.sent_at = Some(now);
                self.next_attempt_at = None;
            }
            Err((error, transient)) => {
                self.last_error = error;
                if transient && self.attempts < self.max_attempts {
                    let exponent = u32::try_from(self.attempts - 1).unwrap_or(0).min(16);
                    let wait = backoff.saturating_mul(2u32.saturating_pow(exponent));
                    let wait = chrono::Duration::from_std(wait.min(MAX_BACKOFF))
                        .unwrap_or(chrono::Duration::hours(1));
                    self.status = DeliveryStatus::Retrying;
                    self.next_attempt_at = Some(now + wait);
                } else {
                    self.status = DeliveryStatus::Failed;
                    self.next_attempt_at = None;
                }
            }
        }
    }
}

/// The current time in UTC at the storage's precision (microseconds), so a delivery
/// reads back equal to what was written.
pub fn now() -> DateTime<Utc> {
    use chrono::SubsecRound as _;
    Utc::now().trunc_subsecs(6)
}

/// Longest wait between two attempts.
const MAX_BACKOFF: std::time::Duration = std::time::Duration::from_secs(3600);

/// How to reach a user, from identity (email) and profile (phone).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    /// The account's email address.
    pub email: Option<String>,
    /// The profile's phone (E.164).
    pub phone: Option<String>,
}

/// What a user chose in their profile preferences.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Preferences {
    /// Channels in order of preference; empty means every channel with contact details.
    pub channels: Vec<ChannelKind>,
    /// Opted in to marketing messages.
    pub marketing_opt_in: bool,
}

/// A user as notification needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The user.
    pub user_id: Uuid,
    /// Their contact details.
    pub contact: Contact,
    /// Their choices.
    pub preferences: Preferences,
}

/// What to do on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Send to this address.
    Send(String),
    /// Record why nothing is sent.
    Suppress(String),
}

/// The channels `recipient` is reached on for `template`, each with an address or the
/// reason it is suppressed. `requested` (SendNotification's channels) overrides the
/// default set but never the user's choices: a requested channel the user did not choose
/// is suppressed. Without a choice the user gets every channel they have contact details
/// for among email and SMS (push needs a device, WhatsApp an explicit choice). Marketing
/// templates are suppressed on every channel unless the user opted in.
pub fn plan(
    template: &Template,
    recipient: &Recipient,
    requested: &[ChannelKind],
) -> Vec<(ChannelKind, Plan)> {
    let prefs = &recipient.preferences;
    let mut channels: Vec<ChannelKind> = if !requested.is_empty() {
        requested.to_vec()
    } else if !prefs.channels.is_empty() {
        prefs.channels.clone()
    } else {
        let mut defaults = vec![ChannelKind::Email];
        if recipient.contact.phone.is_some() {
            defaults.push(ChannelKind::Sms);
        }
        defaults
    };
    let mut seen = std::collections::HashSet::new();
    channels.retain(|c| seen.insert(*c));
    channels
        .into_iter()
        .map(|channel| {
            let plan = if template.marketing && !prefs.marketing_opt_in {
                Plan::Suppress("the user has not opted in to marketing messages".into())
            } else if !prefs.channels.is_empty() && !prefs.channels.contains(&channel) {
                Plan::Suppress(format!("the user opted out of {}", channel.name()))
            } else {
                match address(channel, recipient) {
                    Some(address) => Plan::Send(address),
                    None => Plan::Suppress(format!(
                        "the user has no contact details for {}",
                        channel.name()
                    )),
                }
            };
            (channel, plan)
        })
        .collect()
}

fn address(channel: ChannelKind, recipient: &Recipient) -> Option<String> {
    match channel {
        ChannelKind::Email => recipient.contact.email.clone(),
        ChannelKind::Sms | ChannelKind::WhatsApp => recipient.contact.phone.clone(),
        ChannelKind::Push => Some(format!("user:{}", recipient.user_id)),
    }
}

/// Which deliveries a listing shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryFilter {
    /// Only this user's.
    pub user_id: Option<Uuid>,
    /// Only on this channel.
    #[serde(serialize_with = "channel_name")]
    pub channel: Option<ChannelKind>,
    /// Only in this status.
    #[serde(serialize_with = "status_name")]
    pub status: Option<DeliveryStatus>,
    /// Only caused by this event.
    pub event_id: Option<String>,
    /// Only of this template.
    pub template: Option<String>,
}

fn channel_name<S: serde::Serializer>(c: &Option<ChannelKind>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(c.map_or("", ChannelKind::name))
}

fn status_name<S: serde::Serializer>(v: &Option<DeliveryStatus>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.map_or("", DeliveryStatus::name))
}

impl DeliveryFilter {
    /// Whether `delivery` passes.
    pub fn matches(&self, delivery: &Delivery) -> bool {
        self.user_id.is_none_or(|u| delivery.user_id == Some(u))
            && self.channel.is_none_or(|c| delivery.channel == c)
            && self.status.is_none_or(|s| delivery.status == s)
            && self
                .event_id
                .as_ref()
                .is_none_or(|e| &delivery.event_id == e)
            && self
                .template
                .as_ref()
                .is_none_or(|t| &delivery.template == t)
    }
}

/// A bad field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field, as named in the request.
    pub field: String,
    /// What is wrong.
    pub description: String,
}

impl Violation {
    /// `field`: `description`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Why a notification use case failed.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// Bad input.
    #[error("invalid request: {}", .0.iter().map(|v| format!("{}: {}", v.field, v.description)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Violation>),
    /// No such delivery (or not the caller's).
    #[error("delivery {0} not found")]
    NotFound(Uuid),
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// Identity or profile did not answer.
    #[error("{0}")]
    Unavailable(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

#[cfg(test)]
mod tests;
