//! Access-token verification and per-method authorization.
//!
//! identity signs access tokens (EdDSA, `kid` header); every service verifies them with the
//! public keys identity publishes through `GetJwks`. The [`AuthLayer`] runs in front of
//! every handler: it looks up the method's [`Policy`], verifies the bearer token and puts
//! the [`Caller`] into the request's extensions for the handler to read.

mod layer;
mod verifier;

pub use layer::{AuthLayer, Policies, Policy};
pub use verifier::{KeySource, TokenVerifier, VerifyError};

use serde::{Deserialize, Serialize};
use tonic::Status;

/// The `iss` claim of every mandi access token.
pub const ISSUER: &str = "mandi-identity";
/// The `aud` claim of every mandi access token.
pub const AUDIENCE: &str = "mandi";

/// Role names as they appear in the `roles` claim.
pub mod roles {
    /// A shopper.
    pub const CUSTOMER: &str = "customer";
    /// A seller of produce.
    pub const VENDOR: &str = "vendor";
    /// A marketplace operator.
    pub const ADMIN: &str = "admin";
    /// A delivery rider.
    pub const DELIVERY: &str = "delivery";
    /// An internal service.
    pub const SERVICE: &str = "service";
}

/// The claims of a mandi access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Issuer: [`ISSUER`].
    pub iss: String,
    /// Audience: [`AUDIENCE`].
    pub aud: String,
    /// Subject: the user id, or `service:<name>` for a service identity.
    pub sub: String,
    /// Issued at, seconds since the Unix epoch (UTC).
    pub iat: u64,
    /// Expires at, seconds since the Unix epoch (UTC).
    pub exp: u64,
    /// Role names (see [`roles`]).
    pub roles: Vec<String>,
    /// The service's name, for service identities only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub svc: Option<String>,
}

/// Who is calling, as proven by a verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's subject: a user id or `service:<name>`.
    pub subject: String,
    /// The caller's roles.
    pub roles: Vec<String>,
    /// The service's name when the caller is an internal service.
    pub service: Option<String>,
}

impl Caller {
    /// Whether the caller holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the caller is the internal service named `name`.
    pub fn is_service(&self, name: &str) -> bool {
        self.has_role(roles::SERVICE) && self.service.as_deref() == Some(name)
    }
}

impl From<Claims> for Caller {
    fn from(claims: Claims) -> Self {
        Self {
            subject: claims.sub,
            roles: claims.roles,
            service: claims.svc,
        }
    }
}

/// The verified caller of a request; UNAUTHENTICATED when the method let an anonymous
/// caller through (a public method) and the handler needs one anyway.
pub fn caller<T>(request: &tonic::Request<T>) -> Result<&Caller, Status> {
    request.extensions().get::<Caller>().ok_or_else(|| {
        crate::errors::status(
            tonic::Code::Unauthenticated,
            "sign in first: no valid access token",
            "mandi.auth",
            "NO_TOKEN",
        )
    })
}
