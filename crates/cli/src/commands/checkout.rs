//! `checkout`: starts the checkout saga for the signed-in user's cart and prints each
//! step as the server streams it (WatchCheckout), ending with the placed order or why it
//! failed.

use std::io::Write;

use anyhow::Result;
use mandi_sdk::proto::mandi::checkout::v1::{
    Checkout, CheckoutState, CheckoutStep, GetCheckoutRequest, StartCheckoutRequest,
    WatchCheckoutRequest, start_checkout_request::Destination,
};
use mandi_sdk::proto::mandi::payment::v1::{CardDetails, PaymentMethod};

use crate::cli::CheckoutArgs;
use crate::commands::addresses::default_address;
use crate::exit::{CliError, Exit};
use crate::money::format_optional;
use crate::output::{enum_label, print_json, to_json};
use crate::session::{Context, request_id};

/// Times a dropped stream is reopened before giving up; the first message after
/// reconnecting is the current state, so nothing is missed.
const RECONNECTS: usize = 3;

pub async fn run(ctx: &mut Context, args: CheckoutArgs) -> Result<()> {
    ctx.require_login()?;
    let (payment_method, card) = payment(&args)?;
    let address_id = match args.address {
        Some(id) => id,
        None => default_address(ctx).await?,
    };
    let started = ctx
        .mandi
        .checkout()
        .start_checkout(StartCheckoutRequest {
            destination: Some(Destination::AddressId(address_id)),
            delivery_slot_id: args.slot.unwrap_or_default(),
            payment_method: payment_method as i32,
            card,
            request_id: request_id(),
            ..Default::default()
        })
        .await
        .map_err(ctx.status("start the checkout"))?
        .into_inner()
        .checkout
        .unwrap_or_default();
    let mut progress = Progress::new(!ctx.json());
    progress.show(&started);
    let finished = follow(ctx, &started.id, &mut progress).await?;
    if ctx.json() {
        print_json(&to_json(&finished, "mandi.checkout.v1.Checkout")?);
    }
    outcome(&finished)
}

/// Watches the checkout until it ends, reconnecting a dropped stream.
async fn follow(ctx: &Context, checkout_id: &str, progress: &mut Progress) -> Result<Checkout> {
    let mut attempts = 0;
    loop {
        let watched = ctx
            .mandi
            .checkout()
            .watch_checkout(WatchCheckoutRequest {
                checkout_id: checkout_id.to_owned(),
            })
            .await;
        let mut stream = match watched {
            Ok(stream) => stream.into_inner(),
            Err(status) if attempts < RECONNECTS && is_transient(&status) => {
                attempts += 1;
                continue;
            }
            Err(status) => return Err(ctx.status("follow the checkout")(status)),
        };
        loop {
            match stream.message().await {
                Ok(Some(message)) => {
                    let checkout = message.checkout.unwrap_or_default();
                    progress.show(&checkout);
                    if is_final(&checkout) {
                        return Ok(checkout);
                    }
                }
                // The server ended the stream: read where the saga is.
                Ok(None) => return current(ctx, checkout_id).await,
                Err(status) if attempts < RECONNECTS && is_transient(&status) => {
                    attempts += 1;
                    break;
                }
                Err(status) => return Err(ctx.status("follow the checkout")(status)),
            }
        }
    }
}

async fn current(ctx: &Context, checkout_id: &str) -> Result<Checkout> {
    Ok(ctx
        .mandi
        .checkout()
        .get_checkout(GetCheckoutRequest {
            checkout_id: checkout_id.to_owned(),
        })
        .await
        .map_err(ctx.status("read the checkout"))?
        .into_inner()
        .checkout
        .unwrap_or_default())
}

fn is_transient(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded
    )
}

fn is_final(checkout: &Checkout) -> bool {
    matches!(
        checkout.state(),
        CheckoutState::Completed | CheckoutState::Failed
    )
}

/// Exit 0 with the order for COMPLETED; exit 5 saying why for FAILED.
fn outcome(checkout: &Checkout) -> Result<()> {
    match checkout.state() {
        CheckoutState::Completed => Ok(()),
        CheckoutState::Failed => {
            let failure = checkout.failure.clone().unwrap_or_default();
            let mut message = format!(
                "checkout {} failed: {}",
                checkout.id,
                if failure.message.is_empty() {
                    enum_label(failure.reason().as_str_name(), "FAILURE_REASON_")
                } else {
                    failure.message.clone()
                }
            );
            // The server's message names the short lines already when it has one.
            let lines = if failure.message.is_empty() {
                failure.short_lines.as_slice()
            } else {
                &[]
            };
            for line in lines {
                message.push_str(&format!(
                    "\n  product {}: wanted {}, {} available",
                    line.product_id, line.requested_quantity, line.available_quantity
                ));
            }
            message.push_str("\nnothing was charged; your cart is unchanged");
            Err(CliError::new(Exit::Refused, message).into())
        }
        state => Err(CliError::new(
            Exit::Other,
            format!(
                "checkout {} is still {}; see `mandi orders list` in a moment",
                checkout.id,
                enum_label(state.as_str_name(), "CHECKOUT_STATE_")
            ),
        )
        .into()),
    }
}

/// Prints each step once, as it arrives: to stdout for tables, stderr beside JSON.
struct Progress {
    shown: usize,
    to_stdout: bool,
}

impl Progress {
    fn new(to_stdout: bool) -> Self {
        Self {
            shown: 0,
            to_stdout,
        }
    }

    fn show(&mut self, checkout: &Checkout) {
        let steps: Vec<CheckoutStep> = if checkout.steps.is_empty() {
            vec![CheckoutStep {
                state: checkout.state,
                ..Default::default()
            }]
        } else {
            checkout.steps.clone()
        };
        for step in steps.iter().skip(self.shown) {
            let line = describe(step, checkout);
            if self.to_stdout {
                println!("{line}");
                let _ = std::io::stdout().flush();
            } else {
                eprintln!("{line}");
            }
        }
        self.shown = self.shown.max(steps.len());
    }
}

/// One line per step: the server's note says what happened ("stock reserved", "payment
/// … captured"); the first and last steps also name the checkout and the order.
fn describe(step: &CheckoutStep, checkout: &Checkout) -> String {
    let what = match step.state() {
        CheckoutState::Pending => format!("checkout {} started", checkout.id),
        CheckoutState::Completed => format!(
            "order {} placed: {} charged",
            checkout.order_id,
            format_optional(checkout.totals.as_ref().and_then(|t| t.total.as_ref()))
        ),
        CheckoutState::Failed => "checkout failed".to_owned(),
        _ if !step.note.is_empty() => return format!("  • {}", step.note),
        CheckoutState::OrderCreated => format!("order {} created", checkout.order_id),
        CheckoutState::InventoryReserved => "stock reserved".to_owned(),
        CheckoutState::SlotReserved => "delivery slot booked".to_owned(),
        CheckoutState::PaymentConfirmed => "payment confirmed".to_owned(),
        CheckoutState::Compensating => "a step failed: undoing the earlier steps".to_owned(),
        CheckoutState::Unspecified => "waiting".to_owned(),
    };
    if step.note.is_empty() {
        format!("  • {what}")
    } else {
        format!("  • {what} ({})", step.note)
    }
}

/// The payment method and card from `--card`/`--exp` or `--cod`.
fn payment(args: &CheckoutArgs) -> Result<(PaymentMethod, Option<CardDetails>)> {
    match (&args.card, &args.exp, args.cod) {
        (None, None, true) => Ok((PaymentMethod::CashOnDelivery, None)),
        (Some(number), Some(exp), false) => {
            let token: String = number.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
            if token.is_empty() || !token.chars().all(|c| c.is_ascii_digit()) {
                return Err(CliError::invalid("card", "expected the card number's digits").into());
            }
            let (exp_month, exp_year) =
                parse_expiry(exp).map_err(|e| CliError::invalid("exp", e))?;
            Ok((
                PaymentMethod::Card,
                Some(CardDetails {
                    token,
                    exp_month,
                    exp_year,
                }),
            ))
        }
        _ => Err(CliError::new(
            Exit::Usage,
            "pay with either --card <number> --exp MM/YY or --cod",
        )
        .into()),
    }
}

/// `MM/YY` (or `MM/YYYY`) → (month, four-digit year).
pub fn parse_expiry(text: &str) -> Result<(i32, i32), String> {
    let invalid = || format!("expected MM/YY, e.g. 12/30, got {text:?}");
    let (month, year) = text.trim().split_once('/').ok_or_else(invalid)?;
    let month: i32 = month.trim().parse().map_err(|_| invalid())?;
    let year_text = year.trim();
    let year: i32 = year_text.parse().map_err(|_| invalid())?;
    let year = match year_text.len() {
        2 => 2000 + year,
        4 => year,
        _ => return Err(invalid()),
    };
    if !(1..=12).contains(&month) {
        return Err(format!("month must be 01 to 12, got {month}"));
    }
    Ok((month, year))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_reads_two_or_four_digit_years() {
        assert_eq!(parse_expiry("12/30"), Ok((12, 2030)));
        assert_eq!(parse_expiry("01/2031"), Ok((1, 2031)));
        assert_eq!(parse_expiry(" 7/29 "), Ok((7, 2029)));
    }

    #[test]
    fn bad_expiries_say_the_format() {
        assert!(parse_expiry("13/30").unwrap_err().contains("01 to 12"));
        assert!(parse_expiry("1230").unwrap_err().contains("MM/YY"));
        assert!(parse_expiry("12/3").unwrap_err().contains("MM/YY"));
        assert!(parse_expiry("ab/cd").unwrap_err().contains("MM/YY"));
    }

    #[test]
    fn a_failed_checkout_exits_refused_with_its_reason() {
        use mandi_sdk::proto::mandi::checkout::v1::CheckoutFailure;
        let checkout = Checkout {
            id: "c1".into(),
            state: CheckoutState::Failed as i32,
            failure: Some(CheckoutFailure {
                message: "the card was declined".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let error = outcome(&checkout).unwrap_err();
        let cli = error.downcast_ref::<CliError>().unwrap();
        assert_eq!(cli.exit, Exit::Refused);
        assert!(cli.message.contains("the card was declined"));
    }
}
