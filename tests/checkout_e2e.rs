//! The checkout saga end to end on real backends: checkout, order, inventory and payment on
//! PostgreSQL in their own servers, identity, catalog (the demo data), cart, profile and
//! shipping (the demo zones) in an embedded server beside them (as in `cart_e2e.rs`). Every case ends by checking the
//! books: stock conserved (received = available + reserved + sold), no order left between
//! states, payments captured at most once and only for PAID orders, the ledger balanced.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt as _;

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::cart::v1::{AddItemRequest, GetCartRequest};
use mandi_sdk::proto::mandi::catalog::v1::Product;
use mandi_sdk::proto::mandi::checkout::v1::{
    Checkout, CheckoutState, FailureReason, GetCheckoutRequest, ListCheckoutsRequest,
    StartCheckoutRequest, WatchCheckoutRequest, start_checkout_request,
};
use mandi_sdk::proto::mandi::common::v1::{Address as PostalAddress, DeliveryDestination};
use mandi_sdk::proto::mandi::inventory::v1::{
    CreateWarehouseRequest, GetAvailabilityRequest, ReceiveStockRequest, Warehouse,
};
use mandi_sdk::proto::mandi::notification::v1::{Delivery, ListDeliveriesRequest};
use mandi_sdk::proto::mandi::order::v1::{ListOrdersRequest, Order, OrderStatus};
use mandi_sdk::proto::mandi::payment::v1::{
    CardDetails, EntryDirection, ListLedgerEntriesRequest, ListPaymentsRequest, Payment,
    PaymentMethod, PaymentStatus,
};
use mandi_sdk::proto::mandi::profile::v1::{Address as SavedAddress, CreateAddressRequest};
use mandi_sdk::proto::mandi::shipping::v1::{
    DeliverySlot, GetShippingQuoteRequest, ListDeliverySlotsRequest, ListShipmentsRequest,
    ReserveSlotRequest,
};
use mandi_testkit::ServerProcess;
use mandi_testkit::accounts::sign_up;
use mandi_testkit::mesh::zones_file;
use tonic::Code;
use tonic_types::StatusExt as _;
use uuid::Uuid;

const ADMIN_EMAIL: &str = "root@mandi.example";
const SECRET: &str = "checkout-secret-for-tests-0123456789";
const APPROVED: &str = "4242424242424242";
const DECLINED: [&str; 4] = [
    "4000000000000002",
    "4000000000009995",
    "4000000000009979",
    "4000000000000069",
];
const GATEWAY_NEVER_ANSWERS: &str = "4000000000000119";

fn start(target: &str, extra: Vec<(&'static str, String)>) -> ServerProcess {
    let common = vec![
        ("MANDI_IDENTITY__ADMIN_EMAILS", ADMIN_EMAIL.to_owned()),
        (
            "MANDI_IDENTITY__SERVICE_CLIENTS",
            format!("checkout={SECRET}"),
        ),
        ("MANDI_CHECKOUT__CLIENT_SECRET", SECRET.to_owned()),
        // Cheap hashing: these tests are about checkouts, not argon2's cost.
        ("MANDI_IDENTITY__ARGON2_MEMORY_KIB", "1024".to_owned()),
        // Hundreds of shoppers sign in from one address.
        (
            "MANDI_IDENTITY__MAX_FAILURES_PER_SOURCE",
            "100000".to_owned(),
        ),
    ];
    let env: Vec<(&str, String)> = common.into_iter().chain(extra).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ServerProcess::start(target, &env)
}

/// The three servers and what the test stocked.
struct Mesh {
    /// identity, catalog, cart, profile, shipping (embedded, in memory).
    mesh: ServerProcess,
    /// order, inventory, payment on PostgreSQL.
    shop: ServerProcess,
    /// checkout on PostgreSQL; replaced when a test restarts it.
    checkout: Option<ServerProcess>,
    checkout_db: String,
    checkout_env: Vec<(&'static str, String)>,
    admin: Mandi,
    product: Product,
    /// Quantity of one line (the product's minimum).
    quantity: i64,
    received: i64,
}

impl Mesh {
    /// Starts the servers and stocks `lines` lines' worth of a demo product.
    async fn start(
        lines: i64,
        shop_env: Vec<(&'static str, String)>,
        checkout_env: Vec<(&'static str, String)>,
    ) -> Self {
        Self::start_with(lines, vec![], shop_env, checkout_env).await
    }

    /// [`Mesh::start`] with `mesh_env` for the embedded server (shipping's zones).
    async fn start_with(
        lines: i64,
        mesh_env: Vec<(&'static str, String)>,
        shop_env: Vec<(&'static str, String)>,
        checkout_env: Vec<(&'static str, String)>,
    ) -> Self {
        let mesh = start("all", mesh_env);
        let (order_db, inventory_db, payment_db, checkout_db) = (
            mandi_testkit::fresh_database().await,
            mandi_testkit::fresh_database().await,
            mandi_testkit::fresh_database().await,
            mandi_testkit::fresh_database().await,
        );
        let mut env = vec![
            ("MANDI_AUTH__IDENTITY_ENDPOINT", mesh.url()),
            ("MANDI_ORDER__DATABASE_URL", order_db),
            ("MANDI_INVENTORY__DATABASE_URL", inventory_db),
            ("MANDI_INVENTORY__CATALOG_ENDPOINT", mesh.url()),
            ("MANDI_PAYMENT__DATABASE_URL", payment_db),
        ];
        env.extend(shop_env);
        let shop = start("order,inventory,payment", env);
        let admin = Mandi::builder()
            .endpoint(mesh.url())
            .service_endpoint("order", shop.url())
            .service_endpoint("inventory", shop.url())
            .service_endpoint("payment", shop.url())
            .connect_lazy()
            .unwrap();
        sign_up(&admin, ADMIN_EMAIL).await;
        let product = mandi_testkit::mesh::demo_product(&admin, "watermelon", "watermelon").await;
        let quantity = product.min_quantity.max(1);
        let received = lines * quantity;
        mandi_testkit::mesh::stock(&admin, &product.id, received).await;
        let mut this = Self {
            mesh,
            shop,
            checkout: None,
            checkout_db,
            checkout_env,
            admin,
            product,
            quantity,
            received,
        };
        this.start_checkout(vec![]);
        this
    }

    /// (Re)starts the checkout server on the same database, with `extra` settings.
    fn start_checkout(&mut self, extra: Vec<(&'static str, String)>) {
        let mut env = vec![
            ("MANDI_CHECKOUT__DATABASE_URL", self.checkout_db.clone()),
            ("MANDI_AUTH__IDENTITY_ENDPOINT", self.mesh.url()),
            ("MANDI_CHECKOUT__CART_ENDPOINT", self.mesh.url()),
            ("MANDI_CHECKOUT__PROFILE_ENDPOINT", self.mesh.url()),
            ("MANDI_CHECKOUT__CATALOG_ENDPOINT", self.mesh.url()),
            ("MANDI_CHECKOUT__SHIPPING_ENDPOINT", self.mesh.url()),
            ("MANDI_CHECKOUT__ORDER_ENDPOINT", self.shop.url()),
            ("MANDI_CHECKOUT__INVENTORY_ENDPOINT", self.shop.url()),
            ("MANDI_CHECKOUT__PAYMENT_ENDPOINT", self.shop.url()),
            ("MANDI_CHECKOUT__STEP_TIMEOUT", "2s".to_owned()),
            ("MANDI_CHECKOUT__LEASE", "5s".to_owned()),
            ("MANDI_CHECKOUT__RECOVERY_INTERVAL", "200ms".to_owned()),
            ("MANDI_CHECKOUT__RETRY_BACKOFF", "100ms".to_owned()),
        ];
        env.extend(self.checkout_env.clone());
        env.extend(extra);
        self.checkout = Some(start("checkout", env));
    }

    fn checkout_url(&self) -> String {
        self.checkout.as_ref().expect("checkout runs").url()
    }

    /// A new signed-up shopper with the product in their cart.
    async fn shopper(&self) -> Mandi {
        let shopper = Mandi::builder()
            .endpoint(self.mesh.url())
            .service_endpoint("checkout", self.checkout_url())
            .connect_lazy()
            .unwrap();
        sign_up(
            &shopper,
            &format!("shopper-{}@example.com", Uuid::now_v7().simple()),
        )
        .await;
        shopper
            .cart()
            .add_item(AddItemRequest {
                cart_id: String::new(),
                product_id: self.product.id.clone(),
                quantity: self.quantity,
                request_id: Uuid::now_v7().to_string(),
            })
            .await
            .unwrap();
        shopper
    }

    /// `shopper` talking to the current checkout server.
    fn again(&self, shopper: &Mandi) -> Mandi {
        let token = shopper.token_handle().get().unwrap();
        Mandi::builder()
            .endpoint(self.mesh.url())
            .service_endpoint("checkout", self.checkout_url())
            .token(token)
            .connect_lazy()
            .unwrap()
    }

    async fn orders(&self) -> Vec<Order> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .admin
                .order()
                .list_orders(ListOrdersRequest {
                    page_size: 200,
                    page_token,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            all.extend(page.orders);
            if page.next_page_token.is_empty() {
                return all;
            }
            page_token = page.next_page_token;
        }
    }

    async fn payments(&self) -> Vec<Payment> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .admin
                .payment()
                .list_payments(ListPaymentsRequest {
                    page_size: 200,
                    page_token,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            all.extend(page.payments);
            if page.next_page_token.is_empty() {
                return all;
            }
            page_token = page.next_page_token;
        }
    }

    /// Checks the books and returns (PAID orders, CANCELLED orders).
    async fn books(&self) -> (usize, usize) {
        let orders = self.orders().await;
        let mut sold = 0;
        let (mut paid, mut cancelled) = (0, 0);
        for order in &orders {
            match OrderStatus::try_from(order.status).unwrap() {
                OrderStatus::Paid => {
                    paid += 1;
                    sold += order
                        .items
                        .iter()
                        .filter(|i| i.product_id == self.product.id)
                        .map(|i| i.quantity)
                        .sum::<i64>();
                }
                OrderStatus::Cancelled => cancelled += 1,
                other => panic!("order {} left {other:?}", order.id),
            }
        }
        let availability = self
            .admin
            .inventory()
            .get_availability(GetAvailabilityRequest {
                product_id: self.product.id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .availability
            .unwrap();
        assert_eq!(
            self.received,
            availability.available_quantity + availability.reserved_quantity + sold,
            "stock conserved: received = available + reserved + sold ({availability:?}, sold {sold})"
        );
        assert_eq!(availability.reserved_quantity, 0, "no hold is left behind");

        let status_of: HashMap<&str, i32> =
            orders.iter().map(|o| (o.id.as_str(), o.status)).collect();
        let mut captured_per_order: HashMap<String, usize> = HashMap::new();
        for payment in self.payments().await {
            let status = PaymentStatus::try_from(payment.status).unwrap();
            let order_status = status_of.get(payment.order_id.as_str()).copied();
            if matches!(
                status,
                PaymentStatus::Captured | PaymentStatus::PartiallyRefunded
            ) {
                assert_eq!(
                    order_status,
                    Some(OrderStatus::Paid as i32),
                    "a captured payment belongs to a PAID order: {payment:?}"
                );
                *captured_per_order
                    .entry(payment.order_id.clone())
                    .or_default() += 1;
            }
            if payment.method == PaymentMethod::Card as i32
                && order_status == Some(OrderStatus::Cancelled as i32)
            {
                assert!(
                    !matches!(
                        status,
                        PaymentStatus::Captured
                            | PaymentStatus::Authorized
                            | PaymentStatus::Pending
                    ),
                    "nothing is held or charged for a cancelled order: {payment:?}"
                );
            }
        }
        for order in orders
            .iter()
            .filter(|o| o.status == OrderStatus::Paid as i32)
        {
            assert_eq!(
                captured_per_order.get(&order.id).copied().unwrap_or(0),
                1,
                "a PAID card order has exactly one captured payment: {}",
                order.id
            );
        }

        let mut per_journal: HashMap<String, i64> = HashMap::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .admin
                .payment()
                .list_ledger_entries(ListLedgerEntriesRequest {
                    page_size: 200,
                    page_token,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            for entry in page.entries {
                let amount = entry.amount.unwrap().amount_minor;
                let signed = if entry.direction == EntryDirection::Debit as i32 {
                    amount
                } else {
                    -amount
                };
                *per_journal.entry(entry.journal_id).or_default() += signed;
            }
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        for (journal, balance) in &per_journal {
            assert_eq!(*balance, 0, "journal {journal} balances");
        }
        (paid, cancelled)
    }
}

/// A checkout of the shopper's cart to an inline address in Bengaluru, in the earliest
/// open delivery slot, paid with `card` (cash on delivery when `None`), waiting for the
/// outcome.
fn request(card: Option<&str>) -> StartCheckoutRequest {
    StartCheckoutRequest {
        destination: Some(start_checkout_request::Destination::InlineDestination(
            DeliveryDestination {
                address: Some(bengaluru()),
                recipient_name: "Asha Rao".into(),
                recipient_phone: "+919812345678".into(),
                delivery_instructions: String::new(),
            },
        )),
        delivery_slot_id: String::new(),
        payment_method: if card.is_some() {
            PaymentMethod::Card
        } else {
            PaymentMethod::CashOnDelivery
        } as i32,
        card: card.map(|token| CardDetails {
            token: token.into(),
            exp_month: 12,
            exp_year: 2035,
        }),
        request_id: Uuid::now_v7().to_string(),
        wait: true,
        ..Default::default()
    }
}

/// The address `request` delivers to: central Bengaluru, in the demo zones.
fn bengaluru() -> PostalAddress {
    PostalAddress {
        line1: "12 MG Road".into(),
        city: "Bengaluru".into(),
        postal_code: "560001".into(),
        country_code: "IN".into(),
        ..Default::default()
    }
}

/// Every delivery slot shipping lists for `bengaluru()` (cold-chain ones only when
/// `cold_chain`), soonest first, full and closed ones included.
async fn slots(mandi: &Mandi, cold_chain: bool) -> Vec<DeliverySlot> {
    mandi
        .shipping()
        .list_delivery_slots(ListDeliverySlotsRequest {
            destination: Some(bengaluru()),
            cold_chain_required: cold_chain,
            page_size: 200,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .slots
}

/// The slots of `slots` still open for booking.
async fn open_slots(mandi: &Mandi, cold_chain: bool) -> Vec<DeliverySlot> {
    let mut open = slots(mandi, cold_chain).await;
    open.retain(|s| s.available);
    open
}

/// Places held or confirmed in slot `id`.
async fn booked(mandi: &Mandi, id: &str) -> i32 {
    slots(mandi, false)
        .await
        .into_iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("slot {id} is listed"))
        .booked
}

/// Polls until checkout `id` ends.
async fn settle(shopper: &Mandi, id: &str) -> Checkout {
    for _ in 0..300 {
        match shopper
            .checkout()
            .get_checkout(GetCheckoutRequest {
                checkout_id: id.into(),
            })
            .await
        {
            Ok(reply) => {
                let checkout = reply.into_inner().checkout.unwrap();
                if matches!(
                    CheckoutState::try_from(checkout.state).unwrap(),
                    CheckoutState::Completed | CheckoutState::Failed
                ) {
                    return checkout;
                }
            }
            // A busy server may answer a poll late: poll again.
            Err(status) if matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded) => {}
            Err(status) => panic!("GetCheckout {id}: {status:?}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("checkout {id} did not end within a minute");
}

/// The states a checkout went through, each once (steps also carry notes, such as
/// retries, under the state they happened in).
fn states(checkout: &Checkout) -> Vec<CheckoutState> {
    let mut states: Vec<CheckoutState> = checkout
        .steps
        .iter()
        .map(|s| CheckoutState::try_from(s.state).unwrap())
        .collect();
    states.dedup();
    states
}

async fn cart_lines(shopper: &Mandi) -> usize {
    shopper
        .cart()
        .get_cart(GetCartRequest::default())
        .await
        .unwrap()
        .into_inner()
        .cart
        .unwrap()
        .items
        .len()
}

#[tokio::test]
async fn a_card_checkout_creates_a_paid_order_captures_once_and_clears_the_cart() {
    let mesh = Mesh::start(5, vec![], vec![]).await;
    let shopper = mesh.shopper().await;
    let start = request(Some(APPROVED));
    let checkout = shopper
        .checkout()
        .start_checkout(start.clone())
        .await
        .unwrap()
        .into_inner()
        .checkout
        .unwrap();
    assert_eq!(
        checkout.state,
        CheckoutState::Completed as i32,
        "{checkout:?}"
    );
    assert_eq!(checkout.order_status, OrderStatus::Paid as i32);
    assert_eq!(checkout.payment_status, PaymentStatus::Captured as i32);
    assert_eq!(checkout.card_last4, "4242");
    assert!(!checkout.order_id.is_empty() && !checkout.payment_id.is_empty());
    let totals = checkout.totals.clone().unwrap();
    assert_eq!(
        totals.total.unwrap().amount_minor,
        totals.subtotal.unwrap().amount_minor
            + totals.delivery_fee.unwrap().amount_minor
            + totals.tax.unwrap().amount_minor
    );
    assert_eq!(
        states(&checkout),
        [
            CheckoutState::Pending,
            CheckoutState::OrderCreated,
            CheckoutState::InventoryReserved,
            CheckoutState::SlotReserved,
            CheckoutState::PaymentConfirmed,
            CheckoutState::Completed
        ]
    );
    assert_eq!(cart_lines(&shopper).await, 0, "the cart is cleared");

    // A retry returns the same outcome: no second order, no second charge.
    let again = shopper
        .checkout()
        .start_checkout(start)
        .await
        .unwrap()
        .into_inner()
        .checkout
        .unwrap();
    assert_eq!(again.order_id, checkout.order_id);
    assert_eq!(again.payment_id, checkout.payment_id);

    let listed = shopper
        .checkout()
        .list_checkouts(ListCheckoutsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.checkouts.len(), 1);
    assert_eq!(mesh.books().await, (1, 0));
}

#[tokio::test]
async fn cash_on_delivery_is_paid_with_an_authorization_and_nothing_captured_yet() {
    let mesh = Mesh::start(5, vec![], vec![]).await;
    let shopper = mesh.shopper().await;
    let checkout = shopper
        .checkout()
        .start_checkout(request(None))
        .await
        .unwrap()
        .into_inner()
        .checkout
        .unwrap();
    assert_eq!(
        checkout.state,
        CheckoutState::Completed as i32,
        "{checkout:?}"
    );
    assert_eq!(checkout.payment_status, PaymentStatus::Authorized as i32);
    assert_eq!(checkout.order_status, OrderStatus::Paid as i32);
    let orders = mesh.orders().await;
    assert_eq!(orders.len(), 1);
    let payments = mesh.payments().await;
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].status, PaymentStatus::Authorized as i32);
    let availability = mesh
        .admin
        .inventory()
        .get_availability(GetAvailabilityRequest {
            product_id: mesh.product.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .availability
        .unwrap();
    assert_eq!(availability.available_quantity, 4 * mesh.quantity);
    assert_eq!(availability.reserved_quantity, 0);
}

#[tokio::test]
async fn out_of_stock_cancels_the_order_and_names_the_short_line() {
    let mesh = Mesh::start(1, vec![], vec![]).await;
    let first = mesh.shopper().await;
    let second = mesh.shopper().await;
    first
        .checkout()
        .start_checkout(request(Some(APPROVED)))
        .await
        .unwrap();
    let start = request(Some(APPROVED));
    let status = second
        .checkout()
        .start_checkout(start.clone())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(
        status.get_details_error_info().unwrap().reason,
        "OUT_OF_STOCK"
    );
    let violations = status
        .get_details_precondition_failure()
        .unwrap()
        .violations;
    assert_eq!(violations.len(), 1);
    assert_eq!(
        violations[0].subject,
        format!("products/{}", mesh.product.id)
    );
    assert_eq!(
        violations[0].description,
        format!("requested {}, available 0", mesh.quantity)
    );

    let failed = settle(&second, &start.request_id).await;
    let failure = failed.failure.clone().unwrap();
    assert_eq!(failure.reason, FailureReason::OutOfStock as i32);
    assert_eq!(failure.short_lines[0].product_id, mesh.product.id);
    assert_eq!(failed.order_status, OrderStatus::Cancelled as i32);
    assert!(states(&failed).contains(&CheckoutState::Compensating));
    assert_eq!(
        cart_lines(&second).await,
        1,
        "a failed checkout leaves the cart"
    );
    // The same request again gets the same answer.
    let again = second.checkout().start_checkout(start).await.unwrap_err();
    assert_eq!(
        again.get_details_error_info().unwrap().reason,
        "OUT_OF_STOCK"
    );
    assert_eq!(mesh.books().await, (1, 1));
}

#[tokio::test]
async fn a_declined_card_releases_the_stock_cancels_the_order_and_says_declined() {
    let mesh = Mesh::start(3, vec![], vec![]).await;
    let shopper = mesh.shopper().await;
    let start = request(Some(DECLINED[0]));
    let status = shopper
        .checkout()
        .start_checkout(start.clone())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let info = status.get_details_error_info().unwrap();
    assert_eq!(info.reason, "PAYMENT_DECLINED");
    assert_eq!(
        info.metadata
            .get("payment_failure_reason")
            .map(String::as_str),
        Some("FAILURE_REASON_CARD_DECLINED")
    );
    assert!(
        status.message().contains("declined"),
        "{}",
        status.message()
    );
    let failed = settle(&shopper, &start.request_id).await;
    assert_eq!(failed.payment_status, PaymentStatus::Declined as i32);
    assert_eq!(failed.order_status, OrderStatus::Cancelled as i32);
    // The slot was held before paying and is given back, before the stock.
    assert!(states(&failed).contains(&CheckoutState::SlotReserved));
    assert_eq!(booked(&shopper, &failed.delivery_slot_id).await, 0);
    let notes: Vec<&str> = failed.steps.iter().map(|s| s.note.as_str()).collect();
    let slot_released = notes.iter().position(|n| *n == "delivery slot released");
    let stock_released = notes.iter().position(|n| *n == "stock released");
    assert!(
        slot_released.is_some() && slot_released < stock_released,
        "{notes:?}"
    );
    assert_eq!(mesh.books().await, (0, 1));
}

#[tokio::test]
async fn a_payment_that_times_out_is_retried_within_the_budget_then_compensated() {
    // The gateway outlasts every checkout attempt (1s each, three of them).
    let mesh = Mesh::start(
        3,
        vec![("MANDI_PAYMENT__GATEWAY_TIMEOUT", "4s".to_owned())],
        vec![("MANDI_CHECKOUT__STEP_TIMEOUT", "1s".to_owned())],
    )
    .await;
    let shopper = mesh.shopper().await;
    let mut start = request(Some(GATEWAY_NEVER_ANSWERS));
    start.wait = false;
    shopper
        .checkout()
        .start_checkout(start.clone())
        .await
        .unwrap();
    let failed = settle(&shopper, &start.request_id).await;
    assert_eq!(failed.state, CheckoutState::Failed as i32, "{failed:?}");
    let failure = failed.failure.clone().unwrap();
    assert_eq!(
        failure.reason,
        FailureReason::PaymentFailed as i32,
        "{failure:?}"
    );
    let notes: Vec<&str> = failed.steps.iter().map(|s| s.note.as_str()).collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("retrying authorize (attempt 2)")),
        "{notes:?}"
    );
    assert_eq!(failed.order_status, OrderStatus::Cancelled as i32);
    assert_eq!(mesh.books().await, (0, 1));
}

#[tokio::test]
async fn bad_input_names_the_fields_and_an_empty_cart_is_refused() {
    let mesh = Mesh::start(1, vec![], vec![]).await;
    let shopper = mesh.shopper().await;
    let mut bad = request(None);
    bad.request_id = "not-a-uuid".into();
    bad.card = Some(CardDetails::default());
    bad.destination = None;
    let status = shopper.checkout().start_checkout(bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = status
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["request_id", "destination", "card"]);

    let empty = Mandi::builder()
        .endpoint(mesh.mesh.url())
        .service_endpoint("checkout", mesh.checkout_url())
        .connect_lazy()
        .unwrap();
    sign_up(&empty, "empty-cart@example.com").await;
    let status = empty
        .checkout()
        .start_checkout(request(None))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(
        status.get_details_error_info().unwrap().reason,
        "CART_EMPTY"
    );

    // Another shopper cannot see someone's checkout.
    let start = request(None);
    shopper
        .checkout()
        .start_checkout(start.clone())
        .await
        .unwrap();
    let status = empty
        .checkout()
        .get_checkout(GetCheckoutRequest {
            checkout_id: start.request_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    // The same id for another request is refused.
    let mut reused = request(Some(APPROVED));
    reused.request_id = start.request_id;
    let status = shopper.checkout().start_checkout(reused).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.get_details_error_info().unwrap().reason,
        "REQUEST_ID_REUSED"
    );
}

#[tokio::test]
async fn watch_streams_each_state_and_ends_at_the_terminal_one() {
    let mesh = Mesh::start(3, vec![], vec![]).await;
    let shopper = mesh.shopper().await;
    let mut start = request(Some(APPROVED));
    start.wait = false;
    shopper
        .checkout()
        .start_checkout(start.clone())
        .await
        .unwrap();
    let mut stream = shopper
        .checkout()
        .watch_checkout(WatchCheckoutRequest {
            checkout_id: start.request_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    // A watcher that never reads must not hold the others up.
    let _stalled = shopper
        .checkout()
        .watch_checkout(WatchCheckoutRequest {
            checkout_id: start.request_id.clone(),
        })
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        let state = CheckoutState::try_from(message.checkout.unwrap().state).unwrap();
        if seen.last() != Some(&state) {
            seen.push(state);
        }
    }
    assert_eq!(seen.last(), Some(&CheckoutState::Completed), "{seen:?}");
    let forward = [
        CheckoutState::Pending,
        CheckoutState::OrderCreated,
        CheckoutState::InventoryReserved,
        CheckoutState::SlotReserved,
        CheckoutState::PaymentConfirmed,
        CheckoutState::Completed,
    ];
    let ranks: Vec<usize> = seen
        .iter()
        .map(|s| forward.iter().position(|f| f == s).unwrap())
        .collect();
    assert!(
        ranks.windows(2).all(|w| w[0] < w[1]),
        "states only move forward: {seen:?}"
    );
    // Watching a finished checkout sends it once and ends.
    let mut again = shopper
        .checkout()
        .watch_checkout(WatchCheckoutRequest {
            checkout_id: start.request_id,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(again.message().await.unwrap().is_some());
    assert!(again.message().await.unwrap().is_none());
}

#[tokio::test]
async fn a_saved_address_is_read_with_the_shoppers_token_and_delivered_to() {
    let mesh = Mesh::start(2, vec![], vec![]).await;
    let shopper = mesh.shopper().await;
    let address = shopper
        .profile()
        .create_address(CreateAddressRequest {
            address: Some(SavedAddress {
                label: "Home".into(),
                postal_address: Some(PostalAddress {
                    line1: "7 Residency Road".into(),
                    city: "Bengaluru".into(),
                    postal_code: "560025".into(),
                    country_code: "IN".into(),
                    ..Default::default()
                }),
                recipient_name: "Ravi Kumar".into(),
                recipient_phone: "+919900112233".into(),
                ..Default::default()
            }),
            request_id: Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .address
        .unwrap();
    let mut start = request(None);
    start.destination = Some(start_checkout_request::Destination::AddressId(address.id));
    let checkout = shopper
        .checkout()
        .start_checkout(start)
        .await
        .unwrap()
        .into_inner()
        .checkout
        .unwrap();
    assert_eq!(
        checkout.state,
        CheckoutState::Completed as i32,
        "{checkout:?}"
    );
    let destination = checkout.destination.unwrap();
    assert_eq!(destination.address.unwrap().line1, "7 Residency Road");
    assert_eq!(destination.recipient_name, "Ravi Kumar");
    let order = &mesh.orders().await[0];
    assert_eq!(
        order.destination.as_ref().unwrap().recipient_phone,
        "+919900112233"
    );

    let mut unknown = request(None);
    unknown.destination = Some(start_checkout_request::Destination::AddressId(
        Uuid::now_v7().to_string(),
    ));
    let status = mesh
        .shopper()
        .await
        .checkout()
        .start_checkout(unknown)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
}

/// On an embedded server: the admin stocks a demo product and a new shopper `email` puts
/// the smallest quantity of it in their cart.
async fn embedded_shopper(server: &ServerProcess, email: &str) -> Mandi {
    let admin = Mandi::builder()
        .endpoint(server.url())
        .connect_lazy()
        .unwrap();
    sign_up(&admin, ADMIN_EMAIL).await;
    let product = mandi_testkit::mesh::demo_product(&admin, "watermelon", "watermelon").await;
    mandi_testkit::mesh::stock(&admin, &product.id, 10 * product.min_quantity.max(1)).await;
    let shopper = Mandi::builder()
        .endpoint(server.url())
        .connect_lazy()
        .unwrap();
    sign_up(&shopper, email).await;
    shopper
        .cart()
        .add_item(AddItemRequest {
            cart_id: String::new(),
            product_id: product.id.clone(),
            quantity: product.min_quantity.max(1),
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap();
    shopper
}

#[tokio::test]
async fn the_embedded_server_checks_out_out_of_the_box() {
    // No secrets configured: the server registers one for its own checkout.
    let server = ServerProcess::start(
        "all",
        &[
            ("MANDI_IDENTITY__ADMIN_EMAILS", ADMIN_EMAIL),
            ("MANDI_IDENTITY__ARGON2_MEMORY_KIB", "1024"),
        ],
    );
    let shopper = embedded_shopper(&server, "embedded-shopper@example.com").await;
    let checkout = shopper
        .checkout()
        .start_checkout(request(Some(APPROVED)))
        .await
        .unwrap()
        .into_inner()
        .checkout
        .unwrap();
    assert_eq!(
        checkout.state,
        CheckoutState::Completed as i32,
        "{checkout:?}"
    );
    assert_eq!(checkout.payment_status, PaymentStatus::Captured as i32);

    // Shipping turns the paid order into a shipment in the slot checkout held.
    let mut shipments = Vec::new();
    for _ in 0..100 {
        shipments = shopper
            .shipping()
            .list_shipments(ListShipmentsRequest {
                order_id: checkout.order_id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .shipments;
        if !shipments.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shipments.len(), 1, "one shipment for the paid order");
    let shipment = &shipments[0];
    assert_eq!(
        shipment.slot.as_ref().unwrap().id,
        checkout.delivery_slot_id
    );
    // One watermelon of the catalog's 3 kg.
    assert_eq!(shipment.weight_grams, 3_000);
    assert!(!shipment.cold_chain);
}

/// Kills checkout right after `step` is recorded, starts a new one on the same database,
/// retries the shopper's StartCheckout against it, and checks the saga ended whole.
async fn killed_after(step: &str) {
    let mut mesh = Mesh::start(3, vec![], vec![]).await;
    let crashing = mesh.checkout.take().unwrap();
    drop(crashing);
    mesh.start_checkout(vec![("MANDI_CHECKOUT__TEST_CRASH_AFTER", step.to_owned())]);
    let shopper = mesh.shopper().await;
    let mut start = request(Some(APPROVED));
    start.wait = false;
    shopper
        .checkout()
        .start_checkout(start.clone())
        .await
        .unwrap();
    let exit = mesh.checkout.take().unwrap().wait();
    assert_eq!(
        exit.code(),
        Some(86),
        "checkout stopped at the crash point after {step}"
    );

    mesh.start_checkout(vec![]);
    let shopper = mesh.again(&shopper);
    let mut retry = start.clone();
    retry.wait = true;
    let outcome = shopper.checkout().start_checkout(retry.clone()).await;
    let checkout = settle(&shopper, &start.request_id).await;
    assert_eq!(
        checkout.state,
        CheckoutState::Completed as i32,
        "after a crash after {step}: {checkout:?}"
    );
    assert_eq!(
        outcome.unwrap().into_inner().checkout.unwrap().order_id,
        checkout.order_id
    );
    assert_eq!(mesh.books().await, (1, 0), "after a crash after {step}");
    assert_eq!(
        mesh.orders().await.len(),
        1,
        "one order, whatever the crash"
    );
}

#[tokio::test]
async fn killed_after_creating_the_order_a_new_orchestrator_finishes_the_checkout() {
    killed_after("create_order").await;
}

#[tokio::test]
async fn killed_after_reserving_a_new_orchestrator_finishes_the_checkout() {
    killed_after("reserve").await;
}

#[tokio::test]
async fn killed_after_holding_the_slot_a_new_orchestrator_finishes_the_checkout() {
    killed_after("reserve_slot").await;
}

#[tokio::test]
async fn killed_after_authorizing_a_new_orchestrator_captures_once() {
    killed_after("authorize").await;
}

#[tokio::test]
async fn killed_after_capturing_a_new_orchestrator_confirms_the_order() {
    killed_after("capture").await;
}

#[tokio::test]
async fn killed_after_confirming_a_new_orchestrator_commits_the_stock() {
    killed_after("confirm_order").await;
}

#[tokio::test]
async fn killed_after_committing_a_new_orchestrator_completes() {
    killed_after("commit").await;
}

#[tokio::test]
async fn killed_after_clearing_the_cart_nothing_is_left_to_do() {
    killed_after("clear_cart").await;
}

#[tokio::test]
async fn killed_before_payment_without_a_retry_the_saga_is_compensated() {
    let mut mesh = Mesh::start(3, vec![], vec![]).await;
    drop(mesh.checkout.take());
    mesh.start_checkout(vec![(
        "MANDI_CHECKOUT__TEST_CRASH_AFTER",
        "reserve".to_owned(),
    )]);
    let shopper = mesh.shopper().await;
    let mut start = request(Some(APPROVED));
    start.wait = false;
    shopper
        .checkout()
        .start_checkout(start.clone())
        .await
        .unwrap();
    assert_eq!(mesh.checkout.take().unwrap().wait().code(), Some(86));
    // Nobody brings the card back: the new orchestrator cannot pay, so it undoes the rest.
    mesh.start_checkout(vec![]);
    let checkout = settle(&mesh.again(&shopper), &start.request_id).await;
    assert_eq!(checkout.state, CheckoutState::Failed as i32, "{checkout:?}");
    assert_eq!(
        checkout.failure.unwrap().reason,
        FailureReason::PaymentFailed as i32
    );
    assert_eq!(mesh.books().await, (0, 1));
}

#[tokio::test]
async fn two_hundred_concurrent_checkouts_never_oversell_and_settle_every_order() {
    const SHOPPERS: usize = 200;
    const LINES_IN_STOCK: i64 = 120;
    let mesh = Mesh::start_with(
        LINES_IN_STOCK,
        // Every shopper gets the same earliest slot: it takes them all, so what is tested
        // is the stock.
        vec![(
            "MANDI_SHIPPING__ZONES_FILE",
            zones_file(SHOPPERS as u32).display().to_string(),
        )],
        vec![],
        vec![
            ("MANDI_CHECKOUT__STEP_TIMEOUT", "10s".to_owned()),
            ("MANDI_CHECKOUT__LEASE", "30s".to_owned()),
        ],
    )
    .await;
    let shoppers: Vec<Mandi> = futures::stream::iter((0..SHOPPERS).map(|_| mesh.shopper()))
        .buffered(16)
        .collect()
        .await;
    let runs = shoppers.iter().enumerate().map(|(i, shopper)| {
        // Every fifth shopper's card is declined (20%), across the four decline cards.
        let card = if i % 5 == 0 {
            DECLINED[(i / 5) % DECLINED.len()]
        } else {
            APPROVED
        };
        let mut start = request(Some(card));
        start.wait = false;
        async move {
            // Two hundred at once on a small machine: StartCheckout prices the cart and
            // the delivery before answering, so give it longer than the SDK's default.
            let mut call = tonic::Request::new(start.clone());
            call.set_timeout(Duration::from_secs(60));
            shopper.checkout().start_checkout(call).await.unwrap();
            (card == APPROVED, settle(shopper, &start.request_id).await)
        }
    });
    let outcomes = futures::future::join_all(runs).await;
    let mut completed = 0;
    for (approved, checkout) in &outcomes {
        match CheckoutState::try_from(checkout.state).unwrap() {
            CheckoutState::Completed => {
                assert!(approved, "a declined card never completes");
                assert_eq!(checkout.payment_status, PaymentStatus::Captured as i32);
                completed += 1;
            }
            CheckoutState::Failed => {
                let reason = checkout.failure.as_ref().unwrap().reason;
                // A declined shopper may also find the stock gone before paying.
                let expected: &[i32] = if *approved {
                    &[FailureReason::OutOfStock as i32]
                } else {
                    &[
                        FailureReason::PaymentDeclined as i32,
                        FailureReason::OutOfStock as i32,
                    ]
                };
                assert!(expected.contains(&reason), "{checkout:?}");
                assert_ne!(checkout.payment_status, PaymentStatus::Captured as i32);
            }
            other => panic!("checkout left {other:?}"),
        }
    }
    let decliners = SHOPPERS / 5;
    // Zero oversell; and since an approved shopper is only turned away while every line
    // is sold or held, and at most the decliners hold lines they give back, at least
    // stock - decliners lines sell.
    assert!(completed <= LINES_IN_STOCK as usize, "{completed} sold");
    assert!(
        completed >= LINES_IN_STOCK as usize - decliners,
        "{completed} sold"
    );
    let (paid, cancelled) = mesh.books().await;
    assert_eq!(paid, completed);
    assert_eq!(paid + cancelled, SHOPPERS);
}

#[tokio::test]
async fn the_orders_delivery_fee_is_the_shipping_quote_and_its_slot_the_one_booked() {
    let mesh = Mesh::start(5, vec![], vec![]).await;
    let shopper = mesh.shopper().await;
    let open = open_slots(&shopper, false).await;
    // A slot with a surcharge when one is open, so the quote is more than the zone's fee.
    let slot = open
        .iter()
        .find(|s| s.surcharge.as_ref().is_some_and(|m| m.amount_minor > 0))
        .unwrap_or(&open[0])
        .clone();
    let subtotal = shopper
        .cart()
        .get_cart(GetCartRequest::default())
        .await
        .unwrap()
        .into_inner()
        .cart
        .unwrap()
        .totals
        .unwrap()
        .subtotal
        .unwrap();
    // Watermelons are sold by the piece, each of the catalog's unit weight.
    let grams = mesh.quantity * mesh.product.unit_weight_grams;
    let quote = shopper
        .shipping()
        .get_shipping_quote(GetShippingQuoteRequest {
            destination: Some(bengaluru()),
            weight_grams: grams,
            cold_chain: false,
            order_subtotal: Some(subtotal.clone()),
            slot_id: slot.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let fee = quote.fee.unwrap().amount_minor;
    // Bengaluru central: 3000, plus 500 per started kg over 5 kg, free from 60000, plus
    // the slot's surcharge.
    let started_kg = ((grams - 5_000).max(0) + 999) / 1_000;
    let zone_fee = if subtotal.amount_minor >= 60_000 {
        0
    } else {
        3_000 + 500 * started_kg
    };
    assert_eq!(
        fee,
        zone_fee + slot.surcharge.as_ref().unwrap().amount_minor
    );

    let mut start = request(Some(APPROVED));
    start.delivery_slot_id = slot.id.clone();
    let checkout = shopper
        .checkout()
        .start_checkout(start)
        .await
        .unwrap()
        .into_inner()
        .checkout
        .unwrap();
    assert_eq!(
        checkout.state,
        CheckoutState::Completed as i32,
        "{checkout:?}"
    );
    assert_eq!(checkout.delivery_slot_id, slot.id);
    let totals = checkout.totals.unwrap();
    assert_eq!(totals.delivery_fee.unwrap().amount_minor, fee);
    let order = mesh
        .orders()
        .await
        .into_iter()
        .find(|o| o.id == checkout.order_id)
        .unwrap();
    assert_eq!(
        order
            .totals
            .as_ref()
            .unwrap()
            .delivery_fee
            .as_ref()
            .unwrap()
            .amount_minor,
        fee
    );
    let booked_slot = order.delivery_slot.unwrap();
    assert_eq!(booked_slot.slot_id, slot.id);
    assert_eq!(booked_slot.start_time, slot.start_time);
    assert_eq!(booked_slot.end_time, slot.end_time);
    assert_eq!(
        booked(&shopper, &slot.id).await,
        slot.booked + 1,
        "the order holds a place in its slot"
    );

    // Choosing no slot books the earliest open one.
    let other = mesh.shopper().await;
    let earliest = open_slots(&other, false).await[0].clone();
    let checkout = other
        .checkout()
        .start_checkout(request(Some(APPROVED)))
        .await
        .unwrap()
        .into_inner()
        .checkout
        .unwrap();
    assert_eq!(checkout.delivery_slot_id, earliest.id);
    let order = mesh
        .orders()
        .await
        .into_iter()
        .find(|o| o.id == checkout.order_id)
        .unwrap();
    assert_eq!(order.delivery_slot.unwrap().slot_id, earliest.id);
    assert_eq!(mesh.books().await, (2, 0));
}

#[tokio::test]
async fn a_slot_filled_before_it_is_held_fails_the_checkout_with_slot_unavailable_and_compensates()
{
    // Every slot takes one order.
    let mut mesh = Mesh::start_with(
        3,
        vec![(
            "MANDI_SHIPPING__ZONES_FILE",
            zones_file(1).display().to_string(),
        )],
        vec![],
        vec![],
    )
    .await;
    // Checkout stops once the stock is held, before the slot is.
    drop(mesh.checkout.take());
    mesh.start_checkout(vec![(
        "MANDI_CHECKOUT__TEST_CRASH_AFTER",
        "reserve".to_owned(),
    )]);
    let shopper = mesh.shopper().await;
    let slot = open_slots(&shopper, false).await[0].clone();
    let mut start = request(None);
    start.delivery_slot_id = slot.id.clone();
    start.wait = false;
    shopper
        .checkout()
        .start_checkout(start.clone())
        .await
        .unwrap();
    assert_eq!(mesh.checkout.take().unwrap().wait().code(), Some(86));

    // Meanwhile another order takes the slot's only place.
    let service = mandi_testkit::mesh::service(&mesh.mesh, "checkout", SECRET).await;
    service
        .shipping()
        .reserve_slot(ReserveSlotRequest {
            slot_id: slot.id.clone(),
            order_id: Uuid::now_v7().to_string(),
            weight_grams: 1_000,
            ..Default::default()
        })
        .await
        .unwrap();

    mesh.start_checkout(vec![]);
    let shopper = mesh.again(&shopper);
    let failed = settle(&shopper, &start.request_id).await;
    assert_eq!(failed.state, CheckoutState::Failed as i32, "{failed:?}");
    assert_eq!(
        failed.failure.clone().unwrap().reason,
        FailureReason::SlotUnavailable as i32,
        "{failed:?}"
    );
    assert!(states(&failed).contains(&CheckoutState::Compensating));
    assert!(!states(&failed).contains(&CheckoutState::SlotReserved));
    assert_eq!(failed.order_status, OrderStatus::Cancelled as i32);
    assert!(failed.payment_id.is_empty(), "nothing was paid");
    assert_eq!(
        booked(&shopper, &slot.id).await,
        1,
        "only the other order's place is taken"
    );
    assert_eq!(cart_lines(&shopper).await, 1, "the cart is left as it was");
    // Stock released, the order cancelled.
    assert_eq!(mesh.books().await, (0, 1));

    // A full slot chosen at the start is refused before anything is created, and so is
    // an unknown one.
    let status = shopper
        .checkout()
        .start_checkout(StartCheckoutRequest {
            request_id: Uuid::now_v7().to_string(),
            ..start.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(
        status.get_details_error_info().unwrap().reason,
        "SLOT_UNAVAILABLE"
    );
    let status = shopper
        .checkout()
        .start_checkout(StartCheckoutRequest {
            request_id: Uuid::now_v7().to_string(),
            delivery_slot_id: "blr-central-20200101T0130Z-nope".into(),
            ..start
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(mesh.orders().await.len(), 1);
}

/// Receives `quantity` of `product_id` as a batch that must stay cold, into a new
/// warehouse with cold storage.
async fn cold_stock(admin: &Mandi, product_id: &str, quantity: i64) {
    let code = Uuid::now_v7().simple().to_string();
    let warehouse = admin
        .inventory()
        .create_warehouse(CreateWarehouseRequest {
            warehouse: Some(Warehouse {
                code: format!("C-{}", code[24..].to_uppercase()),
                display_name: "Bengaluru Cold Store".into(),
                location: Some(PostalAddress {
                    line1: "3 Cold Chain Lane".into(),
                    city: "Bengaluru".into(),
                    country_code: "IN".into(),
                    ..Default::default()
                }),
                cold_storage: true,
                ..Default::default()
            }),
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .warehouse
        .unwrap();
    admin
        .inventory()
        .receive_stock(ReceiveStockRequest {
            product_id: product_id.to_owned(),
            warehouse_id: warehouse.id,
            quantity,
            expire_time: Some(prost_types::Timestamp::from(
                std::time::SystemTime::now() + Duration::from_secs(5 * 86_400),
            )),
            supplier_ref: "COLD-1".into(),
            cold_chain: true,
            request_id: Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn stock_from_a_cold_batch_cannot_go_in_a_slot_without_the_cold_chain() {
    // One line in an ordinary batch and one in a cold one; the shopper buys both, so the
    // order takes from the cold batch whichever inventory allocates first.
    let mut mesh = Mesh::start(1, vec![], vec![]).await;
    cold_stock(&mesh.admin, &mesh.product.id, mesh.quantity).await;
    mesh.received += mesh.quantity;
    let shopper = mesh.shopper().await;
    shopper
        .cart()
        .add_item(AddItemRequest {
            cart_id: String::new(),
            product_id: mesh.product.id.clone(),
            quantity: mesh.quantity,
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap();
    // Watermelons keep at room temperature: a slot without the cold chain is fine to start.
    let slot = open_slots(&shopper, false)
        .await
        .into_iter()
        .find(|s| !s.cold_chain)
        .unwrap();
    let mut start = request(None);
    start.delivery_slot_id = slot.id.clone();
    let status = shopper
        .checkout()
        .start_checkout(start.clone())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(
        status.get_details_error_info().unwrap().reason,
        "SLOT_UNAVAILABLE"
    );
    let failed = settle(&shopper, &start.request_id).await;
    assert_eq!(
        failed.failure.clone().unwrap().reason,
        FailureReason::SlotUnavailable as i32
    );
    assert_eq!(failed.order_status, OrderStatus::Cancelled as i32);
    assert_eq!(booked(&shopper, &slot.id).await, 0);
    assert_eq!(mesh.books().await, (0, 1));
}

#[tokio::test]
async fn an_address_outside_every_delivery_zone_is_refused_at_the_start() {
    let mesh = Mesh::start(1, vec![], vec![]).await;
    let shopper = mesh.shopper().await;
    let mut start = request(Some(APPROVED));
    start.destination = Some(start_checkout_request::Destination::InlineDestination(
        DeliveryDestination {
            address: Some(PostalAddress {
                line1: "1 Beach Road".into(),
                city: "Port Blair".into(),
                postal_code: "744101".into(),
                country_code: "IN".into(),
                ..Default::default()
            }),
            recipient_name: "Asha Rao".into(),
            recipient_phone: "+919812345678".into(),
            delivery_instructions: String::new(),
        },
    ));
    let status = shopper
        .checkout()
        .start_checkout(start.clone())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(
        status.get_details_error_info().unwrap().reason,
        "UNSERVICEABLE_ADDRESS"
    );
    assert!(status.message().contains("744101"), "{}", status.message());
    // Nothing was started: no checkout, no order, the cart as it was.
    let status = shopper
        .checkout()
        .get_checkout(GetCheckoutRequest {
            checkout_id: start.request_id,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(mesh.orders().await.is_empty());
    assert_eq!(cart_lines(&shopper).await, 1);
}

/// The shopper's sent notifications of `template`, once there is one.
async fn notified(shopper: &Mandi, template: &str) -> Vec<Delivery> {
    for _ in 0..200 {
        let found: Vec<Delivery> = shopper
            .notification()
            .list_deliveries(ListDeliveriesRequest {
                template: template.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .deliveries;
        if !found.is_empty() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the shopper got no {template} notification");
}

#[tokio::test]
async fn a_checkout_notifies_its_shopper_of_the_order_and_the_payment_in_the_checkouts_trace() {
    // Traces are recorded (the collector address answers nothing; export fails quietly).
    let server = start(
        "all",
        vec![("MANDI_OTLP__ENDPOINT", "http://127.0.0.1:9".to_owned())],
    );
    let shopper = embedded_shopper(&server, "traced-shopper@example.com").await;

    // The shopper's own trace, as a browser or the CLI would start it.
    let trace_id = Uuid::now_v7().simple().to_string();
    let mut start = tonic::Request::new(request(Some(APPROVED)));
    start.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    let checkout = shopper
        .checkout()
        .start_checkout(start)
        .await
        .unwrap()
        .into_inner()
        .checkout
        .unwrap();
    assert_eq!(
        checkout.state,
        CheckoutState::Completed as i32,
        "{checkout:?}"
    );

    for template in ["order_placed", "payment_confirmed"] {
        let deliveries = notified(&shopper, template).await;
        assert!(
            deliveries.iter().all(|d| d.trace_id == trace_id),
            "{template}: {:?} is not the checkout's trace {trace_id}",
            deliveries.iter().map(|d| &d.trace_id).collect::<Vec<_>>()
        );
    }
}
