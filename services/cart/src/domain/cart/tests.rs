#![allow(clippy::unwrap_used)]
use super::*;
use crate::domain::product::tests::mango;

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
}

fn cart() -> Cart {
    Cart::new(Some("user-1".into()), at(0), Duration::days(30))
}

#[test]
fn cart_ids_are_unguessable_and_parse_back() {
    let a = CartId::random();
    assert_ne!(a, CartId::random());
    assert_eq!(a.as_str().len(), 22);
    assert_eq!(CartId::parse("cart_id", a.as_str()).unwrap(), a);
    for bad in ["", "abc", "not a cart id at all!!", &"A".repeat(40)] {
        let err = CartId::parse("cart_id", bad).unwrap_err();
        assert!(matches!(err, CartError::Invalid(v) if v.field == "cart_id"));
    }
}

#[test]
fn adding_a_product_twice_adds_its_quantity_and_refreshes_the_price() {
    let mut mango = mango();
    let mut cart = cart();
    cart.add(&mango, 500, LineCaps::default(), at(1)).unwrap();
    mango.price_minor = 20_000;
    cart.add(&mango, 250, LineCaps::default(), at(2)).unwrap();
    assert_eq!(cart.lines.len(), 1);
    let line = &cart.lines[0];
    assert_eq!(line.quantity, 750);
    assert_eq!(line.unit_price_minor, 20_000);
    assert_eq!(line.added_at, at(1));
    assert_eq!(line.price_snapshot_at, at(2));
}

#[test]
fn adding_past_the_line_limit_names_quantity_and_changes_nothing() {
    let mango = mango();
    let mut cart = cart();
    cart.add(&mango, 5_000, LineCaps::default(), at(1)).unwrap();
    let err = cart
        .add(&mango, 250, LineCaps::default(), at(2))
        .unwrap_err();
    assert!(matches!(err, CartError::Invalid(v) if v.field == "quantity"));
    assert_eq!(cart.lines[0].quantity, 5_000);
}

#[test]
fn products_not_on_sale_cannot_be_added() {
    let mut mango = mango();
    mango.on_sale = false;
    let err = cart()
        .add(&mango, 250, LineCaps::default(), at(1))
        .unwrap_err();
    assert!(matches!(
        err,
        CartError::Precondition {
            reason: "PRODUCT_NOT_ON_SALE",
            ..
        }
    ));
}

#[test]
fn a_full_cart_refuses_a_new_product_but_not_more_of_one_it_holds() {
    let mut cart = cart();
    let first = mango();
    cart.add(&first, 250, LineCaps::default(), at(1)).unwrap();
    for _ in 1..MAX_LINES {
        cart.add(&mango(), 250, LineCaps::default(), at(1)).unwrap();
    }
    let err = cart
        .add(&mango(), 250, LineCaps::default(), at(2))
        .unwrap_err();
    assert!(matches!(
        err,
        CartError::Precondition {
            reason: "CART_FULL",
            ..
        }
    ));
    cart.add(&first, 250, LineCaps::default(), at(2)).unwrap();
}

#[test]
fn setting_zero_removes_the_line() {
    let mango = mango();
    let mut cart = cart();
    cart.add(&mango, 500, LineCaps::default(), at(1)).unwrap();
    cart.set(&mango, 0, LineCaps::default(), at(2)).unwrap();
    assert!(cart.lines.is_empty());
}

#[test]
fn merging_adds_quantities_capped_by_stock_but_never_below_either_cart() {
    let (shared, guest_only, gone) = (mango(), mango(), mango());
    let mut user = cart();
    user.add(&shared, 1_000, LineCaps::default(), at(1))
        .unwrap();
    let mut guest = Cart::new(None, at(0), Duration::days(30));
    guest
        .add(&shared, 1_500, LineCaps::default(), at(2))
        .unwrap();
    guest
        .add(&guest_only, 750, LineCaps::default(), at(2))
        .unwrap();
    guest.add(&gone, 250, LineCaps::default(), at(2)).unwrap();

    let products = HashMap::from([
        (shared.id, shared.clone()),
        (guest_only.id, guest_only.clone()),
    ]);
    // 2 kg of the shared mango in stock (so 2.5 kg is capped), none of the guest-only one.
    let stock = HashMap::from([(shared.id, 2_100), (guest_only.id, 0)]);
    let report = user.merge(&guest, &products, Some(&stock), LineCaps::default(), at(3));

    assert_eq!(user.line(shared.id).unwrap().quantity, 2_000);
    // Out of stock: the guest keeps what they chose; the cart flags it short.
    assert_eq!(user.line(guest_only.id).unwrap().quantity, 750);
    assert!(user.line(gone.id).is_none());
    assert_eq!(report.dropped, vec![gone.id]);
    assert_eq!(report.capped, vec![shared.id]);
    assert_eq!(user.line(shared.id).unwrap().added_at, at(1));
}

#[test]
fn merging_without_stock_figures_caps_only_at_the_product_maximum() {
    let mango = mango();
    let mut user = cart();
    user.add(&mango, 4_000, LineCaps::default(), at(1)).unwrap();
    let mut guest = Cart::new(None, at(0), Duration::days(30));
    guest
        .add(&mango, 2_000, LineCaps::default(), at(2))
        .unwrap();
    let products = HashMap::from([(mango.id, mango.clone())]);
    user.merge(&guest, &products, None, LineCaps::default(), at(3));
    assert_eq!(user.line(mango.id).unwrap().quantity, 5_000);
}
