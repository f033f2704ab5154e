#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use super::templates::{TEMPLATES, find};
use super::*;

fn recipient(email: Option<&str>, phone: Option<&str>, channels: Vec<ChannelKind>) -> Recipient {
    Recipient {
        user_id: Uuid::now_v7(),
        contact: Contact {
            email: email.map(str::to_owned),
            phone: phone.map(str::to_owned),
        },
        preferences: Preferences {
            channels,
            marketing_opt_in: false,
        },
    }
}

fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Values for every key any template needs.
fn full_data() -> BTreeMap<String, String> {
    TEMPLATES
        .iter()
        .flat_map(|t| t.required.iter())
        .map(|k| ((*k).to_owned(), format!("<{k}>")))
        .collect()
}

#[test]
fn every_template_renders_on_every_channel_without_leftover_placeholders() {
    let data = full_data();
    for template in TEMPLATES {
        for channel in ChannelKind::ALL {
            let rendered = template.render(channel, &data).unwrap();
            for part in [&rendered.subject, &rendered.body, &rendered.html] {
                assert!(
                    !part.contains('{'),
                    "{} on {channel:?} left a placeholder: {part}",
                    template.id
                );
            }
            assert!(!rendered.body.is_empty(), "{} {channel:?}", template.id);
        }
    }
}

#[test]
fn an_email_has_a_subject_text_and_escaped_html() {
    let rendered = find("order_placed")
        .unwrap()
        .render(
            ChannelKind::Email,
            &data(&[
                ("order_id", "o-<1>"),
                ("total", "INR 120.00"),
                ("item_count", "3"),
            ]),
        )
        .unwrap();
    assert_eq!(rendered.subject, "Your mandi order o-<1> is placed");
    assert!(rendered.body.contains("3 item(s), INR 120.00 in total"));
    assert!(
        rendered.html.contains("<b>o-&lt;1&gt;</b>"),
        "{}",
        rendered.html
    );
    assert!(rendered.html.starts_with("<!doctype html>"));
}

#[test]
fn sms_is_short_and_has_no_subject_or_html() {
    let rendered = find("delivery_assigned")
        .unwrap()
        .render(
            ChannelKind::Sms,
            &data(&[("order_id", "o-1"), ("rider", "Ravi"), ("eta", "18:30")]),
        )
        .unwrap();
    assert_eq!(
        rendered.body,
        "mandi: Ravi is delivering order o-1, ETA 18:30."
    );
    assert!(rendered.subject.is_empty() && rendered.html.is_empty());
}

#[test]
fn push_has_a_title_and_whatsapp_a_bold_heading() {
    let values = data(&[("order_id", "o-1"), ("status", "packed")]);
    let template = find("order_status_changed").unwrap();
    let push = template.render(ChannelKind::Push, &values).unwrap();
    assert_eq!(push.subject, "Order o-1 is packed");
    let whatsapp = template.render(ChannelKind::WhatsApp, &values).unwrap();
    assert!(
        whatsapp.body.starts_with("*Order o-1 is packed*\n"),
        "{}",
        whatsapp.body
    );
}

#[test]
fn a_missing_value_names_the_field() {
    let err = find("payment_failed")
        .unwrap()
        .render(ChannelKind::Email, &data(&[("order_id", "o-1")]))
        .unwrap_err();
    let NotificationError::Invalid(violations) = err else {
        panic!("expected invalid");
    };
    let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, ["template_data.amount", "template_data.reason"]);
}

#[test]
fn without_a_choice_a_user_gets_email_and_sms_when_they_have_a_phone() {
    let template = find("order_placed").unwrap();
    let with_phone = recipient(Some("a@x.in"), Some("+919812345678"), vec![]);
    assert_eq!(
        plan(template, &with_phone, &[]),
        [
            (ChannelKind::Email, Plan::Send("a@x.in".into())),
            (ChannelKind::Sms, Plan::Send("+919812345678".into())),
        ]
    );
    let without = recipient(Some("a@x.in"), None, vec![]);
    assert_eq!(
        plan(template, &without, &[]),
        [(ChannelKind::Email, Plan::Send("a@x.in".into()))]
    );
}

#[test]
fn the_users_channels_are_used_in_their_order() {
    let template = find("order_placed").unwrap();
    let user = recipient(
        Some("a@x.in"),
        Some("+919812345678"),
        vec![ChannelKind::Push, ChannelKind::Sms],
    );
    let planned = plan(template, &user, &[]);
    assert_eq!(
        planned,
        [
            (
                ChannelKind::Push,
                Plan::Send(format!("user:{}", user.user_id))
            ),
            (ChannelKind::Sms, Plan::Send("+919812345678".into())),
        ]
    );
}

#[test]
fn a_user_who_chose_whatsapp_gets_it_on_their_phone() {
    let template = find("order_placed").unwrap();
    let user = recipient(
        Some("a@x.in"),
        Some("+919812345678"),
        vec![ChannelKind::WhatsApp],
    );
    assert_eq!(
        plan(template, &user, &[]),
        [(ChannelKind::WhatsApp, Plan::Send("+919812345678".into()))]
    );
}

#[test]
fn a_requested_channel_the_user_opted_out_of_is_suppressed() {
    let template = find("order_placed").unwrap();
    let user = recipient(Some("a@x.in"), None, vec![ChannelKind::Push]);
    let planned = plan(template, &user, &[ChannelKind::Email]);
    assert!(
        matches!(&planned[..], [(ChannelKind::Email, Plan::Suppress(reason))] if reason.contains("opted out of email")),
        "{planned:?}"
    );
}

#[test]
fn a_chosen_channel_without_contact_details_is_suppressed() {
    let template = find("order_placed").unwrap();
    let user = recipient(Some("a@x.in"), None, vec![ChannelKind::Sms]);
    assert!(matches!(
        &plan(template, &user, &[])[..],
        [(ChannelKind::Sms, Plan::Suppress(reason))] if reason.contains("no contact details for sms")
    ));
}

#[test]
fn marketing_goes_only_to_users_who_opted_in() {
    let template = find("promotion").unwrap();
    let mut user = recipient(Some("a@x.in"), None, vec![]);
    assert!(matches!(
        &plan(template, &user, &[])[..],
        [(ChannelKind::Email, Plan::Suppress(reason))] if reason.contains("marketing")
    ));
    user.preferences.marketing_opt_in = true;
    assert_eq!(
        plan(template, &user, &[]),
        [(ChannelKind::Email, Plan::Send("a@x.in".into()))]
    );
}

fn pending() -> Delivery {
    Delivery::queued(
        ChannelKind::Email,
        "a@x.in",
        "order_placed",
        Rendered::default(),
        3,
        Utc::now(),
    )
}

#[test]
fn transient_failures_back_off_exponentially_then_fail() {
    let mut d = pending();
    let now = Utc::now();
    let backoff = Duration::from_secs(2);
    d.attempted(now, Err(("421 slow down".into(), true)), backoff);
    assert_eq!(d.status, DeliveryStatus::Retrying);
    assert_eq!(d.next_attempt_at, Some(now + chrono::Duration::seconds(2)));
    d.attempted(now, Err(("421 slow down".into(), true)), backoff);
    assert_eq!(d.next_attempt_at, Some(now + chrono::Duration::seconds(4)));
    d.attempted(now, Err(("421 slow down".into(), true)), backoff);
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Failed, 3));
    assert_eq!(d.last_error, "421 slow down");
}

#[test]
fn a_permanent_failure_fails_at_once_and_a_success_is_sent() {
    let mut d = pending();
    d.attempted(
        Utc::now(),
        Err(("550 no such user".into(), false)),
        Duration::from_secs(1),
    );
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Failed, 1));
    let mut d = pending();
    d.attempted(Utc::now(), Ok(()), Duration::from_secs(1));
    assert_eq!(d.status, DeliveryStatus::Sent);
    assert!(d.sent_at.is_some());
}
