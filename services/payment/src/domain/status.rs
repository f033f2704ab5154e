//! The named states and kinds of payments and refunds, with the names they are stored
//! under.

use serde::{Deserialize, Serialize};

/// How a customer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentMethod {
    /// A card through the gateway.
    Card,
    /// Cash handed to the rider.
    CashOnDelivery,
}

impl PaymentMethod {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Card => "card",
            Self::CashOnDelivery => "cash_on_delivery",
        }
    }

    /// The method stored as `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Card, Self::CashOnDelivery]
            .into_iter()
            .find(|m| m.as_str() == name)
    }
}

/// Where a payment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentStatus {
    /// Recorded; the gateway has not answered.
    Pending,
    /// Funds held (card) or payment on delivery agreed (cash).
    Authorized,
    /// Money taken.
    Captured,
    /// Part of the captured amount returned.
    PartiallyRefunded,
    /// All of the captured amount returned.
    Refunded,
    /// The gateway refused the card.
    Declined,
    /// The gateway could not be reached or failed.
    Failed,
    /// The authorization was cancelled before capture.
    Voided,
}

impl PaymentStatus {
    /// Every status.
    pub const ALL: [Self; 8] = [
        Self::Pending,
        Self::Authorized,
        Self::Captured,
        Self::PartiallyRefunded,
        Self::Refunded,
        Self::Declined,
        Self::Failed,
        Self::Voided,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Authorized => "authorized",
            Self::Captured => "captured",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Refunded => "refunded",
            Self::Declined => "declined",
            Self::Failed => "failed",
            Self::Voided => "voided",
        }
    }

    /// The status stored as `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// How messages name it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::PartiallyRefunded => "partially refunded",
            other => other.as_str(),
        }
    }

    /// Whether money is held or taken: an order with such a payment needs no other.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            Self::Pending
                | Self::Authorized
                | Self::Captured
                | Self::PartiallyRefunded
                | Self::Refunded
        )
    }
}

/// Why a payment was declined or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureReason {
    /// Declined without a more specific reason.
    CardDeclined,
    /// Not enough funds.
    InsufficientFunds,
    /// Expired, as the issuer sees it.
    ExpiredCard,
    /// The number is not a card the issuer knows.
    InvalidCard,
    /// Reported lost or stolen.
    StolenCard,
    /// The gateway did not answer in time.
    GatewayTimeout,
    /// The gateway answered with an error.
    GatewayError,
}

impl FailureReason {
    /// Every reason.
    pub const ALL: [Self; 7] = [
        Self::CardDeclined,
        Self::InsufficientFunds,
        Self::ExpiredCard,
        Self::InvalidCard,
        Self::StolenCard,
        Self::GatewayTimeout,
        Self::GatewayError,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CardDeclined => "card_declined",
            Self::InsufficientFunds => "insufficient_funds",
            Self::ExpiredCard => "expired_card",
            Self::InvalidCard => "invalid_card",
            Self::StolenCard => "stolen_card",
            Self::GatewayTimeout => "gateway_timeout",
            Self::GatewayError => "gateway_error",
        }
    }

    /// The reason stored as `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// How messages name it.
    pub fn describe(self) -> String {
        self.as_str().replace('_', " ")
    }

    /// Whether the gateway answered with a refusal (DECLINED) rather than failing.
    pub fn is_decline(self) -> bool {
        !matches!(self, Self::GatewayTimeout | Self::GatewayError)
    }
}

/// Where a refund is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefundStatus {
    /// Sent, not confirmed.
    Pending,
    /// Money returned.
    Succeeded,
    /// Nothing returned.
    Failed,
}

impl RefundStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// The status stored as `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Pending, Self::Succeeded, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}
