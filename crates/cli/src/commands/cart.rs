//! `cart add`, `cart show`, `cart remove`. Logged out, the cart is a guest cart whose id
//! is kept in the config file; `mandi login` merges it into the account's cart.

use anyhow::Result;
use mandi_sdk::proto::mandi::cart::v1::{
    AddItemRequest, Cart, CartItem, GetCartRequest, RemoveItemRequest,
};
use tonic::Code;

use crate::cli::CartCommand;
use crate::commands::catalog::resolve;
use crate::exit::CliError;
use crate::money::{format_money, format_optional, format_quantity, format_unit_price};
use crate::money::{parse_quantity, quantity_for};
use crate::output::Table;
use crate::session::{Context, request_id};

pub async fn run(ctx: &mut Context, command: CartCommand) -> Result<()> {
    let cart = match command {
        CartCommand::Add { product, quantity } => add(ctx, &product, &quantity).await?,
        CartCommand::Show => show(ctx).await?,
        CartCommand::Remove { product } => remove(ctx, &product).await?,
    };
    ctx.print(&cart, "mandi.cart.v1.Cart", |cart| {
        print_cart(cart);
    })?;
    Ok(())
}

/// The cart id to send: empty for the signed-in user's cart, else the guest cart's.
fn cart_id(ctx: &Context) -> String {
    if ctx.is_logged_in() {
        String::new()
    } else {
        ctx.config.guest_cart_id.clone().unwrap_or_default()
    }
}

async fn add(ctx: &mut Context, product: &str, quantity: &str) -> Result<Cart> {
    // Check what can be checked here before asking the server anything.
    let quantity = parse_quantity(quantity).map_err(|e| CliError::invalid("quantity", e))?;
    let product = resolve(ctx, product).await?;
    let quantity = quantity_for(quantity, product.unit_of_sale())
        .map_err(|e| CliError::invalid("quantity", e))?;
    let mut request = AddItemRequest {
        cart_id: cart_id(ctx),
        product_id: product.id.clone(),
        quantity,
        request_id: request_id(),
    };
    let mut added = ctx.mandi.cart().add_item(request.clone()).await;
    if matches!(&added, Err(s) if s.code() == Code::NotFound && !request.cart_id.is_empty()) {
        // The guest cart expired: start a new one.
        let still_there = ctx
            .mandi
            .cart()
            .get_cart(GetCartRequest {
                cart_id: request.cart_id.clone(),
            })
            .await;
        if matches!(&still_there, Err(s) if s.code() == Code::NotFound) {
            request.cart_id.clear();
            request.request_id = request_id();
            added = ctx.mandi.cart().add_item(request).await;
        }
    }
    let cart = added
        .map_err(ctx.status(&format!("add {} to the cart", product.display_name)))?
        .into_inner()
        .cart
        .unwrap_or_default();
    if !ctx.is_logged_in() && ctx.config.guest_cart_id.as_deref() != Some(cart.id.as_str()) {
        ctx.config.guest_cart_id = Some(cart.id.clone());
        ctx.save()?;
    }
    Ok(cart)
}

async fn show(ctx: &mut Context) -> Result<Cart> {
    let cart_id = cart_id(ctx);
    if !ctx.is_logged_in() && cart_id.is_empty() {
        return Ok(Cart::default());
    }
    let got = ctx
        .mandi
        .cart()
        .get_cart(GetCartRequest {
            cart_id: cart_id.clone(),
        })
        .await;
    match got {
        Ok(response) => Ok(response.into_inner().cart.unwrap_or_default()),
        Err(status) if status.code() == Code::NotFound && !cart_id.is_empty() => {
            // The guest cart expired.
            ctx.config.guest_cart_id = None;
            ctx.save()?;
            Ok(Cart::default())
        }
        Err(status) => Err(ctx.status("show the cart")(status)),
    }
}

async fn remove(ctx: &mut Context, product: &str) -> Result<Cart> {
    let product_id = if uuid::Uuid::parse_str(product.trim()).is_ok() {
        product.trim().to_owned()
    } else {
        resolve(ctx, product).await?.id
    };
    let cart_id = cart_id(ctx);
    if !ctx.is_logged_in() && cart_id.is_empty() {
        return Ok(Cart::default());
    }
    let cart = ctx
        .mandi
        .cart()
        .remove_item(RemoveItemRequest {
            cart_id,
            product_id,
            request_id: request_id(),
        })
        .await
        .map_err(ctx.status("remove from the cart"))?
        .into_inner()
        .cart
        .unwrap_or_default();
    Ok(cart)
}

/// The cart's lines, what needs attention, and the totals.
pub fn print_cart(cart: &Cart) {
    if cart.items.is_empty() {
        println!("your cart is empty: add products with `mandi cart add <product> <quantity>`");
        return;
    }
    let mut table = Table::new(["PRODUCT", "QUANTITY", "UNIT PRICE", "TOTAL", "NOTE"]);
    for item in &cart.items {
        table.row(vec![
            item.product_display_name.clone(),
            format_quantity(item.quantity, item.unit_of_sale()),
            format_unit_price(item.unit_price.as_ref(), item.unit_of_sale()),
            format_optional(item.line_total.as_ref()),
            note(item),
        ]);
    }
    let totals = cart.totals.clone().unwrap_or_default();
    table.row(vec![String::new(); 5]);
    for (label, money) in [
        ("subtotal", &totals.subtotal),
        ("tax", &totals.tax),
        ("total", &totals.total),
    ] {
        table.row(vec![
            String::new(),
            String::new(),
            label.to_owned(),
            format_optional(money.as_ref()),
            String::new(),
        ]);
    }
    table.print();
    for note in &cart.verification_notes {
        println!("note: {note}");
    }
    if cart.user_id.is_empty() && !cart.id.is_empty() {
        println!("guest cart: `mandi login` moves it into your account");
    }
}

/// What the shopper should look at on a line, if anything.
fn note(item: &CartItem) -> String {
    let Some(check) = &item.check else {
        return String::new();
    };
    let mut notes = Vec::new();
    if check.unavailable {
        notes.push("no longer sold".to_owned());
    }
    if check.price_changed
        && let Some(now) = &check.current_unit_price
    {
        notes.push(format!("price now {}", format_money(now)));
    }
    if check.stock_short {
        notes.push(format!(
            "only {} in stock",
            format_quantity(check.available_quantity, item.unit_of_sale())
        ));
    }
    notes.join("; ")
}
