//! The cart's use cases over real Redis and the in-memory store, with fixed catalog and
//! inventory answers: concurrent writers lose nothing, merges, idempotency, access, and
//! carts that still answer when their peers are down. Redis cases fail when it is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use mandi_cart::domain::{CartError, LineCaps, Product, TaxRates, Unit};
use mandi_cart::peers::fixed::{FixedCatalog, FixedInventory};
use mandi_cart::service::{Actor, CartService, Idempotency, Settings};
use mandi_cart::store::CartStore;
use mandi_cart::store::memory::MemoryStore;
use mandi_cart::store::redis::RedisStore;
use uuid::Uuid;

type Service<S> = CartService<S, FixedCatalog, FixedInventory>;

struct Fixture<S> {
    service: Arc<Service<S>>,
    catalog: FixedCatalog,
    inventory: FixedInventory,
}

fn fixture<S: CartStore>(store: S) -> Fixture<S> {
    let catalog = FixedCatalog::default();
    let inventory = FixedInventory::default();
    let settings = Settings {
        ttl: Duration::from_secs(3600),
        currency: "INR".into(),
        tax_rates: TaxRates::parse("default=0,dry-fruits-nuts=500").unwrap(),
        caps: LineCaps {
            max_grams: 25_000,
            max_units: 1_000,
        },
    };
    let service = CartService::new(
        Arc::new(store),
        catalog.clone(),
        inventory.clone(),
        settings,
    );
    Fixture {
        service: Arc::new(service),
        catalog,
        inventory,
    }
}

async fn redis() -> RedisStore {
    let (url, prefix) = mandi_testkit::redis_with_prefix().await;
    RedisStore::connect(&url, &prefix).await.unwrap()
}

fn user(id: &str) -> Actor {
    Actor {
        user: Some(id.into()),
        privileged: false,
    }
}

fn guest() -> Actor {
    Actor {
        user: None,
        privileged: false,
    }
}

fn key(name: &str, fingerprint: &str) -> Option<Idempotency> {
    Some(Idempotency {
        key: format!("test/{name}"),
        fingerprint: fingerprint.into(),
    })
}

impl<S: CartStore> Fixture<S> {
    /// A product on sale, sold by the piece at ₹40.00, with plenty in stock.
    fn product(&self, name: &str) -> Product {
        let product = Product {
            id: Uuid::now_v7(),
            display_name: name.into(),
            image_url: String::new(),
            vendor_id: "vendor-1".into(),
            category_id: "cat".into(),
            category_path: vec!["gourds".into(), "vegetables".into()],
            unit: Unit::Piece,
            price_minor: 4_000,
            currency: "INR".into(),
            min_quantity: 0,
            max_quantity: 0,
            quantity_step: 0,
            on_sale: true,
        };
        self.catalog.set(product.id, product.clone());
        self.inventory.set(product.id, 10_000);
        product
    }
}

#[tokio::test]
async fn concurrent_adders_on_redis_lose_no_write() {
    let f = fixture(redis().await);
    let shopper = user(&format!("user-{}", Uuid::now_v7()));
    let shared = f.product("Bottle gourd");
    let distinct: Vec<Product> = (0..20).map(|i| f.product(&format!("Gourd {i}"))).collect();

    let mut tasks = Vec::new();
    for _ in 0..40 {
        let (service, shopper, id) = (f.service.clone(), shopper.clone(), shared.id);
        tasks.push(tokio::spawn(async move {
            service.add(&shopper, None, id, 1, None).await.map(|_| ())
        }));
    }
    for product in &distinct {
        let (service, shopper, id) = (f.service.clone(), shopper.clone(), product.id);
        tasks.push(tokio::spawn(async move {
            service.add(&shopper, None, id, 3, None).await.map(|_| ())
        }));
    }
    for task in futures::future::join_all(tasks).await {
        task.unwrap().unwrap();
    }

    let cart = f.service.get(&shopper, None).await.unwrap().unwrap();
    assert_eq!(cart.lines.len(), 21, "one cart, every product in it");
    let quantity = |id| {
        cart.lines
            .iter()
            .find(|l| l.line.product_id == id)
            .unwrap()
            .line
            .quantity
    };
    assert_eq!(quantity(shared.id), 40);
    for product in &distinct {
        assert_eq!(quantity(product.id), 3);
    }
}

#[tokio::test]
async fn concurrent_guests_adding_to_one_guest_cart_lose_no_write() {
    let f = fixture(redis().await);
    let okra = f.product("Okra");
    let cart = f
        .service
        .add(&guest(), None, okra.id, 1, None)
        .await
        .unwrap()
        .unwrap();
    let id = cart.cart.id.clone();
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let (service, id, product) = (f.service.clone(), id.clone(), okra.id);
            tokio::spawn(async move { service.add(&guest(), Some(&id), product, 2, None).await })
        })
        .collect();
    for task in futures::future::join_all(tasks).await {
        task.unwrap().unwrap();
    }
    let cart = f.service.get(&guest(), Some(&id)).await.unwrap().unwrap();
    assert_eq!(cart.lines[0].line.quantity, 61);
}

#[tokio::test]
async fn a_cart_still_answers_when_catalog_and_inventory_are_down_and_says_so() {
    let f = fixture(MemoryStore::default());
    let shopper = user("down-user");
    let melon = f.product("Melon");
    f.service
        .add(&shopper, None, melon.id, 2, None)
        .await
        .unwrap();
    f.catalog.set_down(true);
    f.inventory.set_down(true);

    let cart = f.service.get(&shopper, None).await.unwrap().unwrap();
    assert!(!cart.verification.verified());
    assert_eq!(cart.verification.notes.len(), 2);
    assert_eq!(cart.lines[0].check.current_price_minor, None);
    assert_eq!(cart.lines[0].check.available, None);
    assert_eq!(cart.total_minor, 8_000, "totals from the snapshot");

    // A change needs a price, so it fails clearly instead of guessing.
    let err = f
        .service
        .add(&shopper, None, melon.id, 1, None)
        .await
        .unwrap_err();
    assert!(matches!(err, CartError::CatalogUnavailable(_)), "{err}");
    // Removing needs no price.
    f.service
        .set_quantity(&shopper, None, melon.id, 0, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_price_change_and_short_stock_are_flagged_until_the_line_is_refreshed() {
    let f = fixture(MemoryStore::default());
    let shopper = user("flag-user");
    let mut pumpkin = f.product("Pumpkin");
    f.service
        .add(&shopper, None, pumpkin.id, 4, None)
        .await
        .unwrap();
    pumpkin.price_minor = 4_500;
    f.catalog.set(pumpkin.id, pumpkin.clone());
    f.inventory.set(pumpkin.id, 3);

    let cart = f.service.get(&shopper, None).await.unwrap().unwrap();
    let line = &cart.lines[0];
    assert!(line.check.price_changed(&line.line));
    assert!(line.check.stock_short(&line.line));
    assert_eq!(cart.attention_count(), 1);

    let cart = f
        .service
        .set_quantity(&shopper, None, pumpkin.id, 3, None)
        .await
        .unwrap()
        .unwrap();
    let line = &cart.lines[0];
    assert_eq!(line.line.unit_price_minor, 4_500);
    assert!(!line.check.needs_attention(&line.line));
}

#[tokio::test]
async fn merging_moves_the_guest_lines_in_and_deletes_the_guest_cart() {
    let f = fixture(redis().await);
    let shopper = user(&format!("user-{}", Uuid::now_v7()));
    let (carrot, beet) = (f.product("Carrot"), f.product("Beetroot"));
    f.service
        .add(&shopper, None, carrot.id, 2, None)
        .await
        .unwrap();
    f.inventory.set(carrot.id, 6);
    let guest_cart = f
        .service
        .add(&guest(), None, carrot.id, 5, None)
        .await
        .unwrap()
        .unwrap();
    let guest_id = guest_cart.cart.id.clone();
    f.service
        .add(&guest(), Some(&guest_id), beet.id, 1, None)
        .await
        .unwrap();
    let merged = f
        .service
        .merge(
            shopper.user.as_deref().unwrap(),
            &guest_id,
            key("merge-1", "m"),
        )
        .await
        .unwrap();
    let quantity = |id| {
        merged
            .lines
            .iter()
            .find(|l| l.line.product_id == id)
            .unwrap()
            .line
            .quantity
    };
    assert_eq!(quantity(carrot.id), 6, "2 + 5 capped at the 6 in stock");
    assert_eq!(quantity(beet.id), 1);
    let err = f.service.get(&guest(), Some(&guest_id)).await.unwrap_err();
    assert!(matches!(err, CartError::NotFound(_)), "{err}");

    // A retry of the same merge returns the merged cart again.
    let again = f
        .service
        .merge(
            shopper.user.as_deref().unwrap(),
            &guest_id,
            key("merge-1", "m"),
        )
        .await
        .unwrap();
    assert_eq!(again.cart.id, merged.cart.id);
    assert_eq!(again.lines.len(), 2);
}

#[tokio::test]
async fn a_retried_add_applies_once_and_a_reused_key_is_refused() {
    let f = fixture(MemoryStore::default());
    let shopper = user("retry-user");
    let leek = f.product("Leek");
    for _ in 0..3 {
        f.service
            .add(&shopper, None, leek.id, 2, key("add-1", "a"))
            .await
            .unwrap();
    }
    let cart = f.service.get(&shopper, None).await.unwrap().unwrap();
    assert_eq!(cart.lines[0].line.quantity, 2);
    let err = f
        .service
        .add(&shopper, None, leek.id, 5, key("add-1", "b"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CartError::Invalid(v) if v.field == "request_id"),
        "{err}"
    );
}

#[tokio::test]
async fn another_users_cart_is_forbidden_but_services_may_open_it() {
    let f = fixture(MemoryStore::default());
    let radish = f.product("Radish");
    let owner = user("owner");
    let cart = f
        .service
        .add(&owner, None, radish.id, 1, None)
        .await
        .unwrap()
        .unwrap();
    let id = cart.cart.id.clone();
    for intruder in [user("someone-else"), guest()] {
        let err = f.service.get(&intruder, Some(&id)).await.unwrap_err();
        assert!(matches!(err, CartError::Forbidden(_)), "{err}");
    }
    let checkout = Actor {
        user: None,
        privileged: true,
    };
    assert!(
        f.service
            .clear(&checkout, Some(&id), None)
            .await
            .unwrap()
            .is_some()
    );
    let cart = f.service.get(&owner, None).await.unwrap().unwrap();
    assert!(cart.lines.is_empty());
}

#[tokio::test]
async fn unknown_products_and_bad_quantities_are_refused_clearly() {
    let f = fixture(MemoryStore::default());
    let shopper = user("bad-input-user");
    let err = f
        .service
        .add(&shopper, None, Uuid::now_v7(), 1, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CartError::NotFound(ref what) if what.starts_with("product")),
        "{err}"
    );
    let turnip = f.product("Turnip");
    for quantity in [0, -1, 1_001] {
        let err = f
            .service
            .add(&shopper, None, turnip.id, quantity, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, CartError::Invalid(v) if v.field == "quantity"),
            "{quantity}: {err}"
        );
    }
    let err = f
        .service
        .set_quantity(&shopper, None, turnip.id, 2, None)
        .await
        .unwrap_err();
    assert!(matches!(err, CartError::NotFound(_)), "{err}");
    // Nothing was stored for the shopper.
    assert!(f.service.get(&shopper, None).await.unwrap().is_none());
}
