//! `orders list/get/cancel`, and `orders advance` for admins.

use anyhow::Result;
use mandi_sdk::proto::mandi::order::v1::{
    CancelOrderRequest, GetOrderRequest, ListOrdersRequest, Order, OrderStatus,
    UpdateOrderStatusRequest,
};

use crate::cli::{OrderStatusArg, OrdersCommand};
use crate::exit::CliError;
use crate::money::{format_optional, format_quantity, format_unit_price};
use crate::output::{Table, enum_label, format_time, print_fields, print_json, to_json};
use crate::session::{Context, request_id};

const ORDER: &str = "mandi.order.v1.Order";

pub async fn run(ctx: &mut Context, command: OrdersCommand) -> Result<()> {
    ctx.require_login()?;
    match command {
        OrdersCommand::List { status, limit } => list(ctx, &status, limit).await,
        OrdersCommand::Get { id } => {
            let order = ctx
                .mandi
                .order()
                .get_order(GetOrderRequest {
                    order_id: id.clone(),
                })
                .await
                .map_err(ctx.status("read the order"))?
                .into_inner()
                .order
                .unwrap_or_default();
            show(ctx, &order)
        }
        OrdersCommand::Cancel { id, reason } => {
            let order = ctx
                .mandi
                .order()
                .cancel_order(CancelOrderRequest {
                    order_id: id.clone(),
                    reason,
                    request_id: request_id(),
                })
                .await
                .map_err(ctx.status(&format!("cancel order {id}")))?
                .into_inner()
                .order
                .unwrap_or_default();
            show(ctx, &order)
        }
        OrdersCommand::Advance { id, status, reason } => {
            let order = ctx
                .mandi
                .order()
                .update_order_status(UpdateOrderStatusRequest {
                    order_id: id.clone(),
                    status: order_status(status) as i32,
                    reason,
                    request_id: request_id(),
                    ..Default::default()
                })
                .await
                .map_err(ctx.status(&format!("move order {id}")))?
                .into_inner()
                .order
                .unwrap_or_default();
            show(ctx, &order)
        }
    }
}

async fn list(ctx: &Context, statuses: &[OrderStatusArg], limit: i32) -> Result<()> {
    if limit <= 0 {
        return Err(CliError::invalid("limit", "must be greater than 0").into());
    }
    let response = ctx
        .mandi
        .order()
        .list_orders(ListOrdersRequest {
            statuses: statuses.iter().map(|s| order_status(*s) as i32).collect(),
            page_size: limit,
            ..Default::default()
        })
        .await
        .map_err(ctx.status("list orders"))?
        .into_inner();
    if ctx.json() {
        print_json(&to_json(&response, "mandi.order.v1.ListOrdersResponse")?);
        return Ok(());
    }
    if response.orders.is_empty() {
        println!("no orders yet: check out your cart with `mandi checkout`");
        return Ok(());
    }
    let mut table = Table::new(["ORDER", "STATUS", "ITEMS", "TOTAL", "CREATED"]);
    for order in &response.orders {
        table.row(vec![
            order.id.clone(),
            status_label(order),
            order.items.len().to_string(),
            format_optional(order.totals.as_ref().and_then(|t| t.total.as_ref())),
            format_time(order.create_time.as_ref()),
        ]);
    }
    table.print();
    Ok(())
}

/// One order: its fields, items and status history.
fn show(ctx: &Context, order: &Order) -> Result<()> {
    if ctx.json() {
        print_json(&to_json(order, ORDER)?);
        return Ok(());
    }
    let totals = order.totals.clone().unwrap_or_default();
    let mut fields = vec![
        ("order", order.id.clone()),
        ("status", status_label(order)),
        ("created", format_time(order.create_time.as_ref())),
        ("subtotal", format_optional(totals.subtotal.as_ref())),
        ("delivery", format_optional(totals.delivery_fee.as_ref())),
        ("tax", format_optional(totals.tax.as_ref())),
        ("total", format_optional(totals.total.as_ref())),
        (
            "payment",
            enum_label(order.payment_method().as_str_name(), "PAYMENT_METHOD_"),
        ),
    ];
    if !order.cancel_reason.is_empty() {
        fields.push(("cancelled because", order.cancel_reason.clone()));
    }
    print_fields(&fields);
    if !order.items.is_empty() {
        println!();
        let mut items = Table::new(["PRODUCT", "QUANTITY", "UNIT PRICE", "TOTAL"]);
        for item in &order.items {
            items.row(vec![
                item.product_display_name.clone(),
                format_quantity(item.quantity, item.unit_of_sale()),
                format_unit_price(item.unit_price.as_ref(), item.unit_of_sale()),
                format_optional(item.line_total.as_ref()),
            ]);
        }
        items.print();
    }
    if !order.status_history.is_empty() {
        println!();
        let mut history = Table::new(["WHEN", "STATUS", "BY", "REASON"]);
        for change in &order.status_history {
            history.row(vec![
                format_time(change.change_time.as_ref()),
                enum_label(change.to_status().as_str_name(), "ORDER_STATUS_"),
                change.actor.clone(),
                change.reason.clone(),
            ]);
        }
        history.print();
    }
    Ok(())
}

fn status_label(order: &Order) -> String {
    enum_label(order.status().as_str_name(), "ORDER_STATUS_")
}

fn order_status(status: OrderStatusArg) -> OrderStatus {
    match status {
        OrderStatusArg::Created => OrderStatus::Created,
        OrderStatusArg::PaymentPending => OrderStatus::PaymentPending,
        OrderStatusArg::Paid => OrderStatus::Paid,
        OrderStatusArg::Packed => OrderStatus::Packed,
        OrderStatusArg::Shipped => OrderStatus::Shipped,
        OrderStatusArg::Delivered => OrderStatus::Delivered,
        OrderStatusArg::Cancelled => OrderStatus::Cancelled,
        OrderStatusArg::Refunded => OrderStatus::Refunded,
    }
}
