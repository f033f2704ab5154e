//! PostgreSQL adapter of [`IdentityStore`], with migrations embedded in the binary.

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use super::{IdentityStore, StoreError};
use crate::domain::{Email, RefreshRecord, Role, Rotation, SigningKeyRecord, User};

/// Identity's tables in PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(backend)?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Failed(format!("migrations failed: {e}")))?;
        Ok(Self { pool })
    }
}

/// Connection trouble is UNAVAILABLE (worth a retry); anything else the database refused
/// is a plain failure.
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
        _ => StoreError::Failed(error.to_string()),
    }
}

/// The columns `user_from_row` reads, as a literal so queries stay static strings.
macro_rules! user_columns {
    () => {
        "id, name, email, role, created_at, updated_at"
    };
}

fn user_from_row(row: &PgRow) -> Result<User, StoreError> {
    let role: String = row.try_get("role").map_err(backend)?;
    let email: String = row.try_get("email").map_err(backend)?;
    Ok(User {
        id: row.try_get("id").map_err(backend)?,
        name: row.try_get("name").map_err(backend)?,
        email: Email::parse(&email).map_err(|_| StoreError::Corrupt(format!("email {email:?}")))?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
        created_at: row.try_get("created_at").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
    })
}

impl IdentityStore for PgStore {
    async fn create_user(
        &self,
        user: &User,
        password_hash: &str,
        request_id: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users \
             (id, name, email, password_hash, role, created_at, updated_at, register_request_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(user.id)
        .bind(&user.name)
        .bind(user.email.as_str())
        .bind(password_hash)
        .bind(user.role.as_str())
        .bind(user.created_at)
        .bind(user.updated_at)
        .bind(request_id)
        .execute(&self.pool)
        .await
        .map_err(|error| match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                let what = match db.constraint() {
                    Some("users_register_request_id_key") => "request_id",
                    _ => "email",
                };
                StoreError::Conflict(what.into())
            }
            _ => backend(error),
        })?;
        Ok(())
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<(User, String)>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            ", password_hash FROM users WHERE email = $1"
        ))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|row| {
            Ok((
                user_from_row(&row)?,
                row.try_get("password_hash").map_err(backend)?,
            ))
        })
        .transpose()
    }

    async fn user_by_request_id(&self, request_id: &str) -> Result<Option<User>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE register_request_id = $1"
        ))
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    async fn admin_exists(&self) -> Result<bool, StoreError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin')")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    async fn set_role(
        &self,
        id: Uuid,
        role: Role,
        at: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        sqlx::query(concat!(
            "UPDATE users SET role = $2, updated_at = $3 WHERE id = $1 RETURNING ",
            user_columns!()
        ))
        .bind(id)
        .bind(role.as_str())
        .bind(at)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    async fn insert_refresh(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        insert_refresh(&self.pool, record).await
    }

    async fn rotate_refresh(
        &self,
        presented: &str,
        successor: RefreshRecord,
        now: DateTime<Utc>,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // The row lock makes two concurrent uses of one token a rotation and a reuse,
        // never two rotations.
        let row = sqlx::query(
            "SELECT family_id, user_id, expires_at, spent_at, revoked_at \
             FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
        )
        .bind(presented)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            return Ok(Rotation::Unknown);
        };
        let family: Uuid = row.try_get("family_id").map_err(backend)?;
        let user_id: Uuid = row.try_get("user_id").map_err(backend)?;
        let expires_at: DateTime<Utc> = row.try_get("expires_at").map_err(backend)?;
        let spent: Option<DateTime<Utc>> = row.try_get("spent_at").map_err(backend)?;
        let revoked: Option<DateTime<Utc>> = row.try_get("revoked_at").map_err(backend)?;

        let outcome = if revoked.is_some() {
            Rotation::Revoked
        } else if spent.is_some() {
            revoke_family_tx(&mut tx, family, now).await?;
            Rotation::Reused
        } else if expires_at <= now {
            Rotation::Expired
        } else {
            sqlx::query("UPDATE refresh_tokens SET spent_at = $2 WHERE token_hash = $1")
                .bind(presented)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            let successor = RefreshRecord {
                family_id: family,
                user_id,
                ..successor
            };
            insert_refresh(&mut *tx, &successor).await?;
            Rotation::Rotated { user_id }
        };
        tx.commit().await.map_err(backend)?;
        Ok(outcome)
    }

    async fn purge_expired_refresh(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(backend)
    }

    async fn revoke_family(&self, token_hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 \
             WHERE revoked_at IS NULL AND family_id = \
               (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)",
        )
        .bind(token_hash)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, seed, created_at, retired_at FROM signing_keys \
             ORDER BY created_at DESC, kid DESC",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                let kid: String = row.try_get("kid").map_err(backend)?;
                let seed: Vec<u8> = row.try_get("seed").map_err(backend)?;
                Ok(SigningKeyRecord {
                    seed: seed
                        .try_into()
                        .map_err(|_| StoreError::Corrupt(format!("seed of key {kid}")))?,
                    kid,
                    created_at: row.try_get("created_at").map_err(backend)?,
                    retired_at: row.try_get("retired_at").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn rotate_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(key.created_at)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("INSERT INTO signing_keys (kid, seed, created_at) VALUES ($1, $2, $3)")
            .bind(&key.kid)
            .bind(key.seed.as_slice())
            .bind(key.created_at)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }
}

async fn insert_refresh<'e>(
    executor: impl sqlx::Executor<'e, Database = Postgres>,
    record: &RefreshRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&record.token_hash)
    .bind(record.family_id)
    .bind(record.user_id)
    .bind(record.issued_at)
    .bind(record.expires_at)
    .execute(executor)
    .await
    .map_err(backend)?;
    Ok(())
}

async fn revoke_family_tx(
    tx: &mut Transaction<'_, Postgres>,
    family: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}
