//! The address book: saved delivery addresses, at most [`MAX_ADDRESSES`] per user, exactly
//! one of them the default whenever the user has any.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ProfileError, UpdateMask, Violations, validate_phone, validate_postal_code};

/// Most addresses one user may save.
pub const MAX_ADDRESSES: usize = 20;

const MAX_LABEL_CHARS: usize = 40;
const MAX_LINE_CHARS: usize = 200;
const MAX_PLACE_CHARS: usize = 100;
const MAX_RECIPIENT_NAME_CHARS: usize = 100;
const MAX_INSTRUCTIONS_CHARS: usize = 500;
const MAX_LATITUDE_E6: i64 = 90_000_000;
const MAX_LONGITUDE_E6: i64 = 180_000_000;

/// A point in WGS84 micro-degrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeoPoint {
    /// Latitude × 1e6, -90e6..=90e6.
    pub latitude_e6: i64,
    /// Longitude × 1e6, -180e6..=180e6.
    pub longitude_e6: i64,
}

/// A postal address. line1, city, postal_code and country_code are required.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostalAddress {
    /// House number, street.
    pub line1: String,
    /// Apartment, landmark.
    pub line2: String,
    /// City or town.
    pub city: String,
    /// State, province or region.
    pub region: String,
    /// Postal code in the country's format, upper case.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country_code: String,
    /// Optional location for routing.
    pub geo: Option<GeoPoint>,
}

impl PostalAddress {
    /// Trims and upper-cases what has a canonical case, and checks every field; violations
    /// are named under `prefix` (`address.postal_address.`).
    fn parse(self, violations: &mut Violations) -> Self {
        let parsed = Self {
            line1: self.line1.trim().to_owned(),
            line2: self.line2.trim().to_owned(),
            city: self.city.trim().to_owned(),
            region: self.region.trim().to_owned(),
            postal_code: self.postal_code.trim().to_ascii_uppercase(),
            country_code: self.country_code.trim().to_ascii_uppercase(),
            geo: self.geo,
        };
        violations.required_text("line1", &parsed.line1, MAX_LINE_CHARS);
        violations.text("line2", &parsed.line2, MAX_LINE_CHARS);
        violations.required_text("city", &parsed.city, MAX_PLACE_CHARS);
        violations.text("region", &parsed.region, MAX_PLACE_CHARS);
        let country_ok = parsed.country_code.len() == 2
            && parsed.country_code.bytes().all(|b| b.is_ascii_alphabetic());
        if parsed.country_code.is_empty() {
            violations.add("country_code", "is required");
        } else if !country_ok {
            violations.add(
                "country_code",
                "must be an ISO 3166-1 alpha-2 code (for example IN)",
            );
        }
        if parsed.postal_code.is_empty() {
            violations.add("postal_code", "is required");
        } else if country_ok {
            violations.check(
                "postal_code",
                validate_postal_code(&parsed.country_code, &parsed.postal_code),
            );
        }
        if let Some(geo) = parsed.geo {
            if !(-MAX_LATITUDE_E6..=MAX_LATITUDE_E6).contains(&geo.latitude_e6) {
                violations.add("geo.latitude_e6", "must be between -90000000 and 90000000");
            }
            if !(-MAX_LONGITUDE_E6..=MAX_LONGITUDE_E6).contains(&geo.longitude_e6) {
                violations.add(
                    "geo.longitude_e6",
                    "must be between -180000000 and 180000000",
                );
            }
        }
        parsed
    }
}

/// What a user writes about an address: everything but its identity, flag and times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressFields {
    /// Short label ("Home"), at most 40 characters; may be empty.
    pub label: String,
    /// The postal address.
    pub postal: PostalAddress,
    /// Who receives deliveries; empty means the profile's display name.
    pub recipient_name: String,
    /// E.164 phone for the rider; empty means the profile's phone.
    pub recipient_phone: String,
    /// Instructions for the rider, at most 500 characters (line breaks allowed).
    pub delivery_instructions: String,
}

impl AddressFields {
    /// Checks every field; violations are named `address.<field>`, postal ones
    /// `address.postal_address.<field>`.
    pub fn parse(self) -> Result<Self, ProfileError> {
        let mut violations = Violations::under("address.");
        let label = parse_label(&mut violations, &self.label);
        let recipient_name = parse_recipient_name(&mut violations, &self.recipient_name);
        let recipient_phone = parse_recipient_phone(&mut violations, &self.recipient_phone);
        let delivery_instructions =
            parse_instructions(&mut violations, &self.delivery_instructions);
        let mut postal_violations = Violations::under("address.postal_address.");
        let postal = self.postal.parse(&mut postal_violations);
        violations.absorb(postal_violations);
        violations.into_result(Self {
            label,
            postal,
            recipient_name,
            recipient_phone,
            delivery_instructions,
        })
    }
}

fn parse_label(violations: &mut Violations, raw: &str) -> String {
    let label = raw.trim().to_owned();
    violations.text("label", &label, MAX_LABEL_CHARS);
    label
}

fn parse_recipient_name(violations: &mut Violations, raw: &str) -> String {
    let name = raw.trim().to_owned();
    violations.text("recipient_name", &name, MAX_RECIPIENT_NAME_CHARS);
    name
}

fn parse_recipient_phone(violations: &mut Violations, raw: &str) -> String {
    let phone = raw.trim().to_owned();
    if !phone.is_empty() {
        violations.check("recipient_phone", validate_phone(&phone));
    }
    phone
}

fn parse_instructions(violations: &mut Violations, raw: &str) -> String {
    let instructions = raw.trim().to_owned();
    // Line breaks are fine in instructions ("Gate 3\nFloor 2"); other control
    // characters are not.
    let single_line = instructions.replace(['\n', '\r', '\t'], " ");
    violations.text(
        "delivery_instructions",
        &single_line,
        MAX_INSTRUCTIONS_CHARS,
    );
    instructions
}

/// A saved address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// UUIDv7.
    pub id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// What the user wrote.
    pub fields: AddressFields,
    /// Whether this is the user's one default address.
    pub is_default: bool,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
    /// When it last changed (including becoming or ceasing to be the default).
    pub updated_at: DateTime<Utc>,
}

impl Address {
    /// A new address of `user_id`, saved at `now`; the store decides whether it is the
    /// default.
    pub fn new(user_id: Uuid, fields: AddressFields, now: DateTime<Utc>) -> Self {
        Self {
            id: Uuid::now_v7(),
            user_id,
            fields,
            is_default: false,
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether a new address becomes the default when its user already has `existing`
    /// addresses: when asked to, and always for the first. A full address book is
    /// `TooManyAddresses`.
    pub fn becomes_default(existing: usize, make_default: bool) -> Result<bool, ProfileError> {
        if existing >= MAX_ADDRESSES {
            return Err(ProfileError::TooManyAddresses);
        }
        Ok(make_default || existing == 0)
    }

    /// The listing order: the default first, then newest first (id breaks ties).
    pub fn list_order(a: &Self, b: &Self) -> Ordering {
        b.is_default
            .cmp(&a.is_default)
            .then(b.created_at.cmp(&a.created_at))
            .then(b.id.cmp(&a.id))
    }

    /// Where this address sits in the listing order, for a page token.
    pub fn cursor(&self) -> AddressCursor {
        AddressCursor {
            is_default: self.is_default,
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// A position in the listing order: list what comes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressCursor {
    /// The last address's default flag.
    pub is_default: bool,
    /// The last address's save time.
    pub created_at: DateTime<Utc>,
    /// The last address's id.
    pub id: Uuid,
}

impl AddressCursor {
    /// Whether `address` comes after this position in the listing order.
    pub fn precedes(&self, address: &Address) -> bool {
        (self.is_default && !address.is_default)
            || (self.is_default == address.is_default
                && (address.created_at, address.id) < (self.created_at, self.id))
    }
}

/// The changes of an UpdateAddress: each `Some` field is set, already checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPatch {
    /// New label.
    pub label: Option<String>,
    /// New postal address, replaced whole.
    pub postal: Option<PostalAddress>,
    /// New recipient name.
    pub recipient_name: Option<String>,
    /// New recipient phone.
    pub recipient_phone: Option<String>,
    /// New instructions.
    pub delivery_instructions: Option<String>,
}

impl AddressPatch {
    /// Paths UpdateAddress may change.
    pub const UPDATABLE: &[&str] = &[
        "label",
        "postal_address",
        "recipient_name",
        "recipient_phone",
        "delivery_instructions",
    ];
    /// Paths UpdateAddress refuses: output-only fields and the default flag.
    pub const OUTPUT_ONLY: &[&str] = &[
        "name",
        "id",
        "user_id",
        "is_default",
        "create_time",
        "update_time",
    ];

    /// Takes the fields `mask` names from `values`, checking each; violations are named
    /// `address.<field>`.
    pub fn new(mask: &UpdateMask, values: AddressFields) -> Result<Self, ProfileError> {
        let mut violations = Violations::under("address.");
        let mut patch = Self::default();
        if mask.has("label") {
            patch.label = Some(parse_label(&mut violations, &values.label));
        }
        if mask.has("recipient_name") {
            patch.recipient_name = Some(parse_recipient_name(
                &mut violations,
                &values.recipient_name,
            ));
        }
        if mask.has("recipient_phone") {
            patch.recipient_phone = Some(parse_recipient_phone(
                &mut violations,
                &values.recipient_phone,
            ));
        }
        if mask.has("delivery_instructions") {
            patch.delivery_instructions = Some(parse_instructions(
                &mut violations,
                &values.delivery_instructions,
            ));
        }
        if mask.has("postal_address") {
            let mut postal_violations = Violations::under("address.postal_address.");
            patch.postal = Some(values.postal.parse(&mut postal_violations));
            violations.absorb(postal_violations);
        }
        violations.into_result(patch)
    }

    /// `address` with the patch applied, changed at `now`.
    pub fn apply(&self, mut address: Address, now: DateTime<Utc>) -> Address {
        let fields = &mut address.fields;
        if let Some(label) = &self.label {
            fields.label.clone_from(label);
        }
        if let Some(postal) = &self.postal {
            fields.postal.clone_from(postal);
        }
        if let Some(name) = &self.recipient_name {
            fields.recipient_name.clone_from(name);
        }
        if let Some(phone) = &self.recipient_phone {
            fields.recipient_phone.clone_from(phone);
        }
        if let Some(instructions) = &self.delivery_instructions {
            fields.delivery_instructions.clone_from(instructions);
        }
        address.updated_at = now;
        address
    }
}
