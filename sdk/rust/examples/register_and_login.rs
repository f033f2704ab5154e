//! Registers an account, signs in, and reads the account back with the new token.
//!
//! ```sh
//! MANDI_ENDPOINT=http://127.0.0.1:50051 cargo run -p mandi-sdk --example register_and_login
//! ```

use anyhow::Context as _;
use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::identity::v1::{
    GetCurrentUserRequest, LoginRequest, RegisterRequest, Role,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let endpoint =
        std::env::var("MANDI_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:50051".to_owned());
    let mandi = Mandi::builder()
        .endpoint(&endpoint)
        .connect_lazy()
        .context("configuring the mandi client")?;

    // A fresh address per run, so the example can run again against the same server.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("reading the clock")?
        .as_millis();
    let email = format!("example-{nonce}@example.com");
    let password = "correct horse battery staple".to_owned();

    let registered = mandi
        .identity()
        .register(RegisterRequest {
            name: "Example Shopper".into(),
            email: email.clone(),
            password: password.clone(),
            role: Role::Customer as i32,
            // Makes the call safe to retry: a repeat returns the same account.
            request_id: format!("example-{nonce}"),
        })
        .await
        .with_context(|| format!("registering {email} at {endpoint}"))?
        .into_inner();
    println!("registered {:?}", registered.user.map(|user| user.id));

    let login = mandi
        .identity()
        .login(LoginRequest {
            email: email.clone(),
            password,
        })
        .await
        .with_context(|| format!("signing in as {email}"))?
        .into_inner();
    println!("signed in; the access token lasts {} s", login.expires_in);

    // Every client of `mandi` sends the token from now on.
    mandi
        .set_token(Some(login.access_token))
        .context("storing the access token")?;

    let me = mandi
        .identity()
        .get_current_user(GetCurrentUserRequest {})
        .await
        .context("reading the signed-in account")?
        .into_inner();
    let user = me.user.context("the server returned no user")?;
    println!(
        "current user: {} <{}> ({})",
        user.name, user.email, user.resource_name
    );
    Ok(())
}
