//! `notifications list`: the messages mandi sent (or is still sending) the user.

use anyhow::Result;
use mandi_sdk::proto::mandi::notification::v1::{Delivery, ListDeliveriesRequest};

use crate::cli::NotificationsCommand;
use crate::exit::CliError;
use crate::output::{Table, enum_label, format_time, print_json, to_json};
use crate::session::Context;

pub async fn run(ctx: &mut Context, command: NotificationsCommand) -> Result<()> {
    ctx.require_login()?;
    let NotificationsCommand::List {
        template,
        user,
        limit,
    } = command;
    if limit <= 0 {
        return Err(CliError::invalid("limit", "must be greater than 0").into());
    }
    let response = ctx
        .mandi
        .notification()
        .list_deliveries(ListDeliveriesRequest {
            user_id: user,
            template,
            page_size: limit,
            ..Default::default()
        })
        .await
        .map_err(ctx.status("list notifications"))?
        .into_inner();
    if ctx.json() {
        print_json(&to_json(
            &response,
            "mandi.notification.v1.ListDeliveriesResponse",
        )?);
        return Ok(());
    }
    if response.deliveries.is_empty() {
        println!("no notifications yet");
        return Ok(());
    }
    let mut table = Table::new(["WHEN", "CHANNEL", "STATUS", "TEMPLATE", "SUBJECT"]);
    for delivery in &response.deliveries {
        table.row(row(delivery));
    }
    table.print();
    Ok(())
}

fn row(delivery: &Delivery) -> Vec<String> {
    vec![
        format_time(delivery.create_time.as_ref()),
        enum_label(delivery.channel().as_str_name(), "CHANNEL_"),
        enum_label(delivery.status().as_str_name(), "DELIVERY_STATUS_"),
        delivery.template.clone(),
        delivery.subject.clone(),
    ]
}
