//! The cart's use cases, between the gRPC layer and the ports: find the caller's cart,
//! apply a change with compare-and-set retries so concurrent changes are never lost,
//! honour idempotency keys, and price and check every cart returned.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use rand::Rng as _;
use uuid::Uuid;

use crate::domain::{
    Cart, CartError, CartId, LineCaps, PricedCart, Product, RequestRecord, TaxRates, price_cart,
};
use crate::peers::{Catalog, Inventory};
use crate::store::{CartStore, Expect, Outcome, Write};

/// Attempts at one change before giving up with [`CartError::Contended`]; each conflict
/// means another writer changed the cart in between, so many in a row are rare.
const MAX_ATTEMPTS: u32 = 64;

/// What the service reads from configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a cart lives after its last change.
    pub ttl: StdDuration,
    /// The marketplace currency every line is priced in.
    pub currency: String,
    /// Tax rates by category.
    pub tax_rates: TaxRates,
    /// The service's largest line quantities.
    pub caps: LineCaps,
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The signed-in user; `None` for guests and internal services.
    pub user: Option<String>,
    /// Admins and internal services may open any cart by id.
    pub privileged: bool,
}

/// An idempotency key scoped to its caller, and the request's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// `{scope}/{request_id}`.
    pub key: String,
    /// The method and a hash of its arguments.
    pub fingerprint: String,
}

/// The cart service over a store and the two peers.
pub struct CartService<S, C, I> {
    store: Arc<S>,
    catalog: C,
    inventory: I,
    settings: Settings,
}

/// A cart as found for a change: the cart to change and what the write must expect.
struct Found {
    cart: Cart,
    expect: Expect,
    owner_expect: Option<Option<CartId>>,
}

impl Found {
    fn is_new(&self) -> bool {
        self.expect == Expect::Absent
    }
}

impl<S: CartStore, C: Catalog, I: Inventory> CartService<S, C, I> {
    /// The service over `store`, asking `catalog` and `inventory`.
    pub fn new(store: Arc<S>, catalog: C, inventory: I, settings: Settings) -> Self {
        Self {
            store,
            catalog,
            inventory,
            settings,
        }
    }

    /// The cart named by `cart_id`, or the caller's own; `None` when there is none yet.
    pub async fn get(
        &self,
        actor: &Actor,
        cart_id: Option<&CartId>,
    ) -> Result<Option<PricedCart>, CartError> {
        let cart = match (cart_id, &actor.user) {
            (Some(id), _) => Some(self.load_for(actor, id).await?.0),
            (None, Some(user)) => self.own_cart(user).await?,
            (None, None) => None,
        };
        match cart {
            Some(cart) => Ok(Some(self.priced(cart).await)),
            None => Ok(None),
        }
    }

    /// Adds `quantity` of `product`, creating the caller's (or a guest's) cart if needed.
    pub async fn add(
        &self,
        actor: &Actor,
        cart_id: Option<&CartId>,
        product: Uuid,
        quantity: i64,
        idempotency: Option<Idempotency>,
    ) -> Result<Option<PricedCart>, CartError> {
        if quantity <= 0 {
            return Err(CartError::invalid("quantity", "must be greater than 0"));
        }
        let product = self.product(product).await?;
        let caps = self.settings.caps;
        self.change(actor, cart_id, idempotency, true, |cart, now| {
            cart.add(&product, quantity, caps, now).map(|()| true)
        })
        .await
    }

    /// Sets the line of `product` to `quantity`; 0 removes it.
    pub async fn set_quantity(
        &self,
        actor: &Actor,
        cart_id: Option<&CartId>,
        product: Uuid,
        quantity: i64,
        idempotency: Option<Idempotency>,
    ) -> Result<Option<PricedCart>, CartError> {
        if quantity < 0 {
            return Err(CartError::invalid("quantity", "must not be negative"));
        }
        // Removing needs no price; anything else snapshots the price now.
        let fresh = match quantity {
            0 => None,
            _ => Some(self.product(product).await?),
        };
        let caps = self.settings.caps;
        self.change(actor, cart_id, idempotency, false, |cart, now| {
            if cart.line(product).is_none() {
                return Err(CartError::NotFound(format!(
                    "product {product} in the cart"
                )));
            }
            match &fresh {
                Some(p) => cart.set(p, quantity, caps, now).map(|()| true),
                None => Ok(cart.remove(product)),
            }
        })
        .await
    }

    /// Removes the line of `product`; a product not in the cart is fine.
    pub async fn remove(
        &self,
        actor: &Actor,
        cart_id: Option<&CartId>,
        product: Uuid,
        idempotency: Option<Idempotency>,
    ) -> Result<Option<PricedCart>, CartError> {
        self.change(actor, cart_id, idempotency, false, |cart, _| {
            Ok(cart.remove(product))
        })
        .await
    }

    /// Removes every line.
    pub async fn clear(
        &self,
        actor: &Actor,
        cart_id: Option<&CartId>,
        idempotency: Option<Idempotency>,
    ) -> Result<Option<PricedCart>, CartError> {
        self.change(actor, cart_id, idempotency, false, |cart, _| {
            let had_lines = !cart.lines.is_empty();
            cart.lines.clear();
            Ok(had_lines)
        })
        .await
    }

    /// Moves guest cart `guest_id` into `user`'s cart and deletes it, atomically.
    pub async fn merge(
        &self,
        user: &str,
        guest_id: &CartId,
        idempotency: Option<Idempotency>,
    ) -> Result<PricedCart, CartError> {
        let actor = Actor {
            user: Some(user.to_owned()),
            privileged: false,
        };
        if let Some(cart) = self.replayed(idempotency.as_ref()).await? {
            return Ok(self.priced(cart).await);
        }
        for attempt in 0..MAX_ATTEMPTS {
            let Some(guest) = self.store.load(guest_id).await? else {
                return Err(CartError::NotFound(format!("guest cart {guest_id}")));
            };
            if guest.cart.user_id.is_some() {
                return Err(CartError::invalid(
                    "guest_cart_id",
                    "names a signed-in user's cart, not a guest cart",
                ));
            }
            let ids: Vec<Uuid> = guest.cart.lines.iter().map(|l| l.product_id).collect();
            let products = self.products(&ids).await?;
            // Stock only caps the merge; without inventory the lines are merged uncapped
            // and the cart says they are unverified.
            let available = self.inventory.available(&ids).await.ok();
            let mut found = self.find(&actor, None, true).await?;
            let now = Utc::now();
            found.cart.merge(
                &guest.cart,
                &products,
                available.as_ref(),
                self.settings.caps,
                now,
            );
            found.cart.touch(now, self.ttl());
            let record = idempotency.as_ref().map(|i| record(i, &found.cart.id));
            let outcome = self
                .store
                .write(Write {
                    cart: &found.cart,
                    expect: found.expect,
                    owner_expect: found.owner_expect,
                    delete: Some((guest_id, guest.revision)),
                    request: record.as_ref(),
                    ttl: self.settings.ttl,
                })
                .await?;
            match outcome {
                Outcome::Saved => return Ok(self.priced(found.cart).await),
                Outcome::Conflict => backoff(attempt).await,
                Outcome::Replayed(done) => {
                    let cart = self.replay(idempotency.as_ref(), done).await?;
                    return Ok(self.priced(cart).await);
                }
            }
        }
        Err(CartError::Contended)
    }

    // === helpers ===

    fn ttl(&self) -> Duration {
        Duration::from_std(self.settings.ttl).unwrap_or(Duration::days(30))
    }

    /// Applies `apply` to the cart with compare-and-set retries. `apply` says whether it
    /// changed anything; a cart that does not exist yet is stored only when it did (or
    /// `create` is set and it did). Returns `None` when there is no cart to show.
    async fn change(
        &self,
        actor: &Actor,
        cart_id: Option<&CartId>,
        idempotency: Option<Idempotency>,
        create: bool,
        apply: impl Fn(&mut Cart, chrono::DateTime<Utc>) -> Result<bool, CartError>,
    ) -> Result<Option<PricedCart>, CartError> {
        if let Some(cart) = self.replayed(idempotency.as_ref()).await? {
            return Ok(Some(self.priced(cart).await));
        }
        for attempt in 0..MAX_ATTEMPTS {
            let mut found = self.find(actor, cart_id, create).await?;
            let now = Utc::now();
            let changed = apply(&mut found.cart, now)?;
            if !changed {
                return Ok(match found.is_new() {
                    true => None,
                    false => Some(self.priced(found.cart).await),
                });
            }
            found.cart.touch(now, self.ttl());
            let record = idempotency.as_ref().map(|i| record(i, &found.cart.id));
            let outcome = self
                .store
                .write(Write {
                    cart: &found.cart,
                    expect: found.expect,
                    owner_expect: found.owner_expect,
                    delete: None,
                    request: record.as_ref(),
                    ttl: self.settings.ttl,
                })
                .await?;
            match outcome {
                Outcome::Saved => return Ok(Some(self.priced(found.cart).await)),
                Outcome::Conflict => backoff(attempt).await,
                Outcome::Replayed(done) => {
                    let cart = self.replay(idempotency.as_ref(), done).await?;
                    return Ok(Some(self.priced(cart).await));
                }
            }
        }
        Err(CartError::Contended)
    }

    /// The cart a change applies to: the one named (which the caller must be allowed to
    /// open), the signed-in user's (new if they have none), or a new guest cart.
    async fn find(
        &self,
        actor: &Actor,
        cart_id: Option<&CartId>,
        create: bool,
    ) -> Result<Found, CartError> {
        if let Some(id) = cart_id {
            let (cart, revision) = self.load_for(actor, id).await?;
            return Ok(Found {
                cart,
                expect: Expect::At(revision),
                owner_expect: None,
            });
        }
        let now = Utc::now();
        match &actor.user {
            Some(user) => {
                let (indexed, loaded) = self.user_cart(user).await?;
                if let Some(loaded) = loaded {
                    return Ok(Found {
                        cart: loaded.cart,
                        expect: Expect::At(loaded.revision),
                        owner_expect: None,
                    });
                }
                Ok(Found {
                    cart: Cart::new(Some(user.clone()), now, self.ttl()),
                    expect: Expect::Absent,
                    owner_expect: Some(indexed),
                })
            }
            None if actor.privileged => Err(CartError::invalid(
                "cart_id",
                "is required for internal callers: name the cart to change",
            )),
            None if create => Ok(Found {
                cart: Cart::new(None, now, self.ttl()),
                expect: Expect::Absent,
                owner_expect: None,
            }),
            None => Err(CartError::invalid(
                "cart_id",
                "is required without a signed-in user: pass the guest cart id",
            )),
        }
    }

    /// Loads cart `id` if `actor` may open it: guest carts with their id, a user's cart
    /// by that user, any cart by admins and internal services.
    async fn load_for(
        &self,
        actor: &Actor,
        id: &CartId,
    ) -> Result<(Cart, crate::store::Revision), CartError> {
        let loaded = self
            .store
            .load(id)
            .await?
            .ok_or_else(|| CartError::NotFound(format!("cart {id}")))?;
        let allowed = match &loaded.cart.user_id {
            None => true,
            Some(owner) => actor.privileged || actor.user.as_deref() == Some(owner.as_str()),
        };
        if !allowed {
            return Err(CartError::Forbidden(
                "this cart belongs to another user".into(),
            ));
        }
        Ok((loaded.cart, loaded.revision))
    }

    async fn own_cart(&self, user: &str) -> Result<Option<Cart>, CartError> {
        Ok(self.user_cart(user).await?.1.map(|loaded| loaded.cart))
    }

    /// The user's cart through the index: the id the index holds (its cart may have expired
    /// since) and the cart, when it still lives and is theirs.
    async fn user_cart(
        &self,
        user: &str,
    ) -> Result<(Option<CartId>, Option<crate::store::Loaded>), CartError> {
        let indexed = self.store.cart_of(user).await?;
        let loaded = match &indexed {
            Some(id) => self
                .store
                .load(id)
                .await?
                .filter(|l| l.cart.user_id.as_deref() == Some(user)),
            None => None,
        };
        Ok((indexed, loaded))
    }

    /// The cart an earlier request with the same key changed; `None` for a new key.
    async fn replayed(&self, idempotency: Option<&Idempotency>) -> Result<Option<Cart>, CartError> {
        let Some(key) = idempotency else {
            return Ok(None);
        };
        match self.store.recall(&key.key).await? {
            Some(done) => self.replay(Some(key), done).await.map(Some),
            None => Ok(None),
        }
    }

    async fn replay(
        &self,
        idempotency: Option<&Idempotency>,
        done: RequestRecord,
    ) -> Result<Cart, CartError> {
        if idempotency.is_some_and(|i| i.fingerprint != done.fingerprint) {
            return Err(CartError::invalid(
                "request_id",
                "was already used for a different request",
            ));
        }
        self.store
            .load(&done.cart_id)
            .await?
            .map(|l| l.cart)
            .ok_or_else(|| CartError::NotFound(format!("cart {}", done.cart_id)))
    }

    /// One product from the catalog, which must answer and sell it in our currency.
    async fn product(&self, id: Uuid) -> Result<Product, CartError> {
        let product = self
            .products(&[id])
            .await?
            .remove(&id)
            .ok_or_else(|| CartError::NotFound(format!("product {id}")))?;
        Ok(product)
    }

    async fn products(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Product>, CartError> {
        let products = self
            .catalog
            .products(ids)
            .await
            .map_err(|e| CartError::CatalogUnavailable(e.reason))?;
        if let Some(foreign) = products
            .values()
            .find(|p| p.currency != self.settings.currency)
        {
            return Err(CartError::precondition(
                "CURRENCY_MISMATCH",
                format!(
                    "{} is priced in {}, but this marketplace sells in {}",
                    foreign.display_name, foreign.currency, self.settings.currency
                ),
            ));
        }
        Ok(products)
    }

    /// Prices `cart` and checks it against both peers, asked at the same time; a peer
    /// that does not answer leaves its part unverified.
    pub async fn priced(&self, cart: Cart) -> PricedCart {
        if cart.lines.is_empty() {
            return price_cart(cart, None, None, &self.settings.tax_rates);
        }
        let ids: Vec<Uuid> = cart.lines.iter().map(|l| l.product_id).collect();
        let (products, available) =
            tokio::join!(self.catalog.products(&ids), self.inventory.available(&ids));
        if let Err(error) = &products {
            tracing::warn!(%error, cart = %cart.id, "cart shown with unverified prices");
        }
        if let Err(error) = &available {
            tracing::warn!(%error, cart = %cart.id, "cart shown with unverified stock");
        }
        price_cart(
            cart,
            products.ok().as_ref(),
            available.ok().as_ref(),
            &self.settings.tax_rates,
        )
    }
}

fn record(idempotency: &Idempotency, cart: &CartId) -> RequestRecord {
    RequestRecord {
        key: idempotency.key.clone(),
        fingerprint: idempotency.fingerprint.clone(),
        cart_id: cart.clone(),
    }
}

/// A short random pause that grows with the attempt, so racing writers spread out.
async fn backoff(attempt: u32) {
    let ceiling = 1 + u64::from(attempt.min(10));
    let micros = rand::thread_rng().gen_range(100..=ceiling * 500);
    tokio::time::sleep(StdDuration::from_micros(micros)).await;
}
