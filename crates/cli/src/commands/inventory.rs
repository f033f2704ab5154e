//! `inventory receive/adjust/low-stock/stock/warehouses`: the operator's stock commands.

use anyhow::Result;
use mandi_sdk::proto::mandi::common::v1::Address;
use mandi_sdk::proto::mandi::inventory::v1::{
    AdjustStockRequest, AdjustmentReason, Availability, CreateWarehouseRequest,
    GetAvailabilityRequest, ListLowStockRequest, ListWarehousesRequest, ReceiveStockRequest,
    Warehouse,
};

use crate::cli::{AdjustArgs, AdjustReasonArg, InventoryCommand, ReceiveArgs, WarehouseCommand};
use crate::commands::catalog::resolve;
use crate::exit::CliError;
use crate::money::{format_quantity, parse_quantity, quantity_for};
use crate::output::{Table, enum_label, format_time, print_fields, print_json, to_json};
use crate::session::{Context, request_id};

pub async fn run(ctx: &mut Context, command: InventoryCommand) -> Result<()> {
    ctx.require_login()?;
    match command {
        InventoryCommand::Receive(args) => receive(ctx, args).await,
        InventoryCommand::Adjust(args) => adjust(ctx, args).await,
        InventoryCommand::LowStock { limit } => low_stock(ctx, limit).await,
        InventoryCommand::Stock { product } => stock(ctx, &product).await,
        InventoryCommand::Warehouses(WarehouseCommand::List) => warehouses(ctx).await,
        InventoryCommand::Warehouses(WarehouseCommand::Add {
            code,
            name,
            line1,
            city,
            postal_code,
            country,
            cold_storage,
        }) => {
            let warehouse = ctx
                .mandi
                .inventory()
                .create_warehouse(CreateWarehouseRequest {
                    warehouse: Some(Warehouse {
                        code,
                        display_name: name,
                        location: Some(Address {
                            line1,
                            city,
                            postal_code,
                            country_code: country,
                            ..Default::default()
                        }),
                        cold_storage,
                        active: true,
                        ..Default::default()
                    }),
                    request_id: request_id(),
                })
                .await
                .map_err(ctx.status("add the warehouse"))?
                .into_inner()
                .warehouse
                .unwrap_or_default();
            ctx.print(&warehouse, "mandi.inventory.v1.Warehouse", |warehouse| {
                println!("added warehouse {} ({})", warehouse.code, warehouse.id);
            })?;
            Ok(())
        }
    }
}

async fn receive(ctx: &Context, args: ReceiveArgs) -> Result<()> {
    let quantity = parse_quantity(&args.quantity).map_err(|e| CliError::invalid("quantity", e))?;
    let expires = parse_expiry(&args.expires, chrono::Utc::now())
        .map_err(|e| CliError::invalid("expires", e))?;
    let product = resolve(ctx, &args.product).await?;
    let unit = product.unit_of_sale();
    let quantity = quantity_for(quantity, unit).map_err(|e| CliError::invalid("quantity", e))?;
    let batch = ctx
        .mandi
        .inventory()
        .receive_stock(ReceiveStockRequest {
            product_id: product.id.clone(),
            warehouse_id: args.warehouse,
            quantity,
            expire_time: Some(prost_types::Timestamp {
                seconds: expires,
                nanos: 0,
            }),
            supplier_ref: args.supplier,
            cold_chain: args.cold_chain,
            request_id: request_id(),
            ..Default::default()
        })
        .await
        .map_err(ctx.status(&format!("receive {}", product.display_name)))?
        .into_inner()
        .batch
        .unwrap_or_default();
    ctx.print(&batch, "mandi.inventory.v1.Batch", |batch| {
        print_fields(&[
            ("batch", batch.id.clone()),
            ("product", product.display_name.clone()),
            ("on hand", format_quantity(batch.on_hand_quantity, unit)),
            ("status", batch_status(batch.status)),
            ("expires", format_time(batch.expire_time.as_ref())),
        ]);
    })?;
    Ok(())
}

async fn adjust(ctx: &Context, args: AdjustArgs) -> Result<()> {
    let delta = parse_delta(&args.delta).map_err(|e| CliError::invalid("delta", e))?;
    let response = ctx
        .mandi
        .inventory()
        .adjust_stock(AdjustStockRequest {
            batch_id: args.batch.clone(),
            delta_quantity: delta,
            reason: adjustment_reason(args.reason) as i32,
            note: args.note,
            request_id: request_id(),
        })
        .await
        .map_err(ctx.status(&format!("adjust batch {}", args.batch)))?
        .into_inner();
    ctx.print(
        &response,
        "mandi.inventory.v1.AdjustStockResponse",
        |response| {
            let batch = response.batch.clone().unwrap_or_default();
            print_fields(&[
                ("batch", batch.id),
                ("changed by", format!("{delta:+}")),
                ("on hand", batch.on_hand_quantity.to_string()),
                ("reserved", batch.reserved_quantity.to_string()),
            ]);
        },
    )?;
    Ok(())
}

async fn low_stock(ctx: &Context, limit: i32) -> Result<()> {
    if limit <= 0 {
        return Err(CliError::invalid("limit", "must be greater than 0").into());
    }
    let response = ctx
        .mandi
        .inventory()
        .list_low_stock(ListLowStockRequest {
            page_size: limit,
            page_token: String::new(),
        })
        .await
        .map_err(ctx.status("list low stock"))?
        .into_inner();
    if ctx.json() {
        print_json(&to_json(
            &response,
            "mandi.inventory.v1.ListLowStockResponse",
        )?);
        return Ok(());
    }
    if response.products.is_empty() {
        println!("no product is low on stock");
        return Ok(());
    }
    availability_table(&response.products).print();
    Ok(())
}

async fn stock(ctx: &Context, product: &str) -> Result<()> {
    let product = resolve(ctx, product).await?;
    let availability = ctx
        .mandi
        .inventory()
        .get_availability(GetAvailabilityRequest {
            product_id: product.id.clone(),
        })
        .await
        .map_err(ctx.status(&format!("stock of {}", product.display_name)))?
        .into_inner()
        .availability
        .unwrap_or_default();
    ctx.print(
        &availability,
        "mandi.inventory.v1.Availability",
        |availability| {
            let unit = product.unit_of_sale();
            print_fields(&[
                ("product", product.display_name.clone()),
                (
                    "available",
                    format_quantity(availability.available_quantity, unit),
                ),
                (
                    "reserved",
                    format_quantity(availability.reserved_quantity, unit),
                ),
                (
                    "low stock",
                    if availability.low_stock { "yes" } else { "no" }.to_owned(),
                ),
                (
                    "earliest expiry",
                    format_time(availability.earliest_expire_time.as_ref()),
                ),
            ]);
        },
    )?;
    Ok(())
}

fn availability_table(products: &[Availability]) -> Table {
    let mut table = Table::new(["PRODUCT", "AVAILABLE", "RESERVED", "EARLIEST EXPIRY"]);
    for a in products {
        table.row(vec![
            a.product_id.clone(),
            a.available_quantity.to_string(),
            a.reserved_quantity.to_string(),
            format_time(a.earliest_expire_time.as_ref()),
        ]);
    }
    table
}

async fn warehouses(ctx: &Context) -> Result<()> {
    let response = ctx
        .mandi
        .inventory()
        .list_warehouses(ListWarehousesRequest {
            page_size: 200,
            page_token: String::new(),
        })
        .await
        .map_err(ctx.status("list warehouses"))?
        .into_inner();
    if ctx.json() {
        print_json(&to_json(
            &response,
            "mandi.inventory.v1.ListWarehousesResponse",
        )?);
        return Ok(());
    }
    let mut table = Table::new(["CODE", "NAME", "CITY", "COLD", "ID"]);
    for w in &response.warehouses {
        table.row(vec![
            w.code.clone(),
            w.display_name.clone(),
            w.location
                .as_ref()
                .map(|l| l.city.clone())
                .unwrap_or_default(),
            if w.cold_storage { "yes" } else { "no" }.to_owned(),
            w.id.clone(),
        ]);
    }
    if table.is_empty() {
        println!("no warehouses yet: add one with `mandi inventory warehouses add`");
    } else {
        table.print();
    }
    Ok(())
}

/// A signed, non-zero change: `-500`, `+2`, `3`.
pub fn parse_delta(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let value: i64 = text
        .strip_prefix('+')
        .unwrap_or(text)
        .parse()
        .map_err(|_| format!("expected a signed whole number like -500 or +2, got {text:?}"))?;
    if value == 0 {
        return Err("must not be 0".to_owned());
    }
    Ok(value)
}

/// An expiry as a date (`2026-12-24`, the end of that day UTC) or days from `now`
/// (`7d`), in seconds since the epoch.
pub fn parse_expiry(text: &str, now: chrono::DateTime<chrono::Utc>) -> Result<i64, String> {
    let text = text.trim();
    if let Some(days) = text.strip_suffix('d') {
        let days: i64 =
            days.parse().ok().filter(|d| *d > 0).ok_or_else(|| {
                format!("expected a positive number of days like 7d, got {text:?}")
            })?;
        return Ok(now.timestamp() + days * 86_400);
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("expected a date like 2026-12-24 or days like 7d, got {text:?}"))?;
    date.and_hms_opt(23, 59, 59)
        .map(|t| t.and_utc().timestamp())
        .ok_or_else(|| format!("{text:?} is not a valid date"))
}

fn adjustment_reason(reason: AdjustReasonArg) -> AdjustmentReason {
    match reason {
        AdjustReasonArg::Spoiled => AdjustmentReason::Spoiled,
        AdjustReasonArg::Damaged => AdjustmentReason::Damaged,
        AdjustReasonArg::CountCorrection => AdjustmentReason::CountCorrection,
        AdjustReasonArg::Returned => AdjustmentReason::Returned,
        AdjustReasonArg::Lost => AdjustmentReason::Lost,
        AdjustReasonArg::Other => AdjustmentReason::Other,
    }
}

/// The label of a batch status.
fn batch_status(status: i32) -> String {
    let name = mandi_sdk::proto::mandi::inventory::v1::BatchStatus::try_from(status)
        .map(|s| s.as_str_name())
        .unwrap_or("BATCH_STATUS_UNSPECIFIED");
    enum_label(name, "BATCH_STATUS_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_are_signed_and_never_zero() {
        assert_eq!(parse_delta("-500"), Ok(-500));
        assert_eq!(parse_delta("+2"), Ok(2));
        assert_eq!(parse_delta("0"), Err("must not be 0".to_owned()));
        assert!(
            parse_delta("lots")
                .unwrap_err()
                .contains("signed whole number")
        );
    }

    #[test]
    fn expiries_are_dates_or_days_from_now() {
        let now = chrono::DateTime::from_timestamp(1_000_000, 0).unwrap();
        assert_eq!(parse_expiry("7d", now), Ok(1_000_000 + 7 * 86_400));
        assert_eq!(
            parse_expiry("2026-12-24", now),
            Ok(chrono::NaiveDate::from_ymd_opt(2026, 12, 24)
                .unwrap()
                .and_hms_opt(23, 59, 59)
                .unwrap()
                .and_utc()
                .timestamp())
        );
        assert!(parse_expiry("0d", now).unwrap_err().contains("positive"));
        assert!(
            parse_expiry("tomorrow", now)
                .unwrap_err()
                .contains("2026-12-24")
        );
    }
}
