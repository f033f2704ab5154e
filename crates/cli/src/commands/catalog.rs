//! `catalog search` and `catalog get`, and finding a product by id or slug for the
//! commands that name one.

use anyhow::Result;
use mandi_sdk::proto::mandi::catalog::v1::{GetProductRequest, Product, SearchProductsRequest};
use tonic::Code;

use crate::cli::CatalogCommand;
use crate::exit::{CliError, Exit};
use crate::money::{format_money, format_unit_price};
use crate::output::{Table, enum_label, print_fields, print_json, to_json};
use crate::session::Context;

pub async fn run(ctx: &mut Context, command: CatalogCommand) -> Result<()> {
    match command {
        CatalogCommand::Search { query, limit } => search(ctx, query, limit).await,
        CatalogCommand::Get { product } => {
            let product = resolve(ctx, &product).await?;
            ctx.print(&product, "mandi.catalog.v1.Product", |product| {
                print_product(product);
            })?;
            Ok(())
        }
    }
}

async fn search(ctx: &Context, query: String, limit: i32) -> Result<()> {
    if limit <= 0 {
        return Err(CliError::invalid("limit", "must be greater than 0").into());
    }
    let response = ctx
        .mandi
        .catalog()
        .search_products(SearchProductsRequest {
            query,
            page_size: limit,
            ..Default::default()
        })
        .await
        .map_err(ctx.status("search the catalog"))?
        .into_inner();
    if ctx.json() {
        print_json(&to_json(
            &response,
            "mandi.catalog.v1.SearchProductsResponse",
        )?);
        return Ok(());
    }
    if response.products.is_empty() {
        println!("no products match; try fewer or other words");
        return Ok(());
    }
    let mut table = Table::new(["PRODUCT", "PRICE", "SLUG", "ID"]);
    for product in &response.products {
        table.row(vec![
            product.display_name.clone(),
            format_unit_price(product.price.as_ref(), product.unit_of_sale()),
            product.slug.clone(),
            product.id.clone(),
        ]);
    }
    table.print();
    println!(
        "{} of {} matching products",
        response.products.len(),
        response.total_size
    );
    Ok(())
}

fn print_product(product: &Product) {
    let origin = product.origin.as_ref().map_or_else(String::new, |o| {
        [o.region.as_str(), o.country_code.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    });
    let mut fields = vec![
        ("name", product.display_name.clone()),
        (
            "price",
            format_unit_price(product.price.as_ref(), product.unit_of_sale()),
        ),
    ];
    if let Some(compare) = &product.compare_at_price {
        fields.push(("was", format_money(compare)));
    }
    fields.extend([
        ("slug", product.slug.clone()),
        ("id", product.id.clone()),
        (
            "status",
            enum_label(product.status().as_str_name(), "PRODUCT_STATUS_"),
        ),
        ("origin", origin),
        (
            "organic",
            if product.organic { "yes" } else { "no" }.to_owned(),
        ),
        (
            "in season",
            if product.in_season { "yes" } else { "no" }.to_owned(),
        ),
    ]);
    if product.quantity_step > 0 {
        fields.push((
            "sold in steps of",
            crate::money::format_quantity(product.quantity_step, product.unit_of_sale()),
        ));
    }
    if !product.description.is_empty() {
        fields.push(("description", product.description.clone()));
    }
    print_fields(&fields);
}

/// A product by id, or by its slug through search (ACTIVE products only).
pub async fn resolve(ctx: &Context, product: &str) -> Result<Product> {
    let product = product.trim();
    if product.is_empty() {
        return Err(CliError::invalid("product", "give a product id or slug").into());
    }
    if uuid::Uuid::parse_str(product).is_ok() {
        let found = ctx
            .mandi
            .catalog()
            .get_product(GetProductRequest {
                product_id: product.to_owned(),
            })
            .await
            .map_err(|status| match status.code() {
                Code::NotFound => not_found(product),
                _ => ctx.status("find the product")(status),
            })?
            .into_inner()
            .product;
        return found.ok_or_else(|| not_found(product));
    }
    let slug = product.to_ascii_lowercase();
    let response = ctx
        .mandi
        .catalog()
        .search_products(SearchProductsRequest {
            query: slug.replace('-', " "),
            page_size: 100,
            ..Default::default()
        })
        .await
        .map_err(ctx.status(&format!("find product {product}")))?
        .into_inner();
    response
        .products
        .into_iter()
        .find(|p| p.slug == slug)
        .ok_or_else(|| not_found(product))
}

fn not_found(product: &str) -> anyhow::Error {
    CliError::new(
        Exit::NotFound,
        format!(
            "product {product:?} not found: give a product id or slug from `mandi catalog \
             search <words>`"
        ),
    )
    .into()
}
