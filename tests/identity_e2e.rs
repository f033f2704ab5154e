//! identity end to end: the real server, driven through the SDK, on the embedded default
//! and on real PostgreSQL and Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::identity::v1::{
    GetCurrentUserRequest, GetJwksRequest, GetUserRequest, IssueServiceTokenRequest, LoginRequest,
    RefreshRequest, RegisterRequest, Role, RotateSigningKeyRequest, SetUserRoleRequest,
};
use mandi_testkit::ServerProcess;
use mandi_testkit::mesh::{self, CHECKOUT_SECRET, client, start};
use tonic::Code;
use tonic_types::StatusExt;

async fn start_real_identity() -> ServerProcess {
    start("identity", mesh::real_identity().await)
}

fn register(name: &str, email: &str, password: &str) -> RegisterRequest {
    RegisterRequest {
        name: name.into(),
        email: email.into(),
        password: password.into(),
        ..Default::default()
    }
}

/// A client signed in as `email`.
async fn signed_in(server: &ServerProcess, email: &str) -> Mandi {
    let mandi = client(server);
    mandi_testkit::accounts::sign_in(&mandi, email).await;
    mandi
}

fn login(email: &str, password: &str) -> LoginRequest {
    LoginRequest {
        email: email.into(),
        password: password.into(),
    }
}

fn reason(status: &tonic::Status) -> String {
    status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default()
}

/// register → login → authenticated call → refresh → reuse of the old refresh token refused.
async fn sign_in_flow(server: &ServerProcess) {
    let mandi = client(server);
    let email = format!("asha.{}@example.com", uuid::Uuid::now_v7().simple());
    let registered = mandi
        .identity()
        .register(register("Asha Rao", &email, "correct horse"))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(registered.role, Role::Customer as i32);

    let anonymous = mandi
        .identity()
        .get_current_user(GetCurrentUserRequest {})
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    let session = mandi
        .identity()
        .login(login(&email, "correct horse"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(session.expires_in, 900);
    mandi.set_token(Some(session.access_token.clone())).unwrap();
    let me = mandi
        .identity()
        .get_current_user(GetCurrentUserRequest {})
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(
        (me.id.as_str(), me.email.as_str()),
        (registered.id.as_str(), email.as_str())
    );

    let refreshed = mandi
        .identity()
        .refresh(RefreshRequest {
            refresh_token: session.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(refreshed.refresh_token, session.refresh_token);
    mandi.set_token(Some(refreshed.access_token)).unwrap();
    mandi
        .identity()
        .get_current_user(GetCurrentUserRequest {})
        .await
        .unwrap();

    let reuse = mandi
        .identity()
        .refresh(RefreshRequest {
            refresh_token: session.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(reuse.code(), Code::Unauthenticated);
    assert_eq!(reason(&reuse), "REFRESH_TOKEN_REUSED");
    // Reuse revoked the family: the legitimate successor is dead too.
    let successor = mandi
        .identity()
        .refresh(RefreshRequest {
            refresh_token: refreshed.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(successor.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn the_sign_in_flow_works_on_the_embedded_default() {
    let server = start("all", vec![]);
    sign_in_flow(&server).await;
}

#[tokio::test]
async fn the_sign_in_flow_works_on_postgres_and_redis() {
    let server = start_real_identity().await;
    sign_in_flow(&server).await;
}

#[tokio::test]
async fn bad_registrations_name_every_bad_field() {
    let server = start("all", vec![]);
    let err = client(&server)
        .identity()
        .register(register("", "not-an-email", "short"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: Vec<String> = err
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["name", "email", "password"]);
}

#[tokio::test]
async fn a_retried_registration_with_its_request_id_returns_the_same_account() {
    let server = start_real_identity().await;
    let mandi = client(&server);
    let request = RegisterRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        ..register("A", "retry@example.com", "correct horse")
    };
    let first = mandi
        .identity()
        .register(request.clone())
        .await
        .unwrap()
        .into_inner();
    let again = mandi
        .identity()
        .register(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.user.unwrap().id, again.user.unwrap().id);
}

#[tokio::test]
async fn a_second_account_with_the_same_email_already_exists() {
    let server = start_real_identity().await;
    let mandi = client(&server);
    mandi
        .identity()
        .register(register("A", "same@example.com", "correct horse"))
        .await
        .unwrap();
    let err = mandi
        .identity()
        .register(register("B", "SAME@example.com", "other horse!"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_eq!(reason(&err), "EMAIL_TAKEN");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_give_the_same_error() {
    let server = start_real_identity().await;
    let mandi = client(&server);
    mandi
        .identity()
        .register(register("A", "known@example.com", "correct horse"))
        .await
        .unwrap();
    let wrong = mandi
        .identity()
        .login(login("known@example.com", "wrong horse"))
        .await
        .unwrap_err();
    let unknown = mandi
        .identity()
        .login(login("ghost@example.com", "wrong horse"))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(
        (wrong.code(), wrong.message(), reason(&wrong)),
        (unknown.code(), unknown.message(), reason(&unknown))
    );
}

#[tokio::test]
async fn an_account_is_throttled_after_repeated_failures_in_redis() {
    let server = start_real_identity().await;
    let mandi = client(&server);
    mandi
        .identity()
        .register(register("A", "target@example.com", "correct horse"))
        .await
        .unwrap();
    for _ in 0..5 {
        let err = mandi
            .identity()
            .login(login("target@example.com", "guess guess"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    let err = mandi
        .identity()
        .login(login("target@example.com", "correct horse"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(err.get_details_retry_info().is_some());
}

#[tokio::test]
async fn only_admins_change_roles_and_only_admins_or_services_read_other_users() {
    let server = start_real_identity().await;
    let mandi = client(&server);
    let customer = mandi
        .identity()
        .register(register("C", "customer@example.com", "correct horse"))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    let admin = mandi
        .identity()
        .register(register("Root", "root@mandi.example", "correct horse"))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(admin.role, Role::Admin as i32);
    let promote = SetUserRoleRequest {
        user_id: customer.id.clone(),
        role: Role::Vendor as i32,
        request_id: uuid::Uuid::now_v7().to_string(),
    };

    let as_customer = signed_in(&server, "customer@example.com").await;
    let denied = as_customer
        .identity()
        .set_user_role(promote.clone())
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = as_customer
        .identity()
        .get_user(GetUserRequest {
            user_id: admin.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let as_admin = signed_in(&server, "root@mandi.example").await;
    let promoted = as_admin
        .identity()
        .set_user_role(promote)
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(promoted.role, Role::Vendor as i32);
    let bad_role = as_admin
        .identity()
        .set_user_role(SetUserRoleRequest {
            user_id: customer.id.clone(),
            role: Role::Service as i32,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_role.code(), Code::InvalidArgument);

    let as_service = client(&server);
    let token = as_service
        .identity()
        .issue_service_token(IssueServiceTokenRequest {
            service_name: "checkout".into(),
            client_secret: CHECKOUT_SECRET.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    as_service.set_token(Some(token)).unwrap();
    let seen = as_service
        .identity()
        .get_user(GetUserRequest {
            user_id: customer.id,
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(seen.role, Role::Vendor as i32);
    let wrong_secret = client(&server)
        .identity()
        .issue_service_token(IssueServiceTokenRequest {
            service_name: "checkout".into(),
            client_secret: "not-the-secret-0123456789".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(wrong_secret.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn tokens_signed_before_a_key_rotation_keep_working() {
    let server = start_real_identity().await;
    client(&server)
        .identity()
        .register(register("Root", "root@mandi.example", "correct horse"))
        .await
        .unwrap();
    let admin = signed_in(&server, "root@mandi.example").await;
    let before = admin.token_handle().get().unwrap();
    let kid = admin
        .identity()
        .rotate_signing_key(RotateSigningKeyRequest {})
        .await
        .unwrap()
        .into_inner()
        .kid;

    let after = admin
        .identity()
        .login(login("root@mandi.example", "correct horse"))
        .await
        .unwrap()
        .into_inner()
        .access_token;
    for token in [before, after] {
        admin.set_token(Some(token)).unwrap();
        admin
            .identity()
            .get_current_user(GetCurrentUserRequest {})
            .await
            .unwrap();
    }
    let keys = admin
        .identity()
        .get_jwks(GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].kid, kid);
}
