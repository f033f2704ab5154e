//! Identity's rules, end to end through the service logic on the in-memory twins.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mandi_identity::domain::{IdentityError, Registration, Role};
use mandi_identity::grpc::jwk_to_proto;
use mandi_identity::passwords::PasswordHasherPool;
use mandi_identity::service::{Identity, IdentitySettings};
use mandi_identity::store::memory::{MemoryAttempts, MemoryStore};
use mandi_runtime::auth::{TokenVerifier, roles};
use sha2::{Digest, Sha256};

type MemoryIdentity = Identity<MemoryStore, MemoryAttempts>;

fn settings() -> IdentitySettings {
    IdentitySettings {
        access_ttl: Duration::from_secs(900),
        refresh_ttl: Duration::from_secs(86_400),
        service_token_ttl: Duration::from_secs(300),
        max_failures_per_account: 3,
        max_failures_per_source: 100,
        throttle_window: Duration::from_secs(60),
        admin_emails: vec!["root@mandi.example".into()],
        service_clients: HashMap::from([(
            "checkout".to_owned(),
            Sha256::digest(b"checkout-secret-0123456789").into(),
        )]),
    }
}

async fn identity_with(settings: IdentitySettings, argon2_memory_kib: u32) -> Arc<MemoryIdentity> {
    let hasher = PasswordHasherPool::new(argon2_memory_kib, 2).unwrap();
    Arc::new(
        Identity::new(
            MemoryStore::default(),
            MemoryAttempts::default(),
            hasher,
            settings,
        )
        .await
        .unwrap(),
    )
}

async fn identity() -> Arc<MemoryIdentity> {
    identity_with(settings(), 1024).await
}

fn verifier_of(identity: &Arc<MemoryIdentity>) -> TokenVerifier {
    let identity = identity.clone();
    TokenVerifier::new(Arc::new(move || {
        let identity = identity.clone();
        Box::pin(async move {
            identity
                .jwks()
                .await
                .map(|keys| keys.iter().map(jwk_to_proto).collect())
                .map_err(|e| e.to_string())
        })
    }))
}

async fn register(identity: &MemoryIdentity, email: &str) {
    let registration = Registration::parse("Asha Rao", email, "correct horse", None).unwrap();
    identity.register(registration, None).await.unwrap();
}

#[tokio::test]
async fn a_duplicate_email_is_refused_whatever_its_case() {
    let identity = identity().await;
    register(&identity, "asha@example.com").await;
    let again = Registration::parse("Asha", "ASHA@example.com", "another pass", None).unwrap();
    let err = identity.register(again, None).await.unwrap_err();
    assert!(matches!(err, IdentityError::EmailTaken), "{err:?}");
}

#[tokio::test]
async fn a_configured_admin_email_registers_as_admin() {
    let identity = identity().await;
    let admin = Registration::parse("Root", "root@mandi.example", "correct horse", None).unwrap();
    assert_eq!(
        identity.register(admin, None).await.unwrap().role,
        Role::Admin
    );
}

#[tokio::test]
async fn the_admin_email_only_bootstraps_the_first_admin() {
    let mut two = settings();
    two.admin_emails.push("second@mandi.example".into());
    let identity = identity_with(two, 1024).await;
    let first = Registration::parse("Root", "root@mandi.example", "correct horse", None).unwrap();
    assert_eq!(
        identity.register(first, None).await.unwrap().role,
        Role::Admin
    );
    let second =
        Registration::parse("Late", "second@mandi.example", "correct horse", None).unwrap();
    assert_eq!(
        identity.register(second, None).await.unwrap().role,
        Role::Customer
    );
}

#[tokio::test]
async fn registering_again_with_the_same_request_id_returns_the_same_account() {
    let identity = identity().await;
    let registration =
        Registration::parse("Asha", "asha@example.com", "correct horse", None).unwrap();
    let first = identity
        .register(registration.clone(), Some("req-7"))
        .await
        .unwrap();
    let again = identity
        .register(registration.clone(), Some("req-7"))
        .await
        .unwrap();
    assert_eq!(first, again);
    let err = identity
        .register(registration, Some("req-8"))
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::EmailTaken), "{err:?}");
}

#[tokio::test]
async fn parallel_guesses_cannot_slip_under_the_account_limit() {
    let identity = identity().await;
    register(&identity, "asha@example.com").await;
    let guesses = (0..12).map(|_| {
        let identity = identity.clone();
        tokio::spawn(async move {
            identity
                .login("asha@example.com", "guess guess", None)
                .await
        })
    });
    let mut checked = 0;
    for guess in guesses {
        match guess.await.unwrap().unwrap_err() {
            IdentityError::BadCredentials => checked += 1,
            IdentityError::Throttled { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        checked, 3,
        "only the first three guesses reach the password check"
    );
}

#[tokio::test]
async fn login_issues_a_token_that_verifies_with_the_users_role() {
    let identity = identity().await;
    register(&identity, "asha@example.com").await;
    let (pair, user) = identity
        .login("Asha@Example.com", "correct horse", None)
        .await
        .unwrap();
    let claims = verifier_of(&identity)
        .verify(&pair.access_token)
        .await
        .unwrap();
    assert_eq!(claims.sub, user.id.to_string());
    assert_eq!(claims.roles, [roles::CUSTOMER]);
    assert_eq!(claims.exp - claims.iat, 900);
    assert_eq!(pair.expires_in, 900);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_fail_alike_and_take_as_long() {
    // Real argon2 cost, so that skipping the hash for unknown emails would show.
    let mut lenient = settings();
    lenient.max_failures_per_account = 1_000;
    let identity = identity_with(lenient, 19_456).await;
    register(&identity, "asha@example.com").await;

    let mut wrong_password = Vec::new();
    let mut unknown_email = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let a = identity
            .login("asha@example.com", "wrong password", None)
            .await
            .unwrap_err();
        wrong_password.push(started.elapsed());
        let started = Instant::now();
        let b = identity
            .login("nobody@example.com", "wrong password", None)
            .await
            .unwrap_err();
        unknown_email.push(started.elapsed());
        assert_eq!(a.to_string(), b.to_string());
        assert!(matches!(a, IdentityError::BadCredentials));
        assert!(matches!(b, IdentityError::BadCredentials));
    }
    wrong_password.sort();
    unknown_email.sort();
    let ratio = unknown_email[2].as_secs_f64() / wrong_password[2].as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "median unknown-email {:?} vs wrong-password {:?}",
        unknown_email[2],
        wrong_password[2]
    );
}

#[tokio::test]
async fn repeated_failures_throttle_the_account_even_with_the_right_password() {
    let identity = identity().await;
    register(&identity, "asha@example.com").await;
    for _ in 0..3 {
        let err = identity
            .login("asha@example.com", "guess guess", None)
            .await
            .unwrap_err();
        assert!(matches!(err, IdentityError::BadCredentials));
    }
    let err = identity
        .login("asha@example.com", "correct horse", None)
        .await
        .unwrap_err();
    match err {
        IdentityError::Throttled { retry_after_secs } => {
            assert!((1..=60).contains(&retry_after_secs))
        }
        other => panic!("expected throttling, got {other:?}"),
    }
}

#[tokio::test]
async fn failures_from_one_source_throttle_it_across_accounts() {
    let mut strict = settings();
    strict.max_failures_per_source = 2;
    let identity = identity_with(strict, 1024).await;
    register(&identity, "asha@example.com").await;
    for email in ["a@example.com", "b@example.com"] {
        identity
            .login(email, "guess guess", Some("10.0.0.9"))
            .await
            .unwrap_err();
    }
    let err = identity
        .login("asha@example.com", "correct horse", Some("10.0.0.9"))
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::Throttled { .. }), "{err:?}");
    // Another source is unaffected.
    identity
        .login("asha@example.com", "correct horse", Some("10.0.0.10"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_whole_family() {
    let identity = identity().await;
    register(&identity, "asha@example.com").await;
    let (first, _) = identity
        .login("asha@example.com", "correct horse", None)
        .await
        .unwrap();
    let second = identity.refresh(&first.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);

    let reuse = identity.refresh(&first.refresh_token).await.unwrap_err();
    assert!(
        matches!(reuse, IdentityError::RefreshTokenReused),
        "{reuse:?}"
    );
    // The thief's copy and the rightful holder's successor both died with the family.
    let successor = identity.refresh(&second.refresh_token).await.unwrap_err();
    assert!(
        matches!(successor, IdentityError::BadRefreshToken),
        "{successor:?}"
    );
}

#[tokio::test]
async fn logout_ends_the_session() {
    let identity = identity().await;
    register(&identity, "asha@example.com").await;
    let (pair, _) = identity
        .login("asha@example.com", "correct horse", None)
        .await
        .unwrap();
    identity.logout(&pair.refresh_token).await.unwrap();
    identity.logout(&pair.refresh_token).await.unwrap();
    let err = identity.refresh(&pair.refresh_token).await.unwrap_err();
    assert!(matches!(err, IdentityError::BadRefreshToken), "{err:?}");
}

#[tokio::test]
async fn tokens_signed_before_a_rotation_keep_verifying() {
    let identity = identity().await;
    register(&identity, "asha@example.com").await;
    let verifier = verifier_of(&identity);
    let (before, _) = identity
        .login("asha@example.com", "correct horse", None)
        .await
        .unwrap();
    verifier.verify(&before.access_token).await.unwrap();

    let new_kid = identity.rotate_signing_key().await.unwrap();
    let (after, _) = identity
        .login("asha@example.com", "correct horse", None)
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(&after.access_token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()));
    verifier.verify(&after.access_token).await.unwrap();
    verifier.verify(&before.access_token).await.unwrap();
    assert_eq!(identity.jwks().await.unwrap().len(), 2);
}

#[tokio::test]
async fn services_get_tokens_only_with_their_secret() {
    let identity = identity().await;
    let (token, ttl) = identity
        .issue_service_token("checkout", "checkout-secret-0123456789", None)
        .await
        .unwrap();
    assert_eq!(ttl, 300);
    let claims = verifier_of(&identity).verify(&token).await.unwrap();
    assert_eq!(claims.roles, [roles::SERVICE]);
    assert_eq!(claims.svc.as_deref(), Some("checkout"));
    assert_eq!(claims.sub, "service:checkout");

    for (name, secret) in [
        ("checkout", "wrong-secret-0123456789"),
        ("order", "checkout-secret-0123456789"),
    ] {
        let err = identity
            .issue_service_token(name, secret, None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, IdentityError::BadServiceCredentials),
            "{err:?}"
        );
    }
}
