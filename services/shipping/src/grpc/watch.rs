//! WatchShipment: the shipment now, then one message per change, until a terminal status.
//! Each watcher has its own task and a small buffer: a slow watcher only holds up itself
//! (the shared broadcast drops what it cannot keep, and a watcher that fell behind reads
//! the current shipment from the store instead), and a poll catches changes made by other
//! replicas.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use mandi_sdk::proto::mandi::shipping::v1 as pb;
use tokio::sync::{broadcast, mpsc};
use tonic::Status;

use super::convert::{last_event, shipment_to_proto};
use crate::domain::Shipment;
use crate::service::Shipping;
use crate::store::ShippingStore;

/// How often a watcher reads the store for changes made elsewhere.
const POLL: Duration = Duration::from_secs(2);

/// The stream tonic sends.
pub(super) type WatchStream =
    Pin<Box<dyn Stream<Item = Result<pb::WatchShipmentResponse, Status>> + Send>>;

/// Starts a watcher of `shipment` and returns its stream.
pub(super) fn stream<S: ShippingStore>(
    shipping: Shipping<S>,
    shipment: Shipment,
    changes: broadcast::Receiver<Arc<Shipment>>,
    shows_code: bool,
) -> WatchStream {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(watch(shipping, shipment, changes, tx, shows_code));
    Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

async fn watch<S: ShippingStore>(
    shipping: Shipping<S>,
    first: Shipment,
    mut changes: broadcast::Receiver<Arc<Shipment>>,
    tx: mpsc::Sender<Result<pb::WatchShipmentResponse, Status>>,
    shows_code: bool,
) {
    let id = first.id;
    let mut sent: Option<(i64, usize)> = None;
    let mut current = Some(first);
    let mut poll = tokio::time::interval(POLL);
    loop {
        if let Some(shipment) = current.take() {
            let newer = sent.is_none_or(|(version, _)| shipment.version > version);
            if newer {
                // A message carries the event that caused it when the journey grew.
                let event = match sent {
                    Some((_, events)) if shipment.tracking.len() > events => last_event(&shipment),
                    _ => None,
                };
                sent = Some((shipment.version, shipment.tracking.len()));
                let message = pb::WatchShipmentResponse {
                    shipment: Some(shipment_to_proto(&shipment, shows_code)),
                    event,
                };
                if tx.send(Ok(message)).await.is_err() {
                    return;
                }
            }
            if shipment.status.is_terminal() {
                return;
            }
        }
        tokio::select! {
            change = changes.recv() => match change {
                Ok(change) if change.id == id => current = Some((*change).clone()),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    current = shipping.store().shipment(id).await.ok().flatten();
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = poll.tick() => current = shipping.store().shipment(id).await.ok().flatten(),
            () = tx.closed() => return,
        }
    }
}
