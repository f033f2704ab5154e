//! The double-entry ledger. Every capture and refund posts one journal whose debits and
//! credits sum to the same amount:
//!
//! | posting | debit | credit |
//! |---|---|---|
//! | card capture | GATEWAY_CLEARING amount | SALES amount − fee, PLATFORM_FEES fee |
//! | cash capture | CASH_ON_DELIVERY amount | SALES amount − fee, PLATFORM_FEES fee |
//! | refund | REFUNDS amount | GATEWAY_CLEARING or CASH_ON_DELIVERY amount |
//!
//! The fee is `fee_bps` basis points of the captured amount, rounded half up; the platform
//! keeps it on refunds. Zero-amount sides are left out (entries are always positive).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Money, Payment, PaymentMethod, Refund};

/// A ledger account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Account {
    /// Owed to the marketplace by the card gateway.
    GatewayClearing,
    /// Cash held by riders.
    CashOnDelivery,
    /// Owed to vendors: sales net of fees.
    Sales,
    /// Returned to customers.
    Refunds,
    /// The marketplace's commission.
    PlatformFees,
}

impl Account {
    /// Every account.
    pub const ALL: [Self; 5] = [
        Self::GatewayClearing,
        Self::CashOnDelivery,
        Self::Sales,
        Self::Refunds,
        Self::PlatformFees,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GatewayClearing => "gateway_clearing",
            Self::CashOnDelivery => "cash_on_delivery",
            Self::Sales => "sales",
            Self::Refunds => "refunds",
            Self::PlatformFees => "platform_fees",
        }
    }

    /// The account stored as `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// Where a payment's money comes in.
    fn source_of(method: PaymentMethod) -> Self {
        match method {
            PaymentMethod::Card => Self::GatewayClearing,
            PaymentMethod::CashOnDelivery => Self::CashOnDelivery,
        }
    }
}

/// Debit or credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Debit.
    Debit,
    /// Credit.
    Credit,
}

impl Direction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debit => "debit",
            Self::Credit => "credit",
        }
    }

    /// The direction stored as `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Debit, Self::Credit]
            .into_iter()
            .find(|d| d.as_str() == name)
    }
}

/// One side of one posting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// UUIDv7.
    pub id: Uuid,
    /// Shared by the entries of one posting.
    pub journal_id: Uuid,
    /// The account.
    pub account: Account,
    /// Debit or credit.
    pub direction: Direction,
    /// Always > 0.
    pub amount: Money,
    /// The payment.
    pub payment_id: Uuid,
    /// The refund, for refund postings.
    pub refund_id: Option<Uuid>,
    /// The order.
    pub order_id: Uuid,
    /// "capture", "refund: …".
    pub description: String,
    /// Posted at.
    pub created_at: DateTime<Utc>,
}

/// Which entries a listing returns (all that are `Some` must match).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EntryFilter {
    /// Only this payment's.
    pub payment_id: Option<Uuid>,
    /// Only this order's.
    pub order_id: Option<Uuid>,
    /// Only on this account.
    pub account: Option<Account>,
    /// Only this journal's.
    pub journal_id: Option<Uuid>,
    /// Posted at or after.
    pub start: Option<DateTime<Utc>>,
    /// Posted before.
    pub end: Option<DateTime<Utc>>,
}

impl EntryFilter {
    /// Whether `entry` passes.
    pub fn matches(&self, entry: &LedgerEntry) -> bool {
        self.payment_id.is_none_or(|p| p == entry.payment_id)
            && self.order_id.is_none_or(|o| o == entry.order_id)
            && self.account.is_none_or(|a| a == entry.account)
            && self.journal_id.is_none_or(|j| j == entry.journal_id)
            && self.start.is_none_or(|s| entry.created_at >= s)
            && self.end.is_none_or(|e| entry.created_at < e)
    }
}

/// `bps` basis points of `amount`, rounded half up (0 ≤ bps ≤ 10 000).
pub fn fee_of(amount: i64, bps: u32) -> i64 {
    let fee = (i128::from(amount) * i128::from(bps) + 5_000) / 10_000;
    i64::try_from(fee).unwrap_or(amount).clamp(0, amount)
}

struct Journal<'a> {
    id: Uuid,
    payment: &'a Payment,
    refund_id: Option<Uuid>,
    description: String,
    at: DateTime<Utc>,
    entries: Vec<LedgerEntry>,
}

impl Journal<'_> {
    fn post(&mut self, account: Account, direction: Direction, minor: i64) {
        if minor <= 0 {
            return;
        }
        self.entries.push(LedgerEntry {
            id: Uuid::now_v7(),
            journal_id: self.id,
            account,
            direction,
            amount: self.payment.amount.with_minor(minor),
            payment_id: self.payment.id,
            refund_id: self.refund_id,
            order_id: self.payment.order_id,
            description: self.description.clone(),
            created_at: self.at,
        });
    }
}

fn journal<'a>(
    payment: &'a Payment,
    refund_id: Option<Uuid>,
    description: String,
    at: DateTime<Utc>,
) -> Journal<'a> {
    Journal {
        id: Uuid::now_v7(),
        payment,
        refund_id,
        description,
        at,
        entries: Vec::new(),
    }
}

/// The journal of capturing `amount` of `payment`, with the platform's `fee_bps`. Debits
/// come first.
pub fn capture_journal(
    payment: &Payment,
    amount: i64,
    fee_bps: u32,
    at: DateTime<Utc>,
) -> Vec<LedgerEntry> {
    let fee = fee_of(amount, fee_bps);
    let mut journal = journal(payment, None, "capture".into(), at);
    journal.post(Account::source_of(payment.method), Direction::Debit, amount);
    journal.post(Account::Sales, Direction::Credit, amount - fee);
    journal.post(Account::PlatformFees, Direction::Credit, fee);
    journal.entries
}

/// The journal of `refund` of `payment`. Debits come first.
pub fn refund_journal(payment: &Payment, refund: &Refund, at: DateTime<Utc>) -> Vec<LedgerEntry> {
    let mut journal = journal(
        payment,
        Some(refund.id),
        format!("refund: {}", refund.reason),
        at,
    );
    journal.post(Account::Refunds, Direction::Debit, refund.amount.minor);
    journal.post(
        Account::source_of(payment.method),
        Direction::Credit,
        refund.amount.minor,
    );
    journal.entries
}

/// Totals of the whole ledger and the journals that do not balance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerBalance {
    /// Sum of all debits, minor units (one currency per marketplace).
    pub debits: i64,
    /// Sum of all credits.
    pub credits: i64,
    /// Journals whose debits differ from their credits.
    pub unbalanced_journals: Vec<Uuid>,
    /// Number of journals.
    pub journals: usize,
}

impl LedgerBalance {
    /// Whether debits equal credits overall and in every journal.
    pub fn is_balanced(&self) -> bool {
        self.debits == self.credits && self.unbalanced_journals.is_empty()
    }
}

/// Checks `entries` the way the stores' `ledger_balances` do.
pub fn balance_of<'a>(entries: impl IntoIterator<Item = &'a LedgerEntry>) -> LedgerBalance {
    let mut journals: BTreeMap<Uuid, i64> = BTreeMap::new();
    let mut balance = LedgerBalance::default();
    for entry in entries {
        let net = journals.entry(entry.journal_id).or_default();
        match entry.direction {
            Direction::Debit => {
                balance.debits += entry.amount.minor;
                *net += entry.amount.minor;
            }
            Direction::Credit => {
                balance.credits += entry.amount.minor;
                *net -= entry.amount.minor;
            }
        }
    }
    balance.journals = journals.len();
    balance.unbalanced_journals = journals
        .into_iter()
        .filter(|(_, net)| *net != 0)
        .map(|(id, _)| id)
        .collect();
    balance
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::{NewPayment, RefundStatus, Settlement, now};

    fn captured(method: PaymentMethod, minor: i64) -> Payment {
        Payment::pending(
            NewPayment {
                order_id: Uuid::now_v7(),
                user_id: Uuid::now_v7(),
                amount: Money::new("INR", minor),
                method,
            },
            "sandbox",
            now(),
        )
        .settle(
            Settlement::Approved {
                reference: String::new(),
                card: None,
            },
            now(),
        )
        .unwrap()
        .capture(minor, now())
        .unwrap()
    }

    #[test]
    fn fees_round_half_up_and_never_exceed_the_amount() {
        assert_eq!(fee_of(10_000, 250), 250);
        assert_eq!(fee_of(199, 250), 5); // 4.975
        assert_eq!(fee_of(19, 250), 0); // 0.475
        assert_eq!(fee_of(20, 250), 1); // 0.5
        assert_eq!(fee_of(1234, 10_000), 1234);
        assert_eq!(fee_of(i64::MAX, 10_000), i64::MAX);
    }

    #[test]
    fn a_card_capture_debits_clearing_and_credits_sales_and_fees() {
        let payment = captured(PaymentMethod::Card, 10_000);
        let entries = capture_journal(&payment, 10_000, 250, now());
        let sides: Vec<_> = entries
            .iter()
            .map(|e| (e.account, e.direction, e.amount.minor))
            .collect();
        assert_eq!(
            sides,
            [
                (Account::GatewayClearing, Direction::Debit, 10_000),
                (Account::Sales, Direction::Credit, 9_750),
                (Account::PlatformFees, Direction::Credit, 250),
            ]
        );
        assert!(balance_of(&entries).is_balanced());
    }

    #[test]
    fn a_cash_refund_credits_the_cash_account_and_a_zero_fee_posts_no_fee_entry() {
        let payment = captured(PaymentMethod::CashOnDelivery, 500);
        let capture = capture_journal(&payment, 500, 0, now());
        assert_eq!(capture.len(), 2);
        assert_eq!(capture[0].account, Account::CashOnDelivery);
        let refund = Refund {
            id: Uuid::now_v7(),
            payment_id: payment.id,
            amount: payment.amount.with_minor(200),
            reason: "bruised".into(),
            status: RefundStatus::Succeeded,
            provider_reference: String::new(),
            failure_message: String::new(),
            created_at: now(),
            completed_at: Some(now()),
        };
        let entries = refund_journal(&payment, &refund, now());
        assert_eq!(entries[0].account, Account::Refunds);
        assert_eq!(entries[1].account, Account::CashOnDelivery);
        assert_eq!(entries[1].description, "refund: bruised");
        assert!(balance_of(capture.iter().chain(&entries)).is_balanced());
    }

    #[test]
    fn an_unbalanced_journal_is_named() {
        let payment = captured(PaymentMethod::Card, 1_000);
        let mut entries = capture_journal(&payment, 1_000, 100, now());
        entries[1].amount.minor -= 1;
        let balance = balance_of(&entries);
        assert!(!balance.is_balanced());
        assert_eq!(balance.unbalanced_journals, [entries[0].journal_id]);
    }
}
