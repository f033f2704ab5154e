//! Shopping and notification preferences: a singleton per user, defaults until saved.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ProfileError, UpdateMask, Violations};

const MAX_DIETARY_TAGS: usize = 20;
const MAX_TAG_CHARS: usize = 40;
const LAST_START_MINUTE: i32 = 1439;
const MINUTES_PER_DAY: i32 = 1440;

/// A channel notifications go out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Email to the account address.
    Email,
    /// Text message to the phone.
    Sms,
    /// Push to registered devices.
    Push,
    /// WhatsApp message to the phone.
    WhatsApp,
}

impl Channel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
            Channel::WhatsApp => "whatsapp",
        }
    }

    /// The channel a stored name stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "email" => Some(Channel::Email),
            "sms" => Some(Channel::Sms),
            "push" => Some(Channel::Push),
            "whatsapp" => Some(Channel::WhatsApp),
            _ => None,
        }
    }
}

/// A daily time-of-day window in minutes after local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryWindow {
    /// 0..=1439.
    pub start_minute: i32,
    /// 1..=1440, after `start_minute`.
    pub end_minute: i32,
}

impl DeliveryWindow {
    /// Checks the window's bounds; violations are named under `field` (with a dot).
    fn check(self, violations: &mut Violations, field: &str) {
        if !(0..=LAST_START_MINUTE).contains(&self.start_minute) {
            violations.add(
                &format!("{field}.start_minute"),
                "must be between 0 and 1439",
            );
        }
        if !(1..=MINUTES_PER_DAY).contains(&self.end_minute) {
            violations.add(&format!("{field}.end_minute"), "must be between 1 and 1440");
        } else if self.end_minute <= self.start_minute {
            violations.add(&format!("{field}.end_minute"), "must be after start_minute");
        }
    }
}

/// A user's preferences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    /// The owner.
    pub user_id: Uuid,
    /// Rank organic products first.
    pub prefer_organic: bool,
    /// Rank in-season products first.
    pub prefer_seasonal: bool,
    /// Rank locally grown products first.
    pub prefer_local: bool,
    /// Lower-case dietary tags, at most 20.
    pub dietary_tags: Vec<String>,
    /// Preferred delivery time of day, if any.
    pub delivery_window: Option<DeliveryWindow>,
    /// Channels in order of preference; empty means every channel with contact details.
    pub notification_channels: Vec<Channel>,
    /// Opted in to marketing messages.
    pub marketing_opt_in: bool,
    /// When last saved; `None` when never saved.
    pub updated_at: Option<DateTime<Utc>>,
}

impl Preferences {
    /// The preferences of a user who never saved any.
    pub fn defaults(user_id: Uuid) -> Self {
        Self {
            user_id,
            prefer_organic: false,
            prefer_seasonal: false,
            prefer_local: false,
            dietary_tags: Vec::new(),
            delivery_window: None,
            notification_channels: Vec::new(),
            marketing_opt_in: false,
            updated_at: None,
        }
    }
}

/// The changes of an UpdatePreferences: each `Some` field is set, already checked.
/// Repeated fields are replaced whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreferencesPatch {
    /// New organic flag.
    pub prefer_organic: Option<bool>,
    /// New seasonal flag.
    pub prefer_seasonal: Option<bool>,
    /// New local flag.
    pub prefer_local: Option<bool>,
    /// New dietary tags.
    pub dietary_tags: Option<Vec<String>>,
    /// New window (`Some(None)` clears it).
    pub delivery_window: Option<Option<DeliveryWindow>>,
    /// New channels.
    pub notification_channels: Option<Vec<Channel>>,
    /// New marketing opt-in.
    pub marketing_opt_in: Option<bool>,
}

/// Preference values as a request carries them, before checking. Channels are the proto
/// enum numbers: `None` for 0 (unspecified) or a number this version does not know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreferenceValues {
    /// Organic flag.
    pub prefer_organic: bool,
    /// Seasonal flag.
    pub prefer_seasonal: bool,
    /// Local flag.
    pub prefer_local: bool,
    /// Tags as sent.
    pub dietary_tags: Vec<String>,
    /// Window as sent.
    pub delivery_window: Option<DeliveryWindow>,
    /// Channels as sent; `None` for an unspecified or unknown value.
    pub notification_channels: Vec<Option<Channel>>,
    /// Marketing opt-in.
    pub marketing_opt_in: bool,
}

impl PreferencesPatch {
    /// Paths UpdatePreferences may change.
    pub const UPDATABLE: &[&str] = &[
        "prefer_organic",
        "prefer_seasonal",
        "prefer_local",
        "dietary_tags",
        "preferred_delivery_window",
        "notification_channels",
        "marketing_opt_in",
    ];
    /// Paths of output-only fields.
    pub const OUTPUT_ONLY: &[&str] = &["name", "user_id", "update_time"];

    /// Takes the fields `mask` names from `values`, checking each; violations are named
    /// `preferences.<field>`.
    pub fn new(mask: &UpdateMask, values: PreferenceValues) -> Result<Self, ProfileError> {
        let mut violations = Violations::under("preferences.");
        let flag = |name: &str, value: bool| mask.has(name).then_some(value);
        let mut patch = Self {
            prefer_organic: flag("prefer_organic", values.prefer_organic),
            prefer_seasonal: flag("prefer_seasonal", values.prefer_seasonal),
            prefer_local: flag("prefer_local", values.prefer_local),
            marketing_opt_in: flag("marketing_opt_in", values.marketing_opt_in),
            ..Self::default()
        };
        if mask.has("dietary_tags") {
            patch.dietary_tags = Some(parse_tags(&mut violations, values.dietary_tags));
        }
        if mask.has("preferred_delivery_window") {
            if let Some(window) = values.delivery_window {
                window.check(&mut violations, "preferred_delivery_window");
            }
            patch.delivery_window = Some(values.delivery_window);
        }
        if mask.has("notification_channels") {
            patch.notification_channels = Some(parse_channels(
                &mut violations,
                &values.notification_channels,
            ));
        }
        violations.into_result(patch)
    }

    /// `preferences` with the patch applied, saved at `now`.
    pub fn apply(&self, mut preferences: Preferences, now: DateTime<Utc>) -> Preferences {
        let set = |target: &mut bool, value: Option<bool>| {
            if let Some(value) = value {
                *target = value;
            }
        };
        set(&mut preferences.prefer_organic, self.prefer_organic);
        set(&mut preferences.prefer_seasonal, self.prefer_seasonal);
        set(&mut preferences.prefer_local, self.prefer_local);
        set(&mut preferences.marketing_opt_in, self.marketing_opt_in);
        if let Some(tags) = &self.dietary_tags {
            preferences.dietary_tags.clone_from(tags);
        }
        if let Some(window) = self.delivery_window {
            preferences.delivery_window = window;
        }
        if let Some(channels) = &self.notification_channels {
            preferences.notification_channels.clone_from(channels);
        }
        preferences.updated_at = Some(now);
        preferences
    }
}

/// Tags must be lower case letters, digits and hyphens, 1 to 40 characters, no repeats.
fn parse_tags(violations: &mut Violations, tags: Vec<String>) -> Vec<String> {
    if tags.len() > MAX_DIETARY_TAGS {
        violations.add(
            "dietary_tags",
            format!("must have at most {MAX_DIETARY_TAGS} tags"),
        );
    }
    let tags: Vec<String> = tags.into_iter().map(|t| t.trim().to_owned()).collect();
    for (i, tag) in tags.iter().enumerate() {
        let field = format!("dietary_tags[{i}]");
        if tag.is_empty() || tag.chars().count() > MAX_TAG_CHARS {
            violations.add(&field, format!("must be 1 to {MAX_TAG_CHARS} characters"));
        } else if !tag
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            violations.add(
                &field,
                "must be lower case letters, digits and hyphens (for example gluten-free)",
            );
        } else if tags[..i].contains(tag) {
            violations.add(&field, format!("repeats the tag {tag:?}"));
        }
    }
    tags
}

/// Channels must be known, not unspecified, and each listed once.
fn parse_channels(violations: &mut Violations, channels: &[Option<Channel>]) -> Vec<Channel> {
    let mut parsed: Vec<Channel> = Vec::with_capacity(channels.len());
    for (i, channel) in channels.iter().enumerate() {
        let field = format!("notification_channels[{i}]");
        match channel {
            None => violations.add(&field, "must be CHANNEL_EMAIL, CHANNEL_SMS or CHANNEL_PUSH"),
            Some(channel) if parsed.contains(channel) => {
                violations.add(&field, "lists a channel twice")
            }
            Some(channel) => parsed.push(*channel),
        }
    }
    parsed
}
