//! Proto ⇄ domain conversion at the edge: requests are parsed once into domain inputs,
//! domain values are written out as proto messages.

use chrono::{DateTime, Utc};
use mandi_sdk::proto::mandi::common::v1 as common;
use mandi_sdk::proto::mandi::notification::v1::Channel as ProtoChannel;
use mandi_sdk::proto::mandi::profile::v1 as pb;
use uuid::Uuid;

use crate::domain::{
    Address, AddressFields, Channel, DeliveryWindow, GeoPoint, PostalAddress, PreferenceValues,
    Preferences, Profile, ProfileError,
};

/// A proto timestamp (PostgreSQL keeps microseconds, and so do the times made here).
fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or_default(),
    }
}

/// A required UUID field.
pub(super) fn parse_id(field: &str, raw: &str) -> Result<Uuid, ProfileError> {
    if raw.is_empty() {
        return Err(ProfileError::invalid(field, "is required"));
    }
    match Uuid::parse_str(raw) {
        Ok(id) if !id.is_nil() => Ok(id),
        _ => Err(ProfileError::invalid(field, "must be a UUID")),
    }
}

// === profiles ===

pub(super) fn profile_to_proto(profile: Profile) -> pb::Profile {
    pb::Profile {
        name: format!("profiles/{}", profile.user_id),
        id: profile.user_id.to_string(),
        display_name: profile.display_name,
        phone: profile.phone,
        avatar_url: profile.avatar_url,
        create_time: profile.created_at.map(timestamp),
        update_time: profile.updated_at.map(timestamp),
    }
}

/// The user-written values of a proto profile (the id and times are not read).
pub(super) fn profile_values(user_id: Uuid, profile: pb::Profile) -> Profile {
    Profile {
        display_name: profile.display_name,
        phone: profile.phone,
        avatar_url: profile.avatar_url,
        ..Profile::empty(user_id)
    }
}

// === addresses ===

/// The user-written fields of a proto address; output-only fields are ignored.
pub(super) fn address_fields(address: pb::Address) -> AddressFields {
    let postal = address.postal_address.unwrap_or_default();
    AddressFields {
        label: address.label,
        postal: PostalAddress {
            line1: postal.line1,
            line2: postal.line2,
            city: postal.city,
            region: postal.region,
            postal_code: postal.postal_code,
            country_code: postal.country_code,
            geo: postal.geo.map(|g| GeoPoint {
                latitude_e6: g.latitude_e6,
                longitude_e6: g.longitude_e6,
            }),
        },
        recipient_name: address.recipient_name,
        recipient_phone: address.recipient_phone,
        delivery_instructions: address.delivery_instructions,
    }
}

pub(super) fn address_to_proto(address: Address) -> pb::Address {
    let fields = address.fields;
    let postal = fields.postal;
    pb::Address {
        name: format!("profiles/{}/addresses/{}", address.user_id, address.id),
        id: address.id.to_string(),
        user_id: address.user_id.to_string(),
        label: fields.label,
        postal_address: Some(common::Address {
            line1: postal.line1,
            line2: postal.line2,
            city: postal.city,
            region: postal.region,
            postal_code: postal.postal_code,
            country_code: postal.country_code,
            geo: postal.geo.map(|g| common::GeoPoint {
                latitude_e6: g.latitude_e6,
                longitude_e6: g.longitude_e6,
            }),
        }),
        recipient_name: fields.recipient_name,
        recipient_phone: fields.recipient_phone,
        delivery_instructions: fields.delivery_instructions,
        is_default: address.is_default,
        create_time: Some(timestamp(address.created_at)),
        update_time: Some(timestamp(address.updated_at)),
    }
}

// === preferences ===

fn channel_from_proto(value: i32) -> Option<Channel> {
    match ProtoChannel::try_from(value).ok()? {
        ProtoChannel::Email => Some(Channel::Email),
        ProtoChannel::Sms => Some(Channel::Sms),
        ProtoChannel::Push => Some(Channel::Push),
        ProtoChannel::Whatsapp => Some(Channel::WhatsApp),
        ProtoChannel::Unspecified => None,
    }
}

fn channel_to_proto(channel: Channel) -> ProtoChannel {
    match channel {
        Channel::Email => ProtoChannel::Email,
        Channel::Sms => ProtoChannel::Sms,
        Channel::Push => ProtoChannel::Push,
        Channel::WhatsApp => ProtoChannel::Whatsapp,
    }
}

/// The values of a proto preferences message; output-only fields are ignored.
pub(super) fn preference_values(preferences: pb::Preferences) -> PreferenceValues {
    PreferenceValues {
        prefer_organic: preferences.prefer_organic,
        prefer_seasonal: preferences.prefer_seasonal,
        prefer_local: preferences.prefer_local,
        dietary_tags: preferences.dietary_tags,
        delivery_window: preferences
            .preferred_delivery_window
            .map(|w| DeliveryWindow {
                start_minute: w.start_minute,
                end_minute: w.end_minute,
            }),
        notification_channels: preferences
            .notification_channels
            .into_iter()
            .map(channel_from_proto)
            .collect(),
        marketing_opt_in: preferences.marketing_opt_in,
    }
}

pub(super) fn preferences_to_proto(preferences: Preferences) -> pb::Preferences {
    pb::Preferences {
        name: format!("profiles/{}/preferences", preferences.user_id),
        user_id: preferences.user_id.to_string(),
        prefer_organic: preferences.prefer_organic,
        prefer_seasonal: preferences.prefer_seasonal,
        prefer_local: preferences.prefer_local,
        dietary_tags: preferences.dietary_tags,
        preferred_delivery_window: preferences.delivery_window.map(|w| pb::DeliveryWindow {
            start_minute: w.start_minute,
            end_minute: w.end_minute,
        }),
        notification_channels: preferences
            .notification_channels
            .into_iter()
            .map(|c| channel_to_proto(c) as i32)
            .collect(),
        marketing_opt_in: preferences.marketing_opt_in,
        update_time: preferences.updated_at.map(timestamp),
    }
}
