//! The tonic service: proto ⇄ domain conversion, per-method policies and the mapping of
//! identity errors to gRPC statuses.

use std::sync::Arc;

use mandi_kafka::Publisher;
use mandi_runtime::auth::{Policy, caller, roles};
use mandi_runtime::errors;
use mandi_runtime::events::{envelope, publish_envelope};
use mandi_sdk::proto::mandi::events::v1::UserRegistered;
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use mandi_sdk::proto::mandi::identity::v1 as pb;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::{IdentityError, Registration, Role, User};
use crate::keys::PublicKey;
use crate::service::Identity;
use crate::store::{AttemptCounter, IdentityStore, StoreError};

const DOMAIN: &str = "mandi.identity";

/// Who may call each method.
pub const POLICIES: &[(&str, Policy)] = &[
    ("Register", Policy::Public),
    ("Login", Policy::Public),
    ("Refresh", Policy::Public),
    ("Logout", Policy::Public),
    ("GetJwks", Policy::Public),
    ("IssueServiceToken", Policy::Public),
    ("GetCurrentUser", Policy::SignedIn),
    ("GetUser", Policy::AnyRole(&[roles::ADMIN, roles::SERVICE])),
    ("SetUserRole", Policy::AnyRole(&[roles::ADMIN])),
    ("RotateSigningKey", Policy::AnyRole(&[roles::ADMIN])),
];

/// Serves `mandi.identity.v1.IdentityService`.
pub struct IdentityGrpc<S, A> {
    identity: Arc<Identity<S, A>>,
    trust_forwarded_for: bool,
    events: Publisher,
}

impl<S, A> IdentityGrpc<S, A> {
    /// Serves `identity`. With `trust_forwarded_for`, throttling keys sources on the first
    /// `x-forwarded-for` address (set it only behind a proxy that overwrites the header).
    /// New accounts are announced (UserRegistered) through `events`.
    pub fn new(
        identity: Arc<Identity<S, A>>,
        trust_forwarded_for: bool,
        events: Publisher,
    ) -> Self {
        Self {
            identity,
            trust_forwarded_for,
            events,
        }
    }

    /// Announces a new account. After the account is stored, and best effort: a failure is
    /// logged, never the caller's error (the account exists; profile also creates profiles
    /// on first access). A retried Register announces again, which consumers tolerate.
    async fn announce(&self, user: &pb::User) {
        let event = envelope("identity", "user", user.id.clone(), |meta| {
            Payload::UserRegistered(UserRegistered {
                event_id: meta.event_id,
                occur_time: Some(meta.occur_time),
                user_id: user.id.clone(),
                display_name: user.name.clone(),
                email: user.email.clone(),
                role: user.role,
            })
        });
        if let Err(error) = publish_envelope(&self.events, event).await {
            tracing::warn!(%error, user_id = %user.id, "UserRegistered not published");
        }
    }

    fn source<T>(&self, request: &Request<T>) -> Option<String> {
        // The right-most entry is the one our trusted proxy appended; entries to its left
        // came from the client and could be anything.
        let forwarded = self
            .trust_forwarded_for
            .then(|| request.metadata().get("x-forwarded-for"))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        forwarded.or_else(|| request.remote_addr().map(|addr| addr.ip().to_string()))
    }
}

#[tonic::async_trait]
impl<S: IdentityStore, A: AttemptCounter> pb::identity_service_server::IdentityService
    for IdentityGrpc<S, A>
{
    async fn register(
        &self,
        request: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterResponse>, Status> {
        let req = request.into_inner();
        let role = requested_role(req.role)?;
        let registration = Registration::parse(&req.name, &req.email, &req.password, role)
            .map_err(|violations| to_status(IdentityError::Invalid(violations)))?;
        let request_id = optional_request_id(&req.request_id)?;
        let user = self
            .identity
            .register(registration, request_id)
            .await
            .map_err(to_status)?;
        let user = user_to_proto(&user);
        self.announce(&user).await;
        Ok(Response::new(pb::RegisterResponse { user: Some(user) }))
    }

    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let source = self.source(&request);
        let req = request.into_inner();
        let (pair, user) = self
            .identity
            .login(&req.email, &req.password, source.as_deref())
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::LoginResponse {
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
            expires_in: pair.expires_in,
            user: Some(user_to_proto(&user)),
        }))
    }

    async fn refresh(
        &self,
        request: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::RefreshResponse>, Status> {
        let pair = self
            .identity
            .refresh(&request.into_inner().refresh_token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RefreshResponse {
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
            expires_in: pair.expires_in,
        }))
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        self.identity
            .logout(&request.into_inner().refresh_token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn get_current_user(
        &self,
        request: Request<pb::GetCurrentUserRequest>,
    ) -> Result<Response<pb::GetCurrentUserResponse>, Status> {
        let caller = caller(&request)?;
        if caller.service.is_some() {
            return Err(errors::status(
                Code::FailedPrecondition,
                "a service identity has no user account",
                DOMAIN,
                "NOT_A_USER",
            ));
        }
        let user = self
            .identity
            .user(&caller.subject)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::GetCurrentUserResponse {
            user: Some(user_to_proto(&user)),
        }))
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        let user = self
            .identity
            .user(&request.into_inner().user_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::GetUserResponse {
            user: Some(user_to_proto(&user)),
        }))
    }

    async fn set_user_role(
        &self,
        request: Request<pb::SetUserRoleRequest>,
    ) -> Result<Response<pb::SetUserRoleResponse>, Status> {
        let req = request.into_inner();
        let role = match role_from_proto(req.role) {
            Some(role) => role,
            None => {
                return Err(errors::invalid_argument(
                    DOMAIN,
                    [(
                        "role",
                        "must be ROLE_CUSTOMER, ROLE_VENDOR, ROLE_ADMIN or ROLE_DELIVERY",
                    )],
                ));
            }
        };
        // Setting a role is idempotent by nature, so request_id needs no bookkeeping.
        let user = self
            .identity
            .set_role(&req.user_id, role)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::SetUserRoleResponse {
            user: Some(user_to_proto(&user)),
        }))
    }

    async fn get_jwks(
        &self,
        _request: Request<pb::GetJwksRequest>,
    ) -> Result<Response<pb::GetJwksResponse>, Status> {
        let keys = self.identity.jwks().await.map_err(to_status)?;
        Ok(Response::new(pb::GetJwksResponse {
            keys: keys.iter().map(jwk_to_proto).collect(),
        }))
    }

    async fn issue_service_token(
        &self,
        request: Request<pb::IssueServiceTokenRequest>,
    ) -> Result<Response<pb::IssueServiceTokenResponse>, Status> {
        let source = self.source(&request);
        let req = request.into_inner();
        let (access_token, expires_in) = self
            .identity
            .issue_service_token(&req.service_name, &req.client_secret, source.as_deref())
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::IssueServiceTokenResponse {
            access_token,
            expires_in,
        }))
    }

    async fn rotate_signing_key(
        &self,
        _request: Request<pb::RotateSigningKeyRequest>,
    ) -> Result<Response<pb::RotateSigningKeyResponse>, Status> {
        let kid = self
            .identity
            .rotate_signing_key()
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RotateSigningKeyResponse { kid }))
    }
}

/// The proto form of a published key.
pub fn jwk_to_proto(key: &PublicKey) -> pb::Jwk {
    pb::Jwk {
        kid: key.kid.clone(),
        kty: key.kty.into(),
        crv: key.crv.into(),
        x: key.x.clone(),
        alg: key.alg.into(),
        r#use: key.use_.into(),
    }
}

fn optional_request_id(request_id: &str) -> Result<Option<&str>, Status> {
    match request_id.len() {
        0 => Ok(None),
        1..=128 => Ok(Some(request_id)),
        _ => Err(errors::invalid_argument(
            DOMAIN,
            [("request_id", "must be at most 128 characters")],
        )),
    }
}

fn requested_role(value: i32) -> Result<Option<Role>, Status> {
    match pb::Role::try_from(value) {
        Ok(pb::Role::Unspecified) => Ok(None),
        Ok(role) => role_from_proto(role as i32).map(Some).ok_or_else(|| {
            errors::invalid_argument(
                DOMAIN,
                [("role", "ROLE_SERVICE is for internal services only")],
            )
        }),
        Err(_) => Err(errors::invalid_argument(
            DOMAIN,
            [("role", "is not a known role")],
        )),
    }
}

fn role_from_proto(value: i32) -> Option<Role> {
    match pb::Role::try_from(value).ok()? {
        pb::Role::Customer => Some(Role::Customer),
        pb::Role::Vendor => Some(Role::Vendor),
        pb::Role::Admin => Some(Role::Admin),
        pb::Role::Delivery => Some(Role::Delivery),
        pb::Role::Service | pb::Role::Unspecified => None,
    }
}

fn role_to_proto(role: Role) -> pb::Role {
    match role {
        Role::Customer => pb::Role::Customer,
        Role::Vendor => pb::Role::Vendor,
        Role::Admin => pb::Role::Admin,
        Role::Delivery => pb::Role::Delivery,
    }
}

fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

fn user_to_proto(user: &User) -> pb::User {
    pb::User {
        id: user.id.to_string(),
        name: user.name.clone(),
        resource_name: format!("users/{}", user.id),
        email: user.email.as_str().to_owned(),
        role: role_to_proto(user.role) as i32,
        create_time: Some(timestamp(user.created_at)),
        update_time: Some(timestamp(user.updated_at)),
    }
}

/// The one place identity errors become statuses.
fn to_status(error: IdentityError) -> Status {
    match error {
        IdentityError::Invalid(violations) => errors::invalid_argument(
            DOMAIN,
            violations.into_iter().map(|v| (v.field, v.description)),
        ),
        IdentityError::EmailTaken => errors::status(
            Code::AlreadyExists,
            error.to_string(),
            DOMAIN,
            "EMAIL_TAKEN",
        ),
        IdentityError::BadCredentials => errors::status(
            Code::Unauthenticated,
            error.to_string(),
            DOMAIN,
            "BAD_CREDENTIALS",
        ),
        IdentityError::Throttled { retry_after_secs } => {
            let mut details = ErrorDetails::with_retry_info(Some(std::time::Duration::from_secs(
                retry_after_secs,
            )));
            details.set_error_info("LOGIN_THROTTLED", DOMAIN, std::collections::HashMap::new());
            Status::with_error_details(Code::ResourceExhausted, error.to_string(), details)
        }
        IdentityError::BadRefreshToken => errors::status(
            Code::Unauthenticated,
            error.to_string(),
            DOMAIN,
            "BAD_REFRESH_TOKEN",
        ),
        IdentityError::RefreshTokenReused => errors::status(
            Code::Unauthenticated,
            error.to_string(),
            DOMAIN,
            "REFRESH_TOKEN_REUSED",
        ),
        IdentityError::BadServiceCredentials => errors::status(
            Code::Unauthenticated,
            error.to_string(),
            DOMAIN,
            "BAD_SERVICE_CREDENTIALS",
        ),
        IdentityError::UserNotFound(_) => {
            errors::status(Code::NotFound, error.to_string(), DOMAIN, "USER_NOT_FOUND")
        }
        IdentityError::Store(store @ StoreError::Unavailable(_)) => {
            errors::unavailable(DOMAIN, &store)
        }
        IdentityError::Store(ref store) => errors::internal(DOMAIN, store),
        IdentityError::Crypto(_) => errors::internal(DOMAIN, &error),
    }
}
