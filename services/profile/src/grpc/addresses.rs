//! The address book: listing default-first with page tokens, and the writes that keep
//! exactly one default per user (the store does that under a per-user lock).

use chrono::DateTime;
use mandi_runtime::auth::Caller;
use mandi_runtime::paging;
use mandi_sdk::proto::mandi::profile::v1 as pb;
use tonic::Status;
use uuid::Uuid;

use super::ProfileGrpc;
use super::access::{Access, target_user, visible};
use super::convert::{address_fields, address_to_proto, parse_id};
use super::idempotency::{Idempotency, Replay};
use super::profiles::mask_paths;
use super::status::{paging_status, to_status};
use crate::domain::{
    self, Address, AddressCursor, AddressFields, AddressPatch, ProfileError, UpdateMask,
};
use crate::store::ProfileStore;

const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 200;

/// A page token's position: default flag, save time in microseconds, id.
type TokenKey = (bool, i64, String);

fn token_key(address: &Address) -> TokenKey {
    (
        address.is_default,
        address.created_at.timestamp_micros(),
        address.id.to_string(),
    )
}

fn cursor_of((is_default, micros, id): TokenKey) -> Result<AddressCursor, Status> {
    let bad = || {
        to_status(ProfileError::invalid(
            "page_token",
            "is not a token this service issued",
        ))
    };
    Ok(AddressCursor {
        is_default,
        created_at: DateTime::from_timestamp_micros(micros).ok_or_else(bad)?,
        id: Uuid::parse_str(&id).map_err(|_| bad())?,
    })
}

fn one(address: Address) -> Option<pb::Address> {
    Some(address_to_proto(address))
}

// === impl ProfileGrpc ===

impl<S: ProfileStore> ProfileGrpc<S> {
    /// The address `id` when the caller may `access` it; NOT_FOUND otherwise.
    async fn address_for(
        &self,
        caller: &Caller,
        id: Uuid,
        access: Access,
    ) -> Result<Address, Status> {
        let address = self.store.address(id).await.map_err(to_status)?;
        visible(caller, id, address, access)
    }

    /// The address an earlier keyed call left, as it is now; NOT_FOUND when it is gone.
    async fn replayed(&self, caller: &Caller, target: Option<Uuid>) -> Result<Address, Status> {
        let id = target.unwrap_or_default();
        self.address_for(caller, id, Access::Read).await
    }

    pub(super) async fn list_addresses(
        &self,
        caller: &Caller,
        request: pb::ListAddressesRequest,
    ) -> Result<pb::ListAddressesResponse, Status> {
        let user = target_user(caller, "user_id", &request.user_id, Access::Read)?;
        let limit = paging::page_size(request.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
            .map_err(paging_status)?;
        // Bound to the user listed: a token from another user's listing is refused.
        let fingerprint = paging::fingerprint(&("ListAddresses", user));
        let after = paging::decode_token::<TokenKey>(&request.page_token, &fingerprint)
            .map_err(paging_status)?
            .map(cursor_of)
            .transpose()?;
        let mut page = self
            .store
            .list_addresses(user, after, limit + 1)
            .await
            .map_err(to_status)?;
        let next_page_token = if page.len() > limit {
            page.truncate(limit);
            page.last()
                .map(|last| paging::encode_token(&token_key(last), &fingerprint))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(pb::ListAddressesResponse {
            addresses: page.into_iter().map(address_to_proto).collect(),
            next_page_token,
        })
    }

    pub(super) async fn get_address(
        &self,
        caller: &Caller,
        request: pb::GetAddressRequest,
    ) -> Result<pb::GetAddressResponse, Status> {
        let id = parse_id("address_id", &request.address_id).map_err(to_status)?;
        let address = self.address_for(caller, id, Access::Read).await?;
        Ok(pb::GetAddressResponse {
            address: one(address),
        })
    }

    pub(super) async fn create_address(
        &self,
        caller: &Caller,
        request: pb::CreateAddressRequest,
    ) -> Result<pb::CreateAddressResponse, Status> {
        let idempotency = Idempotency::of(&caller.subject, &request)?;
        let user = target_user(caller, "user_id", &request.user_id, Access::Write)?;
        if let Replay::Done(target) = self.replay(&idempotency).await? {
            return Ok(pb::CreateAddressResponse {
                address: one(self.replayed(caller, target).await?),
            });
        }
        let fields = AddressFields::parse(address_fields(request.address.unwrap_or_default()))
            .map_err(to_status)?;
        let address = Address::new(user, fields, domain::now());
        let stored = self
            .store
            .create_address(&address, request.make_default)
            .await
            .map_err(to_status)?;
        self.remember(idempotency, Some(stored.id)).await?;
        Ok(pb::CreateAddressResponse {
            address: one(stored),
        })
    }

    pub(super) async fn update_address(
        &self,
        caller: &Caller,
        request: pb::UpdateAddressRequest,
    ) -> Result<pb::UpdateAddressResponse, Status> {
        let idempotency = Idempotency::of(&caller.subject, &request)?;
        let values = request.address.unwrap_or_default();
        let id = parse_id("address.id", &values.id).map_err(to_status)?;
        let current = self.address_for(caller, id, Access::Write).await?;
        if let Replay::Done(_) = self.replay(&idempotency).await? {
            return Ok(pb::UpdateAddressResponse {
                address: one(current),
            });
        }
        let mask = UpdateMask::parse(
            &mask_paths(request.update_mask),
            AddressPatch::UPDATABLE,
            AddressPatch::OUTPUT_ONLY,
        )
        .map_err(to_status)?;
        let patch = AddressPatch::new(&mask, address_fields(values)).map_err(to_status)?;
        let updated = self
            .store
            .update_address(id, &patch, domain::now())
            .await
            .map_err(to_status)?
            .ok_or_else(|| to_status(ProfileError::address_not_found(id)))?;
        self.remember(idempotency, Some(id)).await?;
        Ok(pb::UpdateAddressResponse {
            address: one(updated),
        })
    }

    pub(super) async fn delete_address(
        &self,
        caller: &Caller,
        request: pb::DeleteAddressRequest,
    ) -> Result<pb::DeleteAddressResponse, Status> {
        let idempotency = Idempotency::of(&caller.subject, &request)?;
        let id = parse_id("address_id", &request.address_id).map_err(to_status)?;
        if let Replay::Done(target) = self.replay(&idempotency).await? {
            // The first call's answer: the default it promoted, as it is now.
            let new_default = match target {
                None => None,
                Some(_) => match self.replayed(caller, target).await {
                    Ok(address) => one(address),
                    // Deleted since: nothing left to point at.
                    Err(status) if status.code() == tonic::Code::NotFound => None,
                    Err(status) => return Err(status),
                },
            };
            return Ok(pb::DeleteAddressResponse { new_default });
        }
        // Already gone is success; another user's address is NOT_FOUND.
        let Some(existing) = self.store.address(id).await.map_err(to_status)? else {
            self.remember(idempotency, None).await?;
            return Ok(pb::DeleteAddressResponse { new_default: None });
        };
        visible(caller, id, Some(existing), Access::Write)?;
        let promoted = self
            .store
            .delete_address(id, domain::now())
            .await
            .map_err(to_status)?;
        self.remember(idempotency, promoted.as_ref().map(|a| a.id))
            .await?;
        Ok(pb::DeleteAddressResponse {
            new_default: promoted.map(address_to_proto),
        })
    }

    pub(super) async fn set_default_address(
        &self,
        caller: &Caller,
        request: pb::SetDefaultAddressRequest,
    ) -> Result<pb::SetDefaultAddressResponse, Status> {
        let idempotency = Idempotency::of(&caller.subject, &request)?;
        let id = parse_id("address_id", &request.address_id).map_err(to_status)?;
        let current = self.address_for(caller, id, Access::Write).await?;
        if let Replay::Done(_) = self.replay(&idempotency).await? {
            return Ok(pb::SetDefaultAddressResponse {
                address: one(current),
            });
        }
        let address = self
            .store
            .set_default_address(id, domain::now())
            .await
            .map_err(to_status)?
            .ok_or_else(|| to_status(ProfileError::address_not_found(id)))?;
        self.remember(idempotency, Some(id)).await?;
        Ok(pb::SetDefaultAddressResponse {
            address: one(address),
        })
    }
}
