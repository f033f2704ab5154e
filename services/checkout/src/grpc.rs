//! `mandi.checkout.v1.CheckoutService` over the orchestrator: requests converted once at
//! the edge (`convert`), errors mapped in one place (`status`), and who may see which
//! checkout (the shopper who started it, admins).

pub mod convert;
pub mod status;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use mandi_runtime::auth::{self, Caller, Policy, roles};
use mandi_runtime::paging;
use mandi_sdk::proto::mandi::checkout::v1 as pb;
use mandi_sdk::proto::mandi::checkout::v1::checkout_service_server::CheckoutService;
use tokio::sync::{broadcast, mpsc};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::domain::{CheckoutFilter, Saga};
use crate::saga::{CheckoutError, Orchestrator};
use crate::store::{CheckoutStore, Cursor};
use convert::{checkout_to_proto, new_checkout, state_from_proto};

/// ErrorInfo domain of checkout's errors.
pub const DOMAIN: &str = "mandi.checkout";

/// Who may call what: every method needs a signed-in caller; whose checkouts they see is
/// decided per call.
pub const POLICIES: &[(&str, Policy)] = &[
    ("StartCheckout", Policy::SignedIn),
    ("GetCheckout", Policy::SignedIn),
    ("ListCheckouts", Policy::SignedIn),
    ("WatchCheckout", Policy::SignedIn),
];

/// Default and largest page of ListCheckouts.
const PAGE: (usize, usize) = (50, 200);
/// How often a watcher re-reads the store, to see changes made by other replicas.
const WATCH_POLL: Duration = Duration::from_millis(500);

/// Serves the checkout contract.
pub struct CheckoutGrpc<S> {
    orchestrator: Arc<Orchestrator<S>>,
    /// Longest a StartCheckout with `wait` waits.
    wait_limit: Duration,
}

impl<S: CheckoutStore> CheckoutGrpc<S> {
    /// Serves `orchestrator`; a waiting StartCheckout waits at most `wait_limit`.
    pub fn new(orchestrator: Arc<Orchestrator<S>>, wait_limit: Duration) -> Self {
        Self {
            orchestrator,
            wait_limit,
        }
    }
}

fn is_admin(caller: &Caller) -> bool {
    caller.has_role(roles::ADMIN) || caller.has_role(roles::SERVICE)
}

fn user_of(caller: &Caller) -> Result<Uuid, Status> {
    Uuid::parse_str(&caller.subject).map_err(|_| {
        mandi_runtime::errors::status(
            tonic::Code::PermissionDenied,
            "only shoppers check out",
            DOMAIN,
            "NOT_A_SHOPPER",
        )
    })
}

/// The checkout `id` if `caller` may see it; NOT_FOUND otherwise, as for one that does
/// not exist.
async fn visible<S: CheckoutStore>(
    orchestrator: &Orchestrator<S>,
    caller: &Caller,
    id: &str,
) -> Result<Saga, Status> {
    let not_found = || status::status(CheckoutError::NotFound("checkout"));
    let id = Uuid::parse_str(id).map_err(|_| {
        status::status(CheckoutError::Invalid(vec![(
            "checkout_id".into(),
            "must be a UUID".into(),
        )]))
    })?;
    let saga = orchestrator
        .get(id)
        .await
        .map_err(|e| status::status(e.into()))?
        .ok_or_else(not_found)?;
    if is_admin(caller) || caller.subject == saga.user_id.to_string() {
        Ok(saga)
    } else {
        Err(not_found())
    }
}

/// The deadline the client set (`grpc-timeout`), if any.
fn client_deadline(metadata: &tonic::metadata::MetadataMap) -> Option<Duration> {
    let value = metadata.get("grpc-timeout")?.to_str().ok()?;
    let (number, unit) = value.split_at(value.len().checked_sub(1)?);
    let number: u64 = number.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(number * 3600),
        "M" => Duration::from_secs(number * 60),
        "S" => Duration::from_secs(number),
        "m" => Duration::from_millis(number),
        "u" => Duration::from_micros(number),
        "n" => Duration::from_nanos(number),
        _ => return None,
    })
}

#[derive(serde::Serialize)]
struct ListFingerprint<'a> {
    filter: &'a CheckoutFilter,
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchCheckoutResponse, Status>> + Send>>;

#[tonic::async_trait]
impl<S: CheckoutStore> CheckoutService for CheckoutGrpc<S> {
    async fn start_checkout(
        &self,
        request: Request<pb::StartCheckoutRequest>,
    ) -> Result<Response<pb::StartCheckoutResponse>, Status> {
        let caller = auth::caller(&request)?.clone();
        let user = user_of(&caller)?;
        let bearer = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        // Leaves a little of the client's deadline to send the answer.
        let within = client_deadline(request.metadata())
            .map_or(self.wait_limit, |d| {
                d.saturating_sub(Duration::from_millis(250))
            })
            .min(self.wait_limit);
        let message = request.into_inner();
        let wait = message.wait;
        let new =
            new_checkout(message).map_err(|bad| status::status(CheckoutError::Invalid(bad)))?;
        let saga = self
            .orchestrator
            .start(new, user, bearer)
            .await
            .map_err(status::status)?;
        let saga = if wait {
            self.orchestrator
                .outcome(saga, within)
                .await
                .map_err(status::status)?
        } else {
            saga
        };
        Ok(Response::new(pb::StartCheckoutResponse {
            checkout: Some(checkout_to_proto(&saga)),
        }))
    }

    async fn get_checkout(
        &self,
        request: Request<pb::GetCheckoutRequest>,
    ) -> Result<Response<pb::GetCheckoutResponse>, Status> {
        let caller = auth::caller(&request)?.clone();
        let saga = visible(&self.orchestrator, &caller, &request.get_ref().checkout_id).await?;
        Ok(Response::new(pb::GetCheckoutResponse {
            checkout: Some(checkout_to_proto(&saga)),
        }))
    }

    async fn list_checkouts(
        &self,
        request: Request<pb::ListCheckoutsRequest>,
    ) -> Result<Response<pb::ListCheckoutsResponse>, Status> {
        let caller = auth::caller(&request)?.clone();
        let message = request.into_inner();
        let invalid = |field: &str, why: &str| {
            status::status(CheckoutError::Invalid(vec![(field.into(), why.into())]))
        };
        let user_id = match (message.user_id.as_str(), is_admin(&caller)) {
            ("", true) => None,
            ("", false) => Some(user_of(&caller)?),
            (id, admin) => {
                let id = Uuid::parse_str(id).map_err(|_| invalid("user_id", "must be a UUID"))?;
                if !admin && caller.subject != id.to_string() {
                    return Err(mandi_runtime::errors::status(
                        tonic::Code::PermissionDenied,
                        "customers may only list their own checkouts",
                        DOMAIN,
                        "NOT_OWNER",
                    ));
                }
                Some(id)
            }
        };
        let mut states = Vec::new();
        for (i, s) in message.states.iter().enumerate() {
            match state_from_proto(*s) {
                Some(state) => states.push(state),
                None => {
                    return Err(invalid(
                        &format!("states[{i}]"),
                        "is not a state checkouts enter",
                    ));
                }
            }
        }
        let updated_before = match message.update_time_before {
            Some(t) => Some(
                chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
                    .ok_or_else(|| invalid("update_time_before", "is out of range"))?,
            ),
            None => None,
        };
        let filter = CheckoutFilter {
            user_id,
            states,
            updated_before,
        };
        let size = paging::page_size(message.page_size, PAGE.0, PAGE.1)
            .map_err(|e| invalid(e.field, &e.description))?;
        let fingerprint = paging::fingerprint(&ListFingerprint { filter: &filter });
        let after: Option<Cursor> = paging::decode_token(&message.page_token, &fingerprint)
            .map_err(|e| invalid(e.field, &e.description))?;
        let mut sagas = self
            .orchestrator
            .store()
            .list(&filter, after, size + 1)
            .await
            .map_err(|e| status::status(e.into()))?;
        let more = sagas.len() > size;
        sagas.truncate(size);
        let next_page_token = match sagas.last() {
            Some(last) if more => paging::encode_token(
                &Cursor {
                    created_at: last.created_at,
                    id: last.id,
                },
                &fingerprint,
            ),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListCheckoutsResponse {
            checkouts: sagas.iter().map(checkout_to_proto).collect(),
            next_page_token,
        }))
    }

    type WatchCheckoutStream = WatchStream;

    async fn watch_checkout(
        &self,
        request: Request<pb::WatchCheckoutRequest>,
    ) -> Result<Response<Self::WatchCheckoutStream>, Status> {
        let caller = auth::caller(&request)?.clone();
        // Subscribed before the first read, so no change falls between the two.
        let changes = self.orchestrator.subscribe();
        let saga = visible(&self.orchestrator, &caller, &request.get_ref().checkout_id).await?;
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(watch(self.orchestrator.clone(), saga, changes, tx));
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

/// Sends `saga` and then each newer version until a terminal one. A slow watcher only
/// holds up its own task: the broadcast drops what it cannot keep, and a watcher that
/// fell behind reads the current saga from the store instead.
async fn watch<S: CheckoutStore>(
    orchestrator: Arc<Orchestrator<S>>,
    saga: Saga,
    mut changes: broadcast::Receiver<Arc<Saga>>,
    tx: mpsc::Sender<Result<pb::WatchCheckoutResponse, Status>>,
) {
    let id = saga.id;
    let mut sent = 0;
    let mut current = Some(saga);
    let mut poll = tokio::time::interval(WATCH_POLL);
    loop {
        if let Some(saga) = current.take() {
            if saga.version > sent {
                sent = saga.version;
                let message = pb::WatchCheckoutResponse {
                    checkout: Some(checkout_to_proto(&saga)),
                };
                if tx.send(Ok(message)).await.is_err() {
                    return;
                }
            }
            if saga.state.is_terminal() {
                return;
            }
        }
        tokio::select! {
            change = changes.recv() => match change {
                Ok(change) if change.id == id => current = Some((*change).clone()),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    current = orchestrator.get(id).await.ok().flatten();
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = poll.tick() => current = orchestrator.get(id).await.ok().flatten(),
            () = tx.closed() => return,
        }
    }
}
