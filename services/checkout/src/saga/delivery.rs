//! Pricing delivery at StartCheckout: the basket's weight and cold chain from the catalog,
//! the slot (the shopper's, checked to be open, or the earliest open one), and the fee from
//! shipping's quote for that slot. Nothing is held yet: the slot is booked by the
//! ReserveSlot step once stock is reserved.

use chrono::{DateTime, Utc};
use mandi_sdk::proto::mandi::catalog::v1::{BatchGetProductsRequest, StorageCondition};
use mandi_sdk::proto::mandi::common::v1::{Address, Money};
use mandi_sdk::proto::mandi::shipping::v1::{
    DeliverySlot, GetShippingQuoteRequest, ListDeliverySlotsRequest,
};
use tonic::Code;
use tonic_types::StatusExt as _;

use super::{CheckoutError, Orchestrator, now};
use crate::domain::{Delivery, Destination, Line, line_grams};
use crate::peers::{CallError, call, destination_to_proto};
use crate::store::CheckoutStore;

/// How far ahead slots are looked for: the longest window ListDeliverySlots lists.
const SLOT_HORIZON_DAYS: i64 = 14;
/// Ids per BatchGetProducts call.
const PRODUCTS_PER_CALL: usize = 100;

/// The delivery StartCheckout settled on.
#[derive(Debug, Clone)]
pub(super) struct Priced {
    /// The slot: the shopper's, or the earliest open one.
    pub slot_id: String,
    /// The slot's window and what is carried.
    pub delivery: Delivery,
    /// Shipping's fee for it, minor units.
    pub fee: i64,
}

impl<S: CheckoutStore> Orchestrator<S> {
    /// Weighs the basket, settles the slot and asks shipping what delivery costs.
    pub(super) async fn price_delivery(
        &self,
        destination: &Destination,
        lines: &[Line],
        subtotal: Money,
        slot_id: &str,
    ) -> Result<Priced, CheckoutError> {
        let (weight_grams, cold_chain) = self.basket(lines).await?;
        let address = destination_to_proto(destination).address;
        let slot = self
            .slot(address.clone(), cold_chain, slot_id.trim())
            .await?;
        let mandi = self.peers.service().await?;
        let quote = call(
            "shipping",
            self.peers.deadline,
            mandi
                .shipping()
                .get_shipping_quote(GetShippingQuoteRequest {
                    destination: address,
                    weight_grams,
                    cold_chain,
                    order_subtotal: Some(subtotal),
                    slot_id: slot.as_ref().map_or(slot_id.trim(), |s| &s.id).to_owned(),
                }),
        )
        .await
        .map_err(|error| refused(error, "delivery_slot_id"))?;
        if !quote.serviceable {
            return Err(unserviceable(destination));
        }
        // A slot shipping knows but did not list as open for this basket: closed, past,
        // or without the cold chain the basket needs.
        let Some(slot) = slot else {
            return Err(CheckoutError::SlotUnavailable(if cold_chain {
                format!(
                    "delivery slot {slot_id} is closed or has no cold chain for the chilled \
                     or frozen products; choose another"
                )
            } else {
                format!("delivery slot {slot_id} is closed; choose another")
            }));
        };
        let window = |t: Option<prost_types::Timestamp>| -> Option<DateTime<Utc>> {
            t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
        };
        let (Some(slot_start), Some(slot_end)) = (window(slot.start_time), window(slot.end_time))
        else {
            return Err(CheckoutError::Peer(CallError::Transient {
                service: "shipping",
                reason: format!("slot {} has no window", slot.id),
            }));
        };
        Ok(Priced {
            slot_id: slot.id,
            delivery: Delivery {
                slot_start,
                slot_end,
                zone_id: quote.zone_id,
                weight_grams,
                cold_chain,
            },
            fee: quote.fee.map_or(0, |m| m.amount_minor),
        })
    }

    /// The basket's weight in grams (at least 1: shipping quotes no weightless basket)
    /// and whether any product is stored chilled or frozen.
    async fn basket(&self, lines: &[Line]) -> Result<(i64, bool), CheckoutError> {
        let mut ids: Vec<String> = lines.iter().map(|l| l.product_id.clone()).collect();
        ids.sort();
        ids.dedup();
        let mandi = self.peers.service().await?;
        let mut products = std::collections::HashMap::new();
        for chunk in ids.chunks(PRODUCTS_PER_CALL) {
            let found = call(
                "catalog",
                self.peers.deadline,
                mandi.catalog().batch_get_products(BatchGetProductsRequest {
                    product_ids: chunk.to_vec(),
                }),
            )
            .await?;
            products.extend(found.products.into_iter().map(|p| (p.id.clone(), p)));
        }
        let mut grams: i64 = 0;
        let mut cold_chain = false;
        for line in lines {
            // A product the catalog no longer shows weighs the default and is not cold:
            // the cart's check refuses such a line anyway.
            let product = products.get(&line.product_id);
            let unit = product.map_or(0, |p| p.unit_weight_grams);
            grams = grams.saturating_add(line_grams(line.unit_of_sale, line.quantity, unit));
            cold_chain |= product.is_some_and(|p| {
                matches!(
                    StorageCondition::try_from(p.storage_condition),
                    Ok(StorageCondition::Chilled | StorageCondition::Frozen)
                )
            });
        }
        Ok((grams.max(1), cold_chain))
    }

    /// The open slot to book: `slot_id` when it is listed as open for the basket (`None`
    /// when it is not listed at all, for the quote to say whether it exists), or the
    /// earliest open one when the shopper chose none.
    async fn slot(
        &self,
        address: Option<Address>,
        cold_chain: bool,
        slot_id: &str,
    ) -> Result<Option<DeliverySlot>, CheckoutError> {
        let mandi = self.peers.service().await?;
        let until = now() + chrono::Duration::days(SLOT_HORIZON_DAYS);
        let listed = call(
            "shipping",
            self.peers.deadline,
            mandi
                .shipping()
                .list_delivery_slots(ListDeliverySlotsRequest {
                    destination: address,
                    start_time: None,
                    end_time: Some(prost_types::Timestamp {
                        seconds: until.timestamp(),
                        nanos: 0,
                    }),
                    cold_chain_required: cold_chain,
                    page_size: 200,
                    page_token: String::new(),
                }),
        )
        .await
        .map_err(|error| refused(error, "destination"))?;
        if slot_id.is_empty() {
            return match listed.slots.into_iter().find(|s| s.available) {
                Some(slot) => Ok(Some(slot)),
                None => Err(CheckoutError::SlotUnavailable(format!(
                    "no delivery slot{} is open for this address in the next {SLOT_HORIZON_DAYS} \
                     days",
                    if cold_chain { " with cold chain" } else { "" }
                ))),
            };
        }
        match listed.slots.into_iter().find(|s| s.id == slot_id) {
            Some(slot) if slot.available => Ok(Some(slot)),
            Some(_) => Err(CheckoutError::SlotUnavailable(format!(
                "delivery slot {slot_id} is full or closed; choose another"
            ))),
            None => Ok(None),
        }
    }
}

fn unserviceable(destination: &Destination) -> CheckoutError {
    CheckoutError::Unserviceable(format!(
        "we do not deliver to postal code {} in {} yet",
        destination.postal_code, destination.country_code
    ))
}

/// Shipping's refusal as the shopper's error: an address outside every zone, an unknown
/// slot, bad input (named as `field`); anything else is shipping failing.
fn refused(error: CallError, field: &str) -> CheckoutError {
    let Some(status) = error.refusal() else {
        return CheckoutError::Peer(error);
    };
    let reason = status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default();
    match (status.code(), reason.as_str()) {
        (Code::FailedPrecondition, "UNSERVICEABLE_ADDRESS") => {
            CheckoutError::Unserviceable(status.message().to_owned())
        }
        (Code::FailedPrecondition, "SLOT_UNAVAILABLE") => {
            CheckoutError::SlotUnavailable(status.message().to_owned())
        }
        (Code::NotFound, _) => CheckoutError::NotFound("delivery slot"),
        (Code::InvalidArgument, _) => {
            let violations: Vec<(String, String)> = status
                .get_details_bad_request()
                .map(|bad| {
                    bad.field_violations
                        .into_iter()
                        .map(|v| (field.to_owned(), format!("{} {}", v.field, v.description)))
                        .collect()
                })
                .unwrap_or_default();
            if violations.is_empty() {
                CheckoutError::Invalid(vec![(field.to_owned(), status.message().to_owned())])
            } else {
                CheckoutError::Invalid(violations)
            }
        }
        _ => CheckoutError::Peer(error),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn refusal(code: Code, reason: &str) -> CallError {
        CallError::Refused {
            service: "shipping",
            status: Box::new(mandi_runtime::errors::status(
                code,
                "no delivery zone serves postal code 744101 in IN",
                "mandi.shipping",
                reason,
            )),
        }
    }

    #[test]
    fn an_address_outside_every_zone_is_unserviceable_in_shippings_words() {
        let error = refused(
            refusal(Code::FailedPrecondition, "UNSERVICEABLE_ADDRESS"),
            "destination",
        );
        assert!(
            matches!(&error, CheckoutError::Unserviceable(m) if m.contains("744101")),
            "{error:?}"
        );
    }

    #[test]
    fn an_unknown_slot_is_not_found_and_a_closed_one_unavailable() {
        let error = refused(refusal(Code::NotFound, "NOT_FOUND"), "delivery_slot_id");
        assert!(
            matches!(error, CheckoutError::NotFound("delivery slot")),
            "{error:?}"
        );
        let error = refused(
            refusal(Code::FailedPrecondition, "SLOT_UNAVAILABLE"),
            "delivery_slot_id",
        );
        assert!(
            matches!(error, CheckoutError::SlotUnavailable(_)),
            "{error:?}"
        );
    }

    #[test]
    fn bad_input_names_the_checkouts_field_and_shipping_down_stays_a_peer_error() {
        let error = refused(
            refusal(Code::InvalidArgument, "INVALID_ARGUMENT"),
            "delivery_slot_id",
        );
        assert!(
            matches!(&error, CheckoutError::Invalid(v) if v[0].0 == "delivery_slot_id"),
            "{error:?}"
        );
        let down = CallError::Transient {
            service: "shipping",
            reason: "no answer".into(),
        };
        assert!(matches!(
            refused(down, "destination"),
            CheckoutError::Peer(CallError::Transient { .. })
        ));
    }
}
