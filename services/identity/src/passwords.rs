//! Password hashing with argon2id, off the async threads.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, Params};

use crate::domain::{IdentityError, Password};

/// Hashes and verifies passwords; keeps a dummy hash so that checking an unknown email
/// costs the same as checking a wrong password.
#[derive(Clone)]
pub struct PasswordHasherPool {
    params: Params,
    dummy_hash: String,
}

impl PasswordHasherPool {
    /// argon2id with `memory_kib` of memory and `iterations` passes (OWASP's minimum is
    /// 19 MiB and 2 passes).
    pub fn new(memory_kib: u32, iterations: u32) -> Result<Self, IdentityError> {
        let params = Params::new(memory_kib, iterations, 1, None)
            .map_err(|e| IdentityError::Crypto(format!("bad argon2 parameters: {e}")))?;
        let dummy_hash = hash_with(&params, "not a real password, never matches")?;
        Ok(Self { params, dummy_hash })
    }

    /// A PHC-format argon2id hash of `password` with a random salt.
    pub async fn hash(&self, password: &Password) -> Result<String, IdentityError> {
        let params = self.params.clone();
        let password = password.clone();
        tokio::task::spawn_blocking(move || hash_with(&params, password.expose()))
            .await
            .map_err(|e| IdentityError::Crypto(format!("hashing task failed: {e}")))?
    }

    /// Whether `password` matches `hash`. With `None` (unknown account) the dummy hash is
    /// checked, so the answer takes as long and is always false.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, IdentityError> {
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
