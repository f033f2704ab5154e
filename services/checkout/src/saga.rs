//! The orchestrator: starts sagas, runs each step with a deadline and a retry budget,
//! records every step before and after it runs, compensates failures, resumes unfinished
//! sagas after a restart, and tells watchers about every change.
//!
//! A saga runs in its own task. Before a step's call the saga is stored with the step as
//! `running` (and in `started`), after it with the step in `done`; so after a crash the
//! next orchestrator knows which calls may have been made, and repeats them safely since
//! every downstream call is keyed by the checkout or order id. A saga is run by the
//! orchestrator holding its lease, renewed by every save; a crashed orchestrator's sagas
//! are claimed by the recovery loop once their lease ends.

mod delivery;
mod start;
mod steps;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, SubsecRound as _, Utc};
use tokio::sync::broadcast;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::domain::{Failure, FailureReason, Running, Saga, State, Step};
use crate::peers::{CallError, Peers};
use crate::store::{CheckoutStore, StoreError};

pub use start::{DestinationChoice, NewCheckout};

/// Exit code of a test crash point (`MANDI_CHECKOUT__TEST_CRASH_AFTER`).
pub const CRASH_EXIT_CODE: i32 = 86;

/// How the orchestrator behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Tries per step before it counts as failed.
    pub attempts: u32,
    /// Wait before the second try; doubled for each further one.
    pub backoff: Duration,
    /// How long a saga stays with its orchestrator after its last save.
    pub lease: Duration,
    /// How often unfinished sagas with an ended lease are looked for.
    pub recovery_interval: Duration,
    /// How long a stock hold lasts before inventory releases it by itself; the slot hold
    /// lasts as long, within the hour shipping allows.
    pub reservation_ttl: Duration,
    /// Test only: exit the process right after this step is recorded as done.
    pub crash_after: Option<Step>,
}

/// Card data, kept in memory only until the payment is authorized: never stored.
#[derive(Clone)]
pub struct Card {
    /// Card number (sandbox) or gateway token.
    pub token: String,
    /// Expiry month.
    pub exp_month: i32,
    /// Expiry year.
    pub exp_year: i32,
}

impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let last4 = self
            .token
            .get(self.token.len().saturating_sub(4)..)
            .unwrap_or("");
        write!(f, "Card(****{last4})")
    }
}

/// What can go wrong for a caller of the orchestrator.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    /// Bad input, by field.
    #[error("invalid request: {0:?}")]
    Invalid(Vec<(String, String)>),
    /// The cart, address or checkout does not exist (or is not the caller's).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The cart has no lines.
    #[error("the cart is empty")]
    CartEmpty,
    /// The address is in no delivery zone.
    #[error("{0}")]
    Unserviceable(String),
    /// The chosen slot is full, closed or without the cold chain needed, or none is open.
    #[error("{0}")]
    SlotUnavailable(String),
    /// The checkout id was used for another request.
    #[error("request_id was used for a different checkout")]
    RequestReused,
    /// The saga failed (only when the caller waits for the outcome).
    #[error("checkout failed: {}", .0.message)]
    Failed(Box<Failure>),
    /// A peer needed to start did not answer.
    #[error(transparent)]
    Peer(#[from] CallError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs checkout sagas over `S`.
pub struct Orchestrator<S> {
    store: S,
    peers: Peers,
    settings: Settings,
    /// This orchestrator's id, the owner of its leases.
    owner: Uuid,
    /// Sagas running in this process.
    running: Mutex<HashSet<Uuid>>,
    /// Card data until authorization, by checkout.
    cards: Mutex<HashMap<Uuid, Card>>,
    /// The shopper's `authorization`, by checkout, to clear the cart.
    bearers: Mutex<HashMap<Uuid, String>>,
    /// Every stored change, for watchers in this process.
    changes: broadcast::Sender<Arc<Saga>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The current time, to the microsecond (what PostgreSQL keeps).
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl<S: CheckoutStore> Orchestrator<S> {
    /// An orchestrator over `store` calling `peers`.
    pub fn new(store: S, peers: Peers, settings: Settings) -> Arc<Self> {
        let (changes, _) = broadcast::channel(4096);
        Arc::new(Self {
            store,
            peers,
            settings,
            owner: Uuid::now_v7(),
            running: Mutex::default(),
            cards: Mutex::default(),
            bearers: Mutex::default(),
            changes,
        })
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    fn lease_until(&self) -> DateTime<Utc> {
        now()
            + chrono::Duration::from_std(self.settings.lease)
                .unwrap_or(chrono::Duration::seconds(30))
    }

    /// Follows every change stored by this orchestrator.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Saga>> {
        self.changes.subscribe()
    }

    /// Stores `saga` as its next version and tells watchers.
    async fn save(&self, saga: &mut Saga) -> Result<(), StoreError> {
        saga.version += 1;
        saga.updated_at = now();
        if let Err(error) = self.store.save(saga, self.owner, self.lease_until()).await {
            saga.version -= 1;
            return Err(error);
        }
        let _ = self.changes.send(Arc::new(saga.clone()));
        Ok(())
    }

    /// Runs saga `id` in the background unless it already runs here.
    pub fn spawn(self: &Arc<Self>, id: Uuid) {
        if !lock(&self.running).insert(id) {
            return;
        }
        let this = self.clone();
        // A child of the span that started it, so the saga's calls stay in the shopper's
        // trace (a saga resumed by recovery starts a trace of its own).
        let span = tracing::info_span!("checkout.saga", checkout = %id);
        tokio::spawn(
            async move {
                if let Err(error) = this.run(id).await {
                    // Left for the recovery loop (ours or another replica's) once the lease
                    // ends.
                    tracing::warn!(checkout = %id, %error, "checkout saga paused");
                }
                lock(&this.running).remove(&id);
            }
            .instrument(span),
        );
    }

    /// Claims unfinished sagas whose orchestrator stopped and runs them.
    pub async fn recover_once(self: &Arc<Self>) -> Result<usize, StoreError> {
        let claimed = self
            .store
            .claim_unfinished(self.owner, now(), self.lease_until(), 100)
            .await?;
        let mut resumed = 0;
        for saga in claimed {
            if !lock(&self.running).contains(&saga.id) {
                tracing::info!(checkout = %saga.id, state = saga.state.as_str(), "resuming checkout saga");
                resumed += 1;
                self.spawn(saga.id);
            }
        }
        Ok(resumed)
    }

    /// Recovers at start-up and then every `recovery_interval`, for as long as the
    /// process runs.
    pub fn spawn_recovery(self: &Arc<Self>) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(this.settings.recovery_interval);
            loop {
                tick.tick().await;
                if let Err(error) = this.recover_once().await {
                    tracing::warn!(%error, "cannot look for unfinished checkouts");
                }
            }
        });
    }

    /// Drives saga `id` to a terminal state, or until a store conflict says another
    /// orchestrator has it, or until compensation cannot go on for now.
    async fn run(&self, id: Uuid) -> Result<(), StoreError> {
        let Some(mut saga) = self.store.get(id).await? else {
            return Ok(());
        };
        // Counted once, by the run that saw it end.
        let ends_here = !saga.state.is_terminal();
        loop {
            match saga.state {
                State::Completed | State::Failed => {
                    if ends_here {
                        count_outcome(&saga);
                    }
                    self.forget(id);
                    return Ok(());
                }
                State::Compensating => {
                    if !self.compensate(&mut saga).await? {
                        return Err(StoreError::Failed(format!(
                            "compensation of {id} must be retried later"
                        )));
                    }
                }
                _ => match saga.next_step() {
                    Some(step) => self.run_step(&mut saga, step).await?,
                    None => {
                        saga.enter(State::Completed, "", now());
                        self.save(&mut saga).await?;
                    }
                },
            }
        }
    }

    fn forget(&self, id: Uuid) {
        lock(&self.cards).remove(&id);
        lock(&self.bearers).remove(&id);
    }

    /// Runs `step` within the retry budget, recording each attempt before it is made and
    /// the outcome after.
    async fn run_step(&self, saga: &mut Saga, step: Step) -> Result<(), StoreError> {
        let mut last = String::new();
        for attempt in 1..=self.settings.attempts {
            if attempt > 1 {
                let wait = self.settings.backoff * 2u32.saturating_pow(attempt - 2);
                tokio::time::sleep(wait).await;
                saga.note(
                    format!("retrying {} (attempt {attempt}): {last}", step.name()),
                    now(),
                );
            }
            saga.running = Some(Running {
                step,
                attempt,
                started_at: now(),
            });
            if !saga.started.contains(&step) {
                saga.started.push(step);
            }
            self.save(saga).await?;
            match self.perform(saga, step).await {
                Ok(Ok(note)) => {
                    saga.finish(step, note, now());
                    self.save(saga).await?;
                    mandi_runtime::metrics::checkout_step(step.name(), "done");
                    if self.settings.crash_after == Some(step) {
                        tracing::error!(checkout = %saga.id, step = step.name(), "test crash point reached: exiting");
                        std::process::exit(CRASH_EXIT_CODE);
                    }
                    return Ok(());
                }
                Ok(Err(failure)) => {
                    saga.fail(failure, now());
                    return self.save(saga).await;
                }
                Err(CallError::Transient { service, reason }) => {
                    last = format!("{service}: {reason}");
                }
                Err(refused @ CallError::Refused { .. }) => {
                    tracing::error!(checkout = %saga.id, step = step.name(), error = %refused, "step refused");
                    let failure = Failure::new(
                        FailureReason::Internal,
                        "checkout failed unexpectedly; nothing was charged that is not refunded",
                        saga.state,
                    );
                    saga.fail(failure, now());
                    return self.save(saga).await;
                }
            }
        }
        if step == Step::ClearCart {
            // The purchase went through; a cart left as it was is not worth undoing it.
            saga.finish(
                step,
                format!("order placed; the cart could not be cleared: {last}"),
                now(),
            );
            return self.save(saga).await;
        }
        let reason = if step == Step::Authorize || step == Step::Capture {
            FailureReason::PaymentFailed
        } else {
            FailureReason::ServiceUnavailable
        };
        let message = format!(
            "{} did not succeed in {} attempts: {last}",
            step.name(),
            self.settings.attempts
        );
        let failure = Failure::new(reason, message, saga.state);
        saga.fail(failure, now());
        self.save(saga).await
    }

    /// Undoes what the saga did, latest first; `false` when a compensation could not be
    /// made now (it is retried later, the saga staying COMPENSATING).
    async fn compensate(&self, saga: &mut Saga) -> Result<bool, StoreError> {
        for step in saga.to_undo() {
            let mut done = false;
            for attempt in 1..=self.settings.attempts {
                if attempt > 1 {
                    tokio::time::sleep(self.settings.backoff * 2u32.saturating_pow(attempt - 2))
                        .await;
                }
                match self.undo(saga, step).await {
                    Ok(note) => {
                        saga.undone.push(step);
                        saga.note(note, now());
                        self.save(saga).await?;
                        done = true;
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(checkout = %saga.id, step = step.name(), %error, attempt, "compensation failed");
                    }
                }
            }
            if !done {
                return Ok(false);
            }
        }
        let message = saga
            .failure
            .as_ref()
            .map(|f| f.message.clone())
            .unwrap_or_default();
        saga.enter(State::Failed, message, now());
        self.save(saga).await?;
        Ok(true)
    }

    /// The saga `id` as stored.
    pub async fn get(&self, id: Uuid) -> Result<Option<Saga>, StoreError> {
        self.store.get(id).await
    }

    /// Waits until saga `id` ends (or `within` passes) and returns it as last seen.
    pub async fn wait(&self, id: Uuid, within: Duration) -> Result<Option<Saga>, StoreError> {
        let mut changes = self.subscribe();
        let deadline = tokio::time::Instant::now() + within;
        let mut saga = self.store.get(id).await?;
        // Other replicas' changes are only seen in the store: it is read again now and then.
        let mut poll = tokio::time::interval(Duration::from_millis(500));
        loop {
            if saga.as_ref().is_none_or(|s| s.state.is_terminal()) {
                return Ok(saga);
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return Ok(saga),
                change = changes.recv() => match change {
                    Ok(change) if change.id == id => saga = Some((*change).clone()),
                    Ok(_) => {}
                    Err(_) => saga = self.store.get(id).await?,
                },
                _ = poll.tick() => saga = self.store.get(id).await?,
            }
        }
    }

    fn card(&self, id: Uuid) -> Option<Card> {
        lock(&self.cards).get(&id).cloned()
    }

    fn bearer(&self, id: Uuid) -> Option<String> {
        lock(&self.bearers).get(&id).cloned()
    }
}

/// A failure saying the payment did not go through.
fn payment_failure(
    reason: FailureReason,
    payment_reason: i32,
    message: String,
    state: State,
) -> Failure {
    let mut failure = Failure::new(reason, message, state);
    failure.payment_failure_reason = payment_reason;
    failure
}

/// Counts a saga that just ended in the checkout metrics: completed, or failed with its
/// reason (the funnel's last stage).
fn count_outcome(saga: &Saga) {
    match (saga.state, &saga.failure) {
        (State::Completed, _) => mandi_runtime::metrics::checkout_outcome("completed", ""),
        (_, failure) => mandi_runtime::metrics::checkout_outcome(
            "failed",
            &failure
                .as_ref()
                .map(|f| format!("{:?}", f.reason))
                .unwrap_or_default(),
        ),
    }
}
