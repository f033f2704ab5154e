//! What signing in and checking a token cost, each next to a baseline measured in the same
//! run on the same machine (the machine is shared and noisy; only ratios travel):
//!
//! - verifying an access token in the auth layer vs a bare Ed25519 signature check: the
//!   overhead of JWT parsing, claims validation and the key cache;
//! - issuing an access token vs a bare Ed25519 signature;
//! - one argon2id password check at the default cost (what every login pays).
//!
//! Run with `make bench`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use ed25519_dalek::{Signer, Verifier};
use mandi_identity::domain::Password;
use mandi_identity::keys::{self, KeyRing};
use mandi_identity::passwords::PasswordHasherPool;
use mandi_runtime::auth::{AUDIENCE, Claims, ISSUER, TokenVerifier};
use mandi_sdk::proto::mandi::identity::v1::Jwk;

/// Median time per operation over `rounds` batches of `batch` operations.
fn per_op(rounds: usize, batch: usize, mut op: impl FnMut()) -> Duration {
    let mut samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..batch {
                op();
            }
            started.elapsed() / batch as u32
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let now = Utc::now();
    let record = keys::generate(now);
    let ring = KeyRing::from_records(
        std::slice::from_ref(&record),
        now,
        chrono::Duration::minutes(15),
    )?
    .ok_or("no signing key")?;
    let claims = Claims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: uuid::Uuid::now_v7().to_string(),
        iat: now.timestamp() as u64,
        exp: (now + chrono::Duration::minutes(15)).timestamp() as u64,
        roles: vec!["customer".into()],
        svc: None,
    };
    let token = ring.sign(&claims)?;
    let published = ring.published().to_vec();
    let verifier = TokenVerifier::new(Arc::new(move || {
        let keys: Vec<Jwk> = published
            .iter()
            .map(|key| Jwk {
                kid: key.kid.clone(),
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: key.x.clone(),
                alg: "EdDSA".into(),
                r#use: "sig".into(),
            })
            .collect();
        Box::pin(async move { Ok(keys) })
    }));
    // Warm the key cache: the steady state of a running server.
    runtime.block_on(verifier.verify(&token))?;

    let signing_key = ed25519_dalek::SigningKey::from_bytes(&record.seed);
    let message = token
        .rsplit_once('.')
        .map(|(signed, _)| signed.as_bytes().to_vec())
        .unwrap_or_default();
    let signature = signing_key.sign(&message);
    let verifying_key = signing_key.verifying_key();

    let raw_verify = per_op(21, 2_000, || {
        black_box(
            verifying_key
                .verify(black_box(&message), &signature)
                .is_ok(),
        );
    });
    let token_verify = per_op(21, 2_000, || {
        black_box(runtime.block_on(verifier.verify(black_box(&token))).is_ok());
    });
    let raw_sign = per_op(21, 2_000, || {
        black_box(signing_key.sign(black_box(&message)));
    });
    let token_sign = per_op(21, 2_000, || {
        black_box(ring.sign(black_box(&claims)).is_ok());
    });

    let hasher = PasswordHasherPool::new(19_456, 2)?;
    let password = Password::parse("correct horse battery").map_err(|v| v.description)?;
    let hash = runtime.block_on(hasher.hash(&password))?;
    let login_check = per_op(5, 4, || {
        black_box(
            runtime
                .block_on(hasher.verify("correct horse battery", Some(&hash)))
                .is_ok(),
        );
    });

    println!("identity token benchmarks (median per operation)");
    println!(
        "  verify access token     {:>9.1} µs   baseline bare Ed25519 verify {:>7.1} µs   ratio {:.2}x",
        micros(token_verify),
        micros(raw_verify),
        token_verify.as_secs_f64() / raw_verify.as_secs_f64()
    );
    println!(
        "  issue access token      {:>9.1} µs   baseline bare Ed25519 sign   {:>7.1} µs   ratio {:.2}x",
        micros(token_sign),
        micros(raw_sign),
        token_sign.as_secs_f64() / raw_sign.as_secs_f64()
    );
    println!(
        "  argon2id check (19 MiB, t=2) {:>6.1} ms   = {:.0} logins/s per core",
        login_check.as_secs_f64() * 1e3,
        1.0 / login_check.as_secs_f64()
    );
    Ok(())
}
