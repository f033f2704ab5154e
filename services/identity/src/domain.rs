//! Identity's types and rules: what a valid registration is, what a user and a refresh
//! token are, and the errors the service can report. No I/O here.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Shortest password accepted (NIST SP 800-63B's floor for user-chosen secrets).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted; bounds the hashing work an attacker can ask for.
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Longest display name accepted.
pub const MAX_NAME_CHARS: usize = 100;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A shopper (the default).
    Customer,
    /// A seller of produce.
    Vendor,
    /// A marketplace operator.
    Admin,
    /// A delivery rider.
    Delivery,
}

impl Role {
    /// The role's name as stored and as put in tokens.
    pub fn as_str(self) -> &'static str {
        use mandi_runtime::auth::roles;
        match self {
            Role::Customer => roles::CUSTOMER,
            Role::Vendor => roles::VENDOR,
            Role::Admin => roles::ADMIN,
            Role::Delivery => roles::DELIVERY,
        }
    }

    /// Parses a stored role name.
    pub fn parse(name: &str) -> Option<Self> {
        [Role::Customer, Role::Vendor, Role::Admin, Role::Delivery]
            .into_iter()
            .find(|role| role.as_str() == name)
    }
}

/// A bad input field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The request field, as named in the contract.
    pub field: &'static str,
    /// What is wrong and what is expected.
    pub description: String,
}

impl FieldViolation {
    fn new(field: &'static str, description: impl Into<String>) -> Self {
        Self {
            field,
            description: description.into(),
        }
    }
}

/// An email address, trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses an address: one `@`, a non-empty local part, a dotted domain, no spaces.
    pub fn parse(raw: &str) -> Result<Self, FieldViolation> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && match email.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && local.len() <= 64
                        && !domain.contains('@')
                        && domain.contains('.')
                        && domain
                            .split('.')
                            .all(|label| !label.is_empty() && !label.starts_with('-'))
                }
                None => false,
            };
        if valid {
            Ok(Self(email))
        } else {
            Err(FieldViolation::new(
                "email",
                "must be an email address like name@example.com",
            ))
        }
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets the length rules. Never logged or stored.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

impl Password {
    /// Checks the length rules, counted in characters.
    pub fn parse(raw: &str) -> Result<Self, FieldViolation> {
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            Err(FieldViolation::new(
                "password",
                format!("must be at least {MIN_PASSWORD_CHARS} characters"),
            ))
        } else if chars > MAX_PASSWORD_CHARS {
            Err(FieldViolation::new(
                "password",
                format!("must be at most {MAX_PASSWORD_CHARS} characters"),
            ))
        } else {
            Ok(Self(raw.to_owned()))
        }
    }

    /// The secret itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A valid registration.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Full name, trimmed.
    pub name: String,
    /// Normalized email.
    pub email: Email,
    /// The chosen password.
    pub password: Password,
    /// Customer or vendor.
    pub role: Role,
}

impl Registration {
    /// Checks every field and reports all problems at once. `role` is `None` when the
    /// caller did not ask for one.
    pub fn parse(
        name: &str,
        email: &str,
        password: &str,
        role: Option<Role>,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut violations = Vec::new();
        let name = name.trim();
        if name.is_empty() {
            violations.push(FieldViolation::new("name", "must not be empty"));
        } else if name.chars().count() > MAX_NAME_CHARS {
            violations.push(FieldViolation::new(
                "name",
                format!("must be at most {MAX_NAME_CHARS} characters"),
            ));
        }
        let email = Email::parse(email).map_err(|v| violations.push(v)).ok();
        let password = Password::parse(password)
            .map_err(|v| violations.push(v))
            .ok();
        let role = match role.unwrap_or(Role::Customer) {
            role @ (Role::Customer | Role::Vendor) => Some(role),
            _ => {
                violations.push(FieldViolation::new(
                    "role",
                    "must be ROLE_CUSTOMER or ROLE_VENDOR; other roles are granted by an admin",
                ));
                None
            }
        };
        match (email, password, role) {
            (Some(email), Some(password), Some(role)) if violations.is_empty() => Ok(Self {
                name: name.to_owned(),
                email,
                password,
                role,
            }),
            _ => Err(violations),
        }
    }
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// UUIDv7, the `sub` of the user's tokens.
    pub id: Uuid,
    /// Full name.
    pub name: String,
    /// Normalized email, unique.
    pub email: Email,
    /// The user's role.
    pub role: Role,
    /// Creation time (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
}

/// A stored refresh token. Only the token's SHA-256 is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    /// Hex SHA-256 of the opaque token.
    pub token_hash: String,
    /// Every token rotated from one login shares a family; reuse revokes the family.
    pub family_id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// When it was issued (UTC).
    pub issued_at: DateTime<Utc>,
    /// When it stops working (UTC).
    pub expires_at: DateTime<Utc>,
}

/// What happened when a refresh token was presented for rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live; it is now spent and its successor stored.
    Rotated {
        /// The owner.
        user_id: Uuid,
    },
    /// The token was already spent: its whole family is now revoked.
    Reused,
    /// The token was revoked by a logout or an earlier reuse.
    Revoked,
    /// The token expired.
    Expired,
    /// No such token.
    Unknown,
}

/// A signing key as stored: the Ed25519 seed is secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// Key id, put in the `kid` header.
    pub kid: String,
    /// The 32-byte Ed25519 seed.
    pub seed: [u8; 32],
    /// When it was made (UTC).
    pub created_at: DateTime<Utc>,
    /// When a newer key replaced it for signing (UTC).
    pub retired_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// Everything identity can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Bad input.
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    /// The email is registered already.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Wrong password or unknown email: deliberately indistinguishable.
    #[error("email or password is wrong")]
    BadCredentials,
    /// Too many failed logins; try again later.
    #[error("too many failed sign-ins, try again in {retry_after_secs} s")]
    Throttled {
        /// Seconds until the window resets.
        retry_after_secs: u64,
    },
    /// The refresh token is unknown, expired or revoked.
    #[error("refresh token is not valid; sign in again")]
    BadRefreshToken,
    /// A spent refresh token came back: the family is revoked.
    #[error("refresh token was already used; every session from that sign-in is revoked")]
    RefreshTokenReused,
    /// The service client or secret is wrong.
    #[error("service name or client secret is wrong")]
    BadServiceCredentials,
    /// No such user.
    #[error("user {0} not found")]
    UserNotFound(String),
    /// The store failed.
    #[error("identity store failed")]
    Store(#[from] crate::store::StoreError),
    /// Hashing or signing failed.
    #[error("{0}")]
    Crypto(String),
}

impl IdentityError {
    /// A single-field validation error.
    pub fn invalid(field: &'static str, description: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldViolation::new(field, description)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            Email::parse("  Asha@Example.COM ").unwrap().as_str(),
            "asha@example.com"
        );
        for bad in [
            "",
            "asha",
            "asha@",
            "@example.com",
            "a b@example.com",
            "a@b",
            "a@@b.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn registration_reports_every_bad_field() {
        let err = Registration::parse("", "nope", "short", Some(Role::Admin)).unwrap_err();
        let fields: Vec<_> = err.iter().map(|v| v.field).collect();
        assert_eq!(fields, ["name", "email", "password", "role"]);
    }

    #[test]
    fn passwords_need_eight_characters() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
    }

    #[test]
    fn registration_defaults_to_customer() {
        let ok = Registration::parse("Asha", "asha@example.com", "correct horse", None).unwrap();
        assert_eq!(ok.role, Role::Customer);
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in [Role::Customer, Role::Vendor, Role::Admin, Role::Delivery] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
