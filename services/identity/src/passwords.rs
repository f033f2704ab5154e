//! Password hashing with argon2id, off the async threads.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::Arc;

use argon2::{Argon2, Params};
use tokio::sync::Semaphore;

use crate::domain::{IdentityError, Password};

/// Hashes and verifies passwords on a bounded number of blocking threads, one per core:
/// each hash holds its memory cost (19 MiB by default), so a login burst waits here
/// instead of exhausting memory. Keeps a dummy hash so that checking an unknown email
/// costs the same as checking a wrong password.
#[derive(Clone)]
pub struct PasswordHasherPool {
    params: Params,
    dummy_hash: String,
    permits: Arc<Semaphore>,
}

impl PasswordHasherPool {
    /// argon2id with `memory_kib` of memory and `iterations` passes (OWASP's minimum is
    /// 19 MiB and 2 passes).
    pub fn new(memory_kib: u32, iterations: u32) -> Result<Self, IdentityError> {
        let params = Params::new(memory_kib, iterations, 1, None)
            .map_err(|e| IdentityError::Crypto(format!("bad argon2 parameters: {e}")))?;
        let dummy_hash = hash_with(&params, "not a real password, never matches")?;
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Ok(Self {
            params,
            dummy_hash,
            permits: Arc::new(Semaphore::new(cores)),
        })
    }

    /// A PHC-format argon2id hash of `password` with a random salt.
    pub async fn hash(&self, password: &Password) -> Result<String, IdentityError> {
        let _permit = self.permit().await?;
        let params = self.params.clone();
        let password = password.clone();
        tokio::task::spawn_blocking(move || hash_with(&params, password.expose()))
            .await
            .map_err(|e| IdentityError::Crypto(format!("hashing task failed: {e}")))?
    }

    /// Whether `password` matches `hash`. With `None` (unknown account) the dummy hash is
    /// checked, so the answer takes as long and is always false.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, IdentityError> {
        let _permit = self.permit().await?;
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.dummy_hash).to_owned();
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .map_err(|e| IdentityError::Crypto(format!("stored hash is unreadable: {e}")))
        })
        .await
        .map_err(|e| IdentityError::Crypto(format!("verify task failed: {e}")))??;
        Ok(known && matches)
    }
}

impl PasswordHasherPool {
    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, IdentityError> {
        self.permits
            .acquire()
            .await
            .map_err(|e| IdentityError::Crypto(format!("hashing pool closed: {e}")))
    }
}

fn hash_with(params: &Params, password: &str) -> Result<String, IdentityError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
    )
    .hash_password(password.as_bytes(), &salt)
    .map(|hash| hash.to_string())
    .map_err(|e| IdentityError::Crypto(format!("cannot hash password: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hasher = PasswordHasherPool::new(1024, 1).unwrap();
        let password = Password::parse("correct horse").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify("correct horse", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("wrong horse!", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("correct horse", None).await.unwrap());
    }
}
