//! PostgreSQL adapter of [`ProfileStore`], with migrations embedded in the binary.
//!
//! One default address per user is a rule of the schema (a partial unique index on
//! `addresses (user_id) WHERE is_default`); the code keeps the "at least one" half. Every
//! write first locks the user's `profiles` row (`SELECT … FOR UPDATE`, inserting it when
//! missing), so concurrent CreateAddress, SetDefaultAddress and DeleteAddress calls of one
//! user run one after another and each sees what the previous one left.

// Column lists as macros so queries stay `&'static str` (sqlx only takes SQL it can trust).
macro_rules! profile_columns {
    () => {
        "user_id, display_name, phone, avatar_url, created_at, updated_at"
    };
}
macro_rules! address_columns {
    () => {
        "id, user_id, label, line1, line2, city, region, postal_code, country_code, \
         latitude_e6, longitude_e6, recipient_name, recipient_phone, delivery_instructions, \
         is_default, created_at, updated_at"
    };
}
macro_rules! preferences_columns {
    () => {
        "user_id, prefer_organic, prefer_seasonal, prefer_local, dietary_tags, \
         window_start_minute, window_end_minute, notification_channels, marketing_opt_in, \
         updated_at"
    };
}
/// `$1, …, $17`: one placeholder per address column.
macro_rules! address_values {
    () => {
        "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17"
    };
}

mod rows;

const PREFERENCES_BY_USER: &str = concat!(
    "SELECT ",
    preferences_columns!(),
    " FROM preferences WHERE user_id = $1"
);

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::{ProfileStore, StoreError};
use crate::domain::{
    Address, AddressCursor, AddressPatch, Preferences, PreferencesPatch, Profile, ProfileError,
    ProfilePatch, RequestRecord,
};
use rows::{address_from_row, bind_address, preferences_from_row, profile_from_row};

/// Profile's tables in PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` with a pool of 16 and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, 16).await
    }

    /// Connects to `url` with a pool of `max_connections` and brings the schema up to date.
    pub async fn connect_with(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(backend)?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Failed(format!("migrations failed: {e}")))?;
        Ok(Self { pool })
    }

    /// The pool, for tests that check what the schema itself refuses.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Connection trouble is UNAVAILABLE (worth a retry); a refused unique key is a conflict;
/// anything else the database refused is a plain failure.
fn backend(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_) => StoreError::Corrupt(error.to_string()),
        sqlx::Error::Database(ref db) if db.is_unique_violation() => {
            StoreError::Conflict(db.constraint().unwrap_or("unique key").to_owned())
        }
        _ => StoreError::Failed(error.to_string()),
    }
}

fn db(error: sqlx::Error) -> ProfileError {
    ProfileError::Store(backend(error))
}

/// The one row `sql` (taking the id as `$1`) finds, decoded; `None` when there is none.
async fn fetch_by_id<'c, T>(
    executor: impl sqlx::Executor<'c, Database = sqlx::Postgres>,
    sql: &'static str,
    id: Uuid,
    decode: fn(&PgRow) -> Result<T, sqlx::Error>,
) -> Result<Option<T>, ProfileError> {
    let row = sqlx::query(sql)
        .bind(id)
        .fetch_optional(executor)
        .await
        .map_err(db)?;
    row.map(|row| decode(&row)).transpose().map_err(db)
}

/// Creates the user's profile row when missing and locks it until the transaction ends:
/// the per-user lock every write takes first. Returns the profile.
async fn lock_user(
    tx: &mut PgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Profile, ProfileError> {
    sqlx::query(
        "INSERT INTO profiles (user_id, created_at, updated_at) VALUES ($1, $2, $2) \
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let row = sqlx::query(concat!(
        "SELECT ",
        profile_columns!(),
        " FROM profiles WHERE user_id = $1 FOR UPDATE"
    ))
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await
    .map_err(db)?;
    profile_from_row(&row).map_err(db)
}

/// Locks the owner of address `id` (see [`lock_user`]) and then reads the address under
/// that lock; `None` when it does not exist (or was deleted while waiting).
async fn lock_address(
    tx: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Address>, ProfileError> {
    let owner: Option<Uuid> = sqlx::query_scalar("SELECT user_id FROM addresses WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
    let Some(owner) = owner else {
        return Ok(None);
    };
    lock_user(tx, owner, now).await?;
    let row = sqlx::query(concat!(
        "SELECT ",
        address_columns!(),
        " FROM addresses WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(owner)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    row.map(|row| address_from_row(&row))
        .transpose()
        .map_err(db)
}

/// Clears the default flag of the user's other addresses, at `now`.
async fn clear_defaults(
    tx: &mut PgConnection,
    user_id: Uuid,
    keep: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ProfileError> {
    sqlx::query(
        "UPDATE addresses SET is_default = false, updated_at = $3 \
         WHERE user_id = $1 AND is_default AND id <> $2",
    )
    .bind(user_id)
    .bind(keep)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// Sets the default flag of address `id`, at `now`, and returns it.
async fn mark_default(
    tx: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Address, ProfileError> {
    let row = sqlx::query(concat!(
        "UPDATE addresses SET is_default = true, updated_at = $2 WHERE id = $1 \
         RETURNING ",
        address_columns!()
    ))
    .bind(id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(db)?;
    address_from_row(&row).map_err(db)
}

impl ProfileStore for PgStore {
    async fn profile(&self, user_id: Uuid) -> Result<Option<Profile>, ProfileError> {
        let sql = concat!(
            "SELECT ",
            profile_columns!(),
            " FROM profiles WHERE user_id = $1"
        );
        fetch_by_id(&self.pool, sql, user_id, profile_from_row).await
    }

    async fn update_profile(
        &self,
        user_id: Uuid,
        patch: &ProfilePatch,
        now: DateTime<Utc>,
    ) -> Result<Profile, ProfileError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let current = lock_user(&mut tx, user_id, now).await?;
        let updated = patch.apply(current, now);
        sqlx::query(
            "UPDATE profiles SET display_name = $2, phone = $3, avatar_url = $4, \
             updated_at = $5 WHERE user_id = $1",
        )
        .bind(user_id)
        .bind(&updated.display_name)
        .bind(&updated.phone)
        .bind(&updated.avatar_url)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(updated)
    }

    async fn list_addresses(
        &self,
        user_id: Uuid,
        after: Option<AddressCursor>,
        limit: usize,
    ) -> Result<Vec<Address>, ProfileError> {
        // After a default cursor come the user's other addresses and older defaults (there
        // is one default, so none); after a non-default one, older non-defaults.
        let rows = sqlx::query(concat!(
            "SELECT ",
            address_columns!(),
            " FROM addresses WHERE user_id = $1 \
             AND ($2::boolean IS NULL \
                  OR ($2 AND NOT is_default) \
                  OR (is_default = $2 AND (created_at, id) < ($3, $4))) \
             ORDER BY is_default DESC, created_at DESC, id DESC LIMIT $5"
        ))
        .bind(user_id)
        .bind(after.map(|c| c.is_default))
        .bind(after.map(|c| c.created_at))
        .bind(after.map(|c| c.id))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(address_from_row)
            .collect::<Result<_, _>>()
            .map_err(db)
    }

    async fn address(&self, id: Uuid) -> Result<Option<Address>, ProfileError> {
        let sql = concat!(
            "SELECT ",
            address_columns!(),
            " FROM addresses WHERE id = $1"
        );
        fetch_by_id(&self.pool, sql, id, address_from_row).await
    }

    async fn create_address(
        &self,
        address: &Address,
        make_default: bool,
    ) -> Result<Address, ProfileError> {
        let now = address.created_at;
        let mut tx = self.pool.begin().await.map_err(db)?;
        lock_user(&mut tx, address.user_id, now).await?;
        let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM addresses WHERE user_id = $1")
            .bind(address.user_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        let mut stored = address.clone();
        stored.is_default = Address::becomes_default(
            usize::try_from(existing).unwrap_or(usize::MAX),
            make_default,
        )?;
        if stored.is_default {
            clear_defaults(&mut tx, address.user_id, address.id, now).await?;
        }
        bind_address(
            sqlx::query(concat!(
                "INSERT INTO addresses (",
                address_columns!(),
                ") VALUES \
                 (",
                address_values!(),
                ")"
            )),
            &stored,
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(stored)
    }

    async fn update_address(
        &self,
        id: Uuid,
        patch: &AddressPatch,
        now: DateTime<Utc>,
    ) -> Result<Option<Address>, ProfileError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let Some(current) = lock_address(&mut tx, id, now).await? else {
            return Ok(None);
        };
        let updated = patch.apply(current, now);
        // Every column is rewritten from the patched value; the flag and times the patch
        // cannot change are written back as they were.
        bind_address(
            sqlx::query(concat!(
                "UPDATE addresses SET (",
                address_columns!(),
                ") = \
                 (",
                address_values!(),
                ") \
                 WHERE id = $1"
            )),
            &updated,
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Some(updated))
    }

    async fn delete_address(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<Address>, ProfileError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let Some(deleted) = lock_address(&mut tx, id, now).await? else {
            return Ok(None);
        };
        sqlx::query("DELETE FROM addresses WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let mut promoted = None;
        if deleted.is_default {
            let successor: Option<Uuid> = sqlx::query_scalar(
                "SELECT id FROM addresses WHERE user_id = $1 \
                 ORDER BY updated_at DESC, id DESC LIMIT 1",
            )
            .bind(deleted.user_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            if let Some(successor) = successor {
                promoted = Some(mark_default(&mut tx, successor, now).await?);
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(promoted)
    }

    async fn set_default_address(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<Address>, ProfileError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let Some(address) = lock_address(&mut tx, id, now).await? else {
            return Ok(None);
        };
        if address.is_default {
            return Ok(Some(address));
        }
        // Cleared first: the unique index allows one default at any moment.
        clear_defaults(&mut tx, address.user_id, id, now).await?;
        let address = mark_default(&mut tx, id, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(Some(address))
    }

    async fn preferences(&self, user_id: Uuid) -> Result<Option<Preferences>, ProfileError> {
        fetch_by_id(
            &self.pool,
            PREFERENCES_BY_USER,
            user_id,
            preferences_from_row,
        )
        .await
    }

    async fn update_preferences(
        &self,
        user_id: Uuid,
        patch: &PreferencesPatch,
        now: DateTime<Utc>,
    ) -> Result<Preferences, ProfileError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        lock_user(&mut tx, user_id, now).await?;
        let current = fetch_by_id(&mut *tx, PREFERENCES_BY_USER, user_id, preferences_from_row)
            .await?
            .unwrap_or_else(|| Preferences::defaults(user_id));
        let updated = patch.apply(current, now);
        let window = updated.delivery_window;
        let channels: Vec<&str> = updated
            .notification_channels
            .iter()
            .map(|c| c.as_str())
            .collect();
        sqlx::query(concat!(
            "INSERT INTO preferences (",
            preferences_columns!(),
            ") \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (user_id) DO UPDATE SET \
             prefer_organic = $2, prefer_seasonal = $3, prefer_local = $4, dietary_tags = $5, \
             window_start_minute = $6, window_end_minute = $7, notification_channels = $8, \
             marketing_opt_in = $9, updated_at = $10"
        ))
        .bind(user_id)
        .bind(updated.prefer_organic)
        .bind(updated.prefer_seasonal)
        .bind(updated.prefer_local)
        .bind(&updated.dietary_tags)
        .bind(window.map(|w| w.start_minute))
        .bind(window.map(|w| w.end_minute))
        .bind(&channels)
        .bind(updated.marketing_opt_in)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(updated)
    }

    async fn recall_request(&self, key: &str) -> Result<Option<RequestRecord>, ProfileError> {
        let row =
            sqlx::query("SELECT key, fingerprint, target_id FROM request_records WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(RequestRecord {
            key: row.try_get("key").map_err(db)?,
            fingerprint: row.try_get("fingerprint").map_err(db)?,
            target: row.try_get("target_id").map_err(db)?,
        }))
    }

    async fn remember_request(&self, record: &RequestRecord) -> Result<(), ProfileError> {
        sqlx::query(
            "INSERT INTO request_records (key, fingerprint, target_id) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(&record.key)
        .bind(&record.fingerprint)
        .bind(record.target)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }
}
