//! Reading rows back into domain values, and binding an address to its columns.

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Row};

use crate::domain::{
    Address, AddressFields, Channel, DeliveryWindow, GeoPoint, PostalAddress, Preferences, Profile,
};

pub(super) fn profile_from_row(row: &PgRow) -> Result<Profile, sqlx::Error> {
    Ok(Profile {
        user_id: row.try_get("user_id")?,
        display_name: row.try_get("display_name")?,
        phone: row.try_get("phone")?,
        avatar_url: row.try_get("avatar_url")?,
        created_at: Some(row.try_get("created_at")?),
        updated_at: Some(row.try_get("updated_at")?),
    })
}

pub(super) fn address_from_row(row: &PgRow) -> Result<Address, sqlx::Error> {
    let latitude: Option<i64> = row.try_get("latitude_e6")?;
    let longitude: Option<i64> = row.try_get("longitude_e6")?;
    Ok(Address {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        fields: AddressFields {
            label: row.try_get("label")?,
            postal: PostalAddress {
                line1: row.try_get("line1")?,
                line2: row.try_get("line2")?,
                city: row.try_get("city")?,
                region: row.try_get("region")?,
                postal_code: row.try_get("postal_code")?,
                country_code: row.try_get("country_code")?,
                geo: latitude
                    .zip(longitude)
                    .map(|(latitude_e6, longitude_e6)| GeoPoint {
                        latitude_e6,
                        longitude_e6,
                    }),
            },
            recipient_name: row.try_get("recipient_name")?,
            recipient_phone: row.try_get("recipient_phone")?,
            delivery_instructions: row.try_get("delivery_instructions")?,
        },
        is_default: row.try_get("is_default")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Binds `address` to `$1..$17` in the order of `address_columns!()`.
pub(super) fn bind_address<'q>(
    query: Query<'q, Postgres, PgArguments>,
    address: &Address,
) -> Query<'q, Postgres, PgArguments> {
    let fields = &address.fields;
    let postal = &fields.postal;
    query
        .bind(address.id)
        .bind(address.user_id)
        .bind(fields.label.clone())
        .bind(postal.line1.clone())
        .bind(postal.line2.clone())
        .bind(postal.city.clone())
        .bind(postal.region.clone())
        .bind(postal.postal_code.clone())
        .bind(postal.country_code.clone())
        .bind(postal.geo.map(|g| g.latitude_e6))
        .bind(postal.geo.map(|g| g.longitude_e6))
        .bind(fields.recipient_name.clone())
        .bind(fields.recipient_phone.clone())
        .bind(fields.delivery_instructions.clone())
        .bind(address.is_default)
        .bind(address.created_at)
        .bind(address.updated_at)
}

pub(super) fn preferences_from_row(row: &PgRow) -> Result<Preferences, sqlx::Error> {
    let start: Option<i32> = row.try_get("window_start_minute")?;
    let end: Option<i32> = row.try_get("window_end_minute")?;
    let channels: Vec<String> = row.try_get("notification_channels")?;
    let notification_channels = channels
        .iter()
        .map(|name| {
            Channel::from_name(name).ok_or_else(|| sqlx::Error::ColumnDecode {
                index: "notification_channels".into(),
                source: format!("unknown channel {name:?}").into(),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Preferences {
        user_id: row.try_get("user_id")?,
        prefer_organic: row.try_get("prefer_organic")?,
        prefer_seasonal: row.try_get("prefer_seasonal")?,
        prefer_local: row.try_get("prefer_local")?,
        dietary_tags: row.try_get("dietary_tags")?,
        delivery_window: start
            .zip(end)
            .map(|(start_minute, end_minute)| DeliveryWindow {
                start_minute,
                end_minute,
            }),
        notification_channels,
        marketing_opt_in: row.try_get("marketing_opt_in")?,
        updated_at: Some(row.try_get("updated_at")?),
    })
}
