//! `register`, `login`, `logout`, `whoami`: accounts and the stored session.

use std::io::BufRead;

use anyhow::{Context as _, Result};
use mandi_sdk::proto::mandi::cart::v1::MergeGuestCartRequest;
use mandi_sdk::proto::mandi::identity::v1::{
    GetCurrentUserRequest, LoginRequest, LogoutRequest, RegisterRequest, Role, User,
};
use tonic::Code;

use crate::cli::{LoginArgs, PasswordArgs, RegisterArgs};
use crate::config::Session;
use crate::exit::{CliError, Exit};
use crate::output::{enum_label, print_fields};
use crate::session::{Context, request_id};

pub async fn register(ctx: &mut Context, args: RegisterArgs) -> Result<()> {
    let password = read_password(&args.password)?;
    let role = if args.vendor {
        Role::Vendor
    } else {
        Role::Customer
    };
    let user = ctx
        .mandi
        .identity()
        .register(RegisterRequest {
            name: args.name,
            email: args.email,
            password,
            role: role as i32,
            request_id: request_id(),
        })
        .await
        .map_err(ctx.status("register"))?
        .into_inner()
        .user
        .unwrap_or_default();
    ctx.print(&user, "mandi.identity.v1.User", |user| {
        println!(
            "registered {} <{}> as {}; now run `mandi login --email {}`",
            user.name,
            user.email,
            role_label(user),
            user.email
        );
    })?;
    Ok(())
}

pub async fn login(ctx: &mut Context, args: LoginArgs) -> Result<()> {
    let password = read_password(&args.password)?;
    let login = ctx
        .mandi
        .identity()
        .login(LoginRequest {
            email: args.email,
            password,
        })
        .await
        .map_err(|status| match status.code() {
            Code::Unauthenticated => CliError::new(
                Exit::Unauthenticated,
                format!(
                    "log in: {}: check both and try again, or create an account with `mandi \
                     register`",
                    status.message()
                ),
            )
            .into(),
            _ => ctx.status("log in")(status),
        })?
        .into_inner();
    let user = login.user.clone().unwrap_or_default();
    ctx.sign_in(Session {
        email: user.email.clone(),
        access_token: login.access_token,
        refresh_token: login.refresh_token,
        expires_at: chrono::Utc::now().timestamp() + login.expires_in,
        rider_id: None,
    })?;
    // Keep the session even if merging the guest cart fails below.
    ctx.save()?;
    let merged = merge_guest_cart(ctx).await?;
    ctx.print(&user, "mandi.identity.v1.User", |user| {
        println!(
            "logged in as {} <{}> ({})",
            user.name,
            user.email,
            role_label(user)
        );
        if let Some(count) = merged {
            println!("merged your guest cart: {count} products in your cart now");
        }
    })?;
    Ok(())
}

/// Moves the remembered guest cart into the account's cart and forgets it; returns the
/// number of lines of the merged cart, or None when there was no guest cart.
async fn merge_guest_cart(ctx: &mut Context) -> Result<Option<i32>> {
    let Some(guest_cart_id) = ctx.config.guest_cart_id.clone() else {
        return Ok(None);
    };
    let merged = ctx
        .mandi
        .cart()
        .merge_guest_cart(MergeGuestCartRequest {
            guest_cart_id,
            request_id: request_id(),
        })
        .await;
    let count = match merged {
        Ok(response) => Some(response.into_inner().cart.map_or(0, |c| c.item_count)),
        // The guest cart expired or was merged already: nothing left to move.
        Err(status) if status.code() == Code::NotFound => None,
        Err(status) => return Err(ctx.status("merge your guest cart")(status)),
    };
    ctx.config.guest_cart_id = None;
    ctx.save()?;
    Ok(count)
}

pub async fn logout(ctx: &mut Context) -> Result<()> {
    let Some(session) = ctx.config.session.take() else {
        println!("not logged in");
        return Ok(());
    };
    let revoked = ctx
        .mandi
        .identity()
        .logout(LogoutRequest {
            refresh_token: session.refresh_token,
        })
        .await;
    ctx.save()?;
    if let Err(status) = revoked {
        let error = ctx.status("revoke the session on the server")(status);
        eprintln!("warning: {error:#}; the session is forgotten here anyway");
    }
    println!("logged out {}", session.email);
    Ok(())
}

pub async fn whoami(ctx: &mut Context) -> Result<()> {
    ctx.require_login()?;
    let user = ctx
        .mandi
        .identity()
        .get_current_user(GetCurrentUserRequest {})
        .await
        .map_err(ctx.status("whoami"))?
        .into_inner()
        .user
        .unwrap_or_default();
    ctx.print(&user, "mandi.identity.v1.User", |user| {
        print_fields(&[
            ("name", user.name.clone()),
            ("email", user.email.clone()),
            ("role", role_label(user)),
            ("id", user.id.clone()),
        ]);
    })?;
    Ok(())
}

fn role_label(user: &User) -> String {
    enum_label(user.role().as_str_name(), "ROLE_")
}

/// The password from standard input (`--password-stdin`), `MANDI_PASSWORD`, or a prompt
/// on the terminal that does not echo.
fn read_password(args: &PasswordArgs) -> Result<String> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else if let Some(password) = std::env::var("MANDI_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
    {
        password
    } else {
        rpassword::prompt_password("password: ").map_err(|_| {
            CliError::new(
                Exit::Usage,
                "no password: type it at a terminal, pipe it with --password-stdin, or set \
                 MANDI_PASSWORD",
            )
        })?
    };
    if password.is_empty() {
        return Err(CliError::invalid("password", "must not be empty").into());
    }
    Ok(password)
}
