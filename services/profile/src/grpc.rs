//! The tonic service: per-method policies, request parsing, access rules, paging,
//! idempotency and the mapping of profile errors to gRPC statuses.

mod access;
mod addresses;
mod convert;
#[cfg(test)]
mod fuzz;
mod idempotency;
mod profiles;
mod status;

use std::sync::Arc;

use mandi_runtime::auth::{Caller, Policy, caller, roles};
use mandi_sdk::proto::mandi::profile::v1 as pb;
use tonic::{Request, Response, Status};

use crate::store::ProfileStore;

const DOMAIN: &str = "mandi.profile";

/// Every role a person signs in with; internal services are not among them.
const PEOPLE: &[&str] = &[
    roles::CUSTOMER,
    roles::VENDOR,
    roles::ADMIN,
    roles::DELIVERY,
];

/// Who may call each method. Reads are open to any signed-in caller (people and internal
/// services), writes to people only; the handlers narrow both to the caller's own data
/// unless the caller is an admin (or, for reads, an internal service). See `access`.
pub const POLICIES: &[(&str, Policy)] = &[
    ("GetProfile", Policy::SignedIn),
    ("UpdateProfile", Policy::AnyRole(PEOPLE)),
    ("ListAddresses", Policy::SignedIn),
    ("GetAddress", Policy::SignedIn),
    ("CreateAddress", Policy::AnyRole(PEOPLE)),
    ("UpdateAddress", Policy::AnyRole(PEOPLE)),
    ("DeleteAddress", Policy::AnyRole(PEOPLE)),
    ("SetDefaultAddress", Policy::AnyRole(PEOPLE)),
    ("GetPreferences", Policy::SignedIn),
    ("UpdatePreferences", Policy::AnyRole(PEOPLE)),
];

/// Serves `mandi.profile.v1.ProfileService`.
pub struct ProfileGrpc<S> {
    store: Arc<S>,
}

impl<S> ProfileGrpc<S> {
    /// Serves `store`.
    pub fn new(store: Arc<S>) -> Self {
        Self { store }
    }
}

/// The verified caller and the message of a request.
fn split<T>(request: Request<T>) -> Result<(Caller, T), Status> {
    let caller = caller(&request)?.clone();
    Ok((caller, request.into_inner()))
}

#[tonic::async_trait]
impl<S: ProfileStore> pb::profile_service_server::ProfileService for ProfileGrpc<S> {
    async fn get_profile(
        &self,
        request: Request<pb::GetProfileRequest>,
    ) -> Result<Response<pb::GetProfileResponse>, Status> {
        let (caller, request) = split(request)?;
        self.get_profile(&caller, request).await.map(Response::new)
    }

    async fn update_profile(
        &self,
        request: Request<pb::UpdateProfileRequest>,
    ) -> Result<Response<pb::UpdateProfileResponse>, Status> {
        let (caller, request) = split(request)?;
        self.update_profile(&caller, request)
            .await
            .map(Response::new)
    }

    async fn list_addresses(
        &self,
        request: Request<pb::ListAddressesRequest>,
    ) -> Result<Response<pb::ListAddressesResponse>, Status> {
        let (caller, request) = split(request)?;
        self.list_addresses(&caller, request)
            .await
            .map(Response::new)
    }

    async fn get_address(
        &self,
        request: Request<pb::GetAddressRequest>,
    ) -> Result<Response<pb::GetAddressResponse>, Status> {
        let (caller, request) = split(request)?;
        self.get_address(&caller, request).await.map(Response::new)
    }

    async fn create_address(
        &self,
        request: Request<pb::CreateAddressRequest>,
    ) -> Result<Response<pb::CreateAddressResponse>, Status> {
        let (caller, request) = split(request)?;
        self.create_address(&caller, request)
            .await
            .map(Response::new)
    }

    async fn update_address(
        &self,
        request: Request<pb::UpdateAddressRequest>,
    ) -> Result<Response<pb::UpdateAddressResponse>, Status> {
        let (caller, request) = split(request)?;
        self.update_address(&caller, request)
            .await
            .map(Response::new)
    }

    async fn delete_address(
        &self,
        request: Request<pb::DeleteAddressRequest>,
    ) -> Result<Response<pb::DeleteAddressResponse>, Status> {
        let (caller, request) = split(request)?;
        self.delete_address(&caller, request)
            .await
            .map(Response::new)
    }

    async fn set_default_address(
        &self,
        request: Request<pb::SetDefaultAddressRequest>,
    ) -> Result<Response<pb::SetDefaultAddressResponse>, Status> {
        let (caller, request) = split(request)?;
        self.set_default_address(&caller, request)
            .await
            .map(Response::new)
    }

    async fn get_preferences(
        &self,
        request: Request<pb::GetPreferencesRequest>,
    ) -> Result<Response<pb::GetPreferencesResponse>, Status> {
        let (caller, request) = split(request)?;
        self.get_preferences(&caller, request)
            .await
            .map(Response::new)
    }

    async fn update_preferences(
        &self,
        request: Request<pb::UpdatePreferencesRequest>,
    ) -> Result<Response<pb::UpdatePreferencesResponse>, Status> {
        let (caller, request) = split(request)?;
        self.update_preferences(&caller, request)
            .await
            .map(Response::new)
    }
}
