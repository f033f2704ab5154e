//! A user's profile: contact details that are not part of the login identity.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ProfileError, UpdateMask, Violations, validate_phone};

/// Longest display name.
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;
/// Longest avatar link.
const MAX_AVATAR_URL_CHARS: usize = 2048;

/// A user's profile. A user who never saved one has an empty profile (no times).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The identity user id the profile belongs to.
    pub user_id: Uuid,
    /// Name shown in the storefront and on deliveries; may be empty.
    pub display_name: String,
    /// E.164 phone number; empty when not given.
    pub phone: String,
    /// https link to an avatar image; empty when none.
    pub avatar_url: String,
    /// When the profile was first stored; `None` for a profile never stored.
    pub created_at: Option<DateTime<Utc>>,
    /// When the profile last changed; `None` for a profile never stored.
    pub updated_at: Option<DateTime<Utc>>,
}

impl Profile {
    /// The profile of a user who never saved one.
    pub fn empty(user_id: Uuid) -> Self {
        Self {
            user_id,
            display_name: String::new(),
            phone: String::new(),
            avatar_url: String::new(),
            created_at: None,
            updated_at: None,
        }
    }
}

/// The changes of an UpdateProfile: each `Some` field is set, already checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfilePatch {
    /// New display name.
    pub display_name: Option<String>,
    /// New phone (empty clears it).
    pub phone: Option<String>,
    /// New avatar link (empty clears it).
    pub avatar_url: Option<String>,
}

impl ProfilePatch {
    /// Paths UpdateProfile may change.
    pub const UPDATABLE: &[&str] = &["display_name", "phone", "avatar_url"];
    /// Paths of output-only fields.
    pub const OUTPUT_ONLY: &[&str] = &["name", "id", "create_time", "update_time"];

    /// Takes the fields `mask` names from `values`, checking each; violations are named
    /// `profile.<field>`.
    pub fn new(mask: &UpdateMask, values: Profile) -> Result<Self, ProfileError> {
        let mut violations = Violations::under("profile.");
        let mut patch = Self::default();
        if mask.has("display_name") {
            let name = values.display_name.trim().to_owned();
            violations.text("display_name", &name, MAX_DISPLAY_NAME_CHARS);
            patch.display_name = Some(name);
        }
        if mask.has("phone") {
            let phone = values.phone.trim().to_owned();
            if !phone.is_empty() {
                violations.check("phone", validate_phone(&phone));
            }
            patch.phone = Some(phone);
        }
        if mask.has("avatar_url") {
            let url = values.avatar_url.trim().to_owned();
            if !url.is_empty() {
                violations.check("avatar_url", https_url(&url));
            }
            patch.avatar_url = Some(url);
        }
        violations.into_result(patch)
    }

    /// `profile` with the patch applied, changed at `now`; a new profile is created then.
    pub fn apply(&self, mut profile: Profile, now: DateTime<Utc>) -> Profile {
        if let Some(name) = &self.display_name {
            profile.display_name.clone_from(name);
        }
        if let Some(phone) = &self.phone {
            profile.phone.clone_from(phone);
        }
        if let Some(url) = &self.avatar_url {
            profile.avatar_url.clone_from(url);
        }
        profile.created_at.get_or_insert(now);
        profile.updated_at = Some(now);
        profile
    }
}

/// An absolute `https://` link with a host and no whitespace.
fn https_url(url: &str) -> Result<(), String> {
    if url.chars().count() > MAX_AVATAR_URL_CHARS {
        return Err(format!("must be at most {MAX_AVATAR_URL_CHARS} characters"));
    }
    let Some(rest) = url.strip_prefix("https://") else {
        return Err("must be an https:// link".into());
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    let host_ok = !host.is_empty()
        && !host.starts_with(':')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !host_ok || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be an https:// link with a host".into());
    }
    Ok(())
}
