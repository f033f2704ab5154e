//! Property tests of identity's edge: registrations, emails and passwords from arbitrary
//! requests parse or are refused field by field, and the access-token verifier refuses
//! arbitrary and mangled tokens without panicking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use mandi_identity::domain::{Email, Password, Registration, Role};
use mandi_runtime::auth::TokenVerifier;
use mandi_sdk::proto::mandi::identity::v1 as pb;
use mandi_testkit::fuzz;
use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A verifier whose key set holds one made-up key: tokens get as far as signature checks.
fn verifier() -> TokenVerifier {
    TokenVerifier::new(Arc::new(|| {
        Box::pin(async {
            Ok(vec![pb::Jwk {
                kid: "k1".into(),
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into(),
                alg: "EdDSA".into(),
                r#use: "sig".into(),
            }])
        })
    }))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn registrations_parse_or_name_each_bad_field(seed in any::<u64>()) {
        let request: pb::RegisterRequest =
            fuzz::request("mandi.identity.v1.RegisterRequest", seed);
        let role = match request.role {
            2 => Some(Role::Vendor),
            _ => Some(Role::Customer),
        };
        if let Err(violations) =
            Registration::parse(&request.name, &request.email, &request.password, role)
        {
            prop_assert!(!violations.is_empty());
            for v in &violations {
                let path = fuzz::check_field_path("mandi.identity.v1.RegisterRequest", v.field);
                prop_assert!(path.is_ok(), "{path:?}");
            }
        }
    }

    #[test]
    fn emails_and_passwords_parse_or_name_their_field(raw in ".{0,300}") {
        if let Err(v) = Email::parse(&raw) {
            prop_assert_eq!(v.field, "email");
        }
        if let Err(v) = Password::parse(&raw) {
            prop_assert_eq!(v.field, "password");
        }
    }

    #[test]
    fn arbitrary_tokens_are_refused_without_panicking(
        token in prop_oneof![
            ".{0,200}",
            "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,90}",
            // A header naming the published kid, the rest random.
            "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,90}",
        ]
    ) {
        let verifier = verifier();
        let verdict = runtime().block_on(verifier.verify(&token));
        prop_assert!(verdict.is_err(), "{token:?} verified");
    }
}
