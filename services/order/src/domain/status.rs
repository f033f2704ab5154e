//! The order state machine: which status may follow which, who may make each move, and
//! applying a move to an order (its version, history and the fields a move records).

use chrono::{DateTime, Utc};

use super::{Order, OrderError, StatusChange};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrderStatus {
    /// Recorded by checkout.
    Created,
    /// Payment started, not secured yet.
    PaymentPending,
    /// Payment secured.
    Paid,
    /// Packed at the warehouse.
    Packed,
    /// With the rider.
    Shipped,
    /// Handed to the customer.
    Delivered,
    /// Cancelled before shipping.
    Cancelled,
    /// Money returned.
    Refunded,
}

impl OrderStatus {
    /// Every status, in life order.
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::Created,
        OrderStatus::PaymentPending,
        OrderStatus::Paid,
        OrderStatus::Packed,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Refunded,
    ];

    /// The name used in messages and storage, as in the contract without its prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Created => "CREATED",
            OrderStatus::PaymentPending => "PAYMENT_PENDING",
            OrderStatus::Paid => "PAID",
            OrderStatus::Packed => "PACKED",
            OrderStatus::Shipped => "SHIPPED",
            OrderStatus::Delivered => "DELIVERED",
            OrderStatus::Cancelled => "CANCELLED",
            OrderStatus::Refunded => "REFUNDED",
        }
    }

    /// The status named `name` (see [`OrderStatus::as_str`]).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the state machine allows `self -> to` (a different status). CANCELLED ->
    /// REFUNDED is listed but also needs a paid order (see [`Order::apply`]).
    pub fn can_become(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (Created, PaymentPending | Paid | Cancelled)
                | (PaymentPending, Paid | Cancelled)
                | (Paid, Packed | Cancelled)
                | (Packed, Shipped | Cancelled)
                | (Shipped, Delivered)
                | (Delivered, Refunded)
                | (Cancelled, Refunded)
        )
    }

    /// Whether payment has been secured by the time an order is here (or was, for a
    /// later status that follows only paid ones).
    pub fn is_paid(self) -> bool {
        matches!(
            self,
            OrderStatus::Paid
                | OrderStatus::Packed
                | OrderStatus::Shipped
                | OrderStatus::Delivered
                | OrderStatus::Refunded
        )
    }
}

impl serde::Serialize for OrderStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is moving the order, which narrows the legal moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Admins and internal services: every legal move.
    Staff,
    /// Delivery staff: pickup (PACKED -> SHIPPED) and delivery (SHIPPED -> DELIVERED).
    Delivery,
    /// The ordering customer: cancelling while CREATED, PAYMENT_PENDING or PAID.
    Customer,
}

impl Permit {
    /// Whether this caller may make the (legal) move `from -> to`.
    pub fn allows(self, from: OrderStatus, to: OrderStatus) -> bool {
        use OrderStatus::*;
        match self {
            Permit::Staff => true,
            Permit::Delivery => matches!((from, to), (Packed, Shipped) | (Shipped, Delivered)),
            Permit::Customer => to == Cancelled && matches!(from, Created | PaymentPending | Paid),
        }
    }

    fn who(self) -> &'static str {
        match self {
            Permit::Staff => "staff",
            Permit::Delivery => "delivery staff",
            Permit::Customer => "the customer",
        }
    }
}

/// A requested status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    /// The status to move to.
    pub to: OrderStatus,
    /// Who asks: a user id or `service:{name}`.
    pub actor: String,
    /// What narrows the moves the actor may make.
    pub permit: Permit,
    /// Why; kept in the history (and as the cancel reason when cancelling).
    pub reason: String,
    /// The order must be in this status, else nothing changes.
    pub expected_status: Option<OrderStatus>,
    /// The order must be at this version, else nothing changes.
    pub expected_version: Option<i64>,
    /// Recorded on the order when the status changes.
    pub payment_id: Option<String>,
    /// Recorded on the order when the status changes.
    pub shipment_id: Option<String>,
}

impl StatusUpdate {
    /// A move to `to` by `actor` with `permit`, for `reason`, with no expectations.
    pub fn new(
        to: OrderStatus,
        actor: impl Into<String>,
        permit: Permit,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            to,
            actor: actor.into(),
            permit,
            reason: reason.into(),
            expected_status: None,
            expected_version: None,
            payment_id: None,
            shipment_id: None,
        }
    }
}

// === impl Order ===

impl Order {
    /// Applies `update` at `at`: `Ok(None)` when the order already has the status (a
    /// no-op, so retries are safe), `Ok(Some(change))` after moving it (status, version,
    /// history, update time and the recorded ids changed), or why the move is refused.
    pub fn apply(
        &mut self,
        update: &StatusUpdate,
        at: DateTime<Utc>,
    ) -> Result<Option<StatusChange>, OrderError> {
        let current = self.status;
        if current == update.to {
            return Ok(None);
        }
        let status_differs = update.expected_status.is_some_and(|s| s != current);
        let version_differs = update.expected_version.is_some_and(|v| v != self.version);
        if status_differs || version_differs {
            let expected = match (update.expected_status, update.expected_version) {
                (Some(s), Some(v)) => format!("{s} at version {v}"),
                (Some(s), None) => s.to_string(),
                (None, Some(v)) => format!("version {v}"),
                (None, None) => String::new(),
            };
            return Err(OrderError::Unexpected {
                current,
                version: self.version,
                expected,
            });
        }
        let refund_of_unpaid = current == OrderStatus::Cancelled
            && update.to == OrderStatus::Refunded
            && !self.was_paid();
        if !current.can_become(update.to) || refund_of_unpaid {
            return Err(OrderError::IllegalTransition {
                current,
                requested: update.to,
            });
        }
        if !update.permit.allows(current, update.to) {
            return Err(OrderError::NotPermitted {
                current,
                requested: update.to,
                who: update.permit.who(),
            });
        }
        let change = StatusChange {
            from: Some(current),
            to: update.to,
            at,
            actor: update.actor.clone(),
            reason: update.reason.clone(),
        };
        self.status = update.to;
        self.version += 1;
        self.updated_at = at;
        if update.to == OrderStatus::Cancelled {
            self.cancel_reason = update.reason.clone();
        }
        if let Some(id) = update.payment_id.as_ref().filter(|id| !id.is_empty()) {
            self.payment_id = id.clone();
        }
        if let Some(id) = update.shipment_id.as_ref().filter(|id| !id.is_empty()) {
            self.shipment_id = id.clone();
        }
        self.history.push(change.clone());
        Ok(Some(change))
    }

    /// Whether the order ever reached a paid status.
    pub fn was_paid(&self) -> bool {
        self.history.iter().any(|change| change.to.is_paid())
    }
}

#[cfg(test)]
mod tests;
