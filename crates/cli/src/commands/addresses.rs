//! `addresses list/add`: the address book checkout delivers to.

use anyhow::Result;
use mandi_sdk::proto::mandi::common::v1::Address as PostalAddress;
use mandi_sdk::proto::mandi::profile::v1::{
    Address, CreateAddressRequest, GetAddressRequest, ListAddressesRequest,
};

use crate::cli::{AddAddressArgs, AddressCommand};
use crate::exit::{CliError, Exit};
use crate::output::{Table, print_json, to_json};
use crate::session::{Context, request_id};

pub async fn run(ctx: &mut Context, command: AddressCommand) -> Result<()> {
    ctx.require_login()?;
    match command {
        AddressCommand::List => {
            let addresses = list(ctx).await?;
            if ctx.json() {
                let json: Result<Vec<_>> = addresses
                    .iter()
                    .map(|a| to_json(a, "mandi.profile.v1.Address"))
                    .collect();
                print_json(&serde_json::Value::Array(json?));
            } else if addresses.is_empty() {
                println!("no saved addresses: add one with `mandi addresses add`");
            } else {
                let mut table = Table::new(["LABEL", "ADDRESS", "DEFAULT", "ID"]);
                for address in &addresses {
                    table.row(vec![
                        address.label.clone(),
                        one_line(address),
                        if address.is_default { "yes" } else { "" }.to_owned(),
                        address.id.clone(),
                    ]);
                }
                table.print();
            }
            Ok(())
        }
        AddressCommand::Add(args) => add(ctx, *args).await,
    }
}

async fn add(ctx: &Context, args: AddAddressArgs) -> Result<()> {
    let address = ctx
        .mandi
        .profile()
        .create_address(CreateAddressRequest {
            user_id: String::new(),
            address: Some(Address {
                label: args.label,
                postal_address: Some(PostalAddress {
                    line1: args.line1,
                    line2: args.line2,
                    city: args.city,
                    region: args.region,
                    postal_code: args.postal_code,
                    country_code: args.country,
                    geo: None,
                }),
                recipient_name: args.recipient,
                recipient_phone: args.phone,
                ..Default::default()
            }),
            make_default: args.default,
            request_id: request_id(),
        })
        .await
        .map_err(ctx.status("save the address"))?
        .into_inner()
        .address
        .unwrap_or_default();
    ctx.print(&address, "mandi.profile.v1.Address", |address| {
        println!(
            "saved {} ({}){}: {}",
            address.label,
            address.id,
            if address.is_default {
                ", your default"
            } else {
                ""
            },
            one_line(address)
        );
    })?;
    Ok(())
}

async fn list(ctx: &Context) -> Result<Vec<Address>> {
    Ok(ctx
        .mandi
        .profile()
        .list_addresses(ListAddressesRequest {
            page_size: 200,
            ..Default::default()
        })
        .await
        .map_err(ctx.status("list your addresses"))?
        .into_inner()
        .addresses)
}

/// One of the signed-in user's saved addresses by id.
pub async fn saved(ctx: &Context, id: &str) -> Result<Address> {
    Ok(ctx
        .mandi
        .profile()
        .get_address(GetAddressRequest {
            address_id: id.to_owned(),
        })
        .await
        .map_err(ctx.status(&format!("read address {id}")))?
        .into_inner()
        .address
        .unwrap_or_default())
}

/// The id of the signed-in user's default address, for checkout without `--address`.
pub async fn default_address(ctx: &Context) -> Result<String> {
    Ok(default_saved(ctx).await?.id)
}

/// The signed-in user's default address, for commands without `--address`.
pub async fn default_saved(ctx: &Context) -> Result<Address> {
    list(ctx)
        .await?
        .into_iter()
        .find(|a| a.is_default)
        .ok_or_else(|| {
            CliError::new(
                Exit::Refused,
                "address: you have no saved address; add one with `mandi addresses add` or \
                 pass --address",
            )
            .into()
        })
}

pub fn one_line(address: &Address) -> String {
    let Some(postal) = &address.postal_address else {
        return String::new();
    };
    [
        postal.line1.as_str(),
        postal.line2.as_str(),
        postal.city.as_str(),
        postal.postal_code.as_str(),
        postal.country_code.as_str(),
    ]
    .iter()
    .filter(|s| !s.is_empty())
    .copied()
    .collect::<Vec<_>>()
    .join(", ")
}
