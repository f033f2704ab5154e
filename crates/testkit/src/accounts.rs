//! Accounts for tests that need a signed-in caller.

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::identity::v1::{LoginRequest, LoginResponse, RegisterRequest, Role};

/// The password every test account gets.
pub const PASSWORD: &str = "correct horse";

/// Registers `email` (as a customer, with [`PASSWORD`]) and signs in; `mandi` sends the
/// access token from then on.
pub async fn sign_up(mandi: &Mandi, email: &str) -> LoginResponse {
    sign_up_as(mandi, email, Role::Customer).await
}

/// Registers `email` with `role` (customer or vendor, with [`PASSWORD`]) and signs in;
/// `mandi` sends the access token from then on.
pub async fn sign_up_as(mandi: &Mandi, email: &str, role: Role) -> LoginResponse {
    mandi
        .identity()
        .register(RegisterRequest {
            name: "Test User".into(),
            email: email.into(),
            password: PASSWORD.into(),
            role: role as i32,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| panic!("register {email}: {status:?}"));
    sign_in(mandi, email).await
}

/// Signs `email` in with [`PASSWORD`]; `mandi` sends the access token from then on.
pub async fn sign_in(mandi: &Mandi, email: &str) -> LoginResponse {
    let login = mandi
        .identity()
        .login(LoginRequest {
            email: email.into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap_or_else(|status| panic!("login {email}: {status:?}"))
        .into_inner();
    mandi
        .set_token(Some(login.access_token.clone()))
        .expect("an access token is a valid header");
    login
}
