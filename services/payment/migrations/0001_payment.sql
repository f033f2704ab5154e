-- Payment's schema: payments and their refunds, the double-entry ledger, idempotency keys
-- and the outbox of events, all written in the same transaction as the change they record.

CREATE TABLE payments (
    id                 uuid PRIMARY KEY,
    order_id           uuid        NOT NULL,
    user_id            uuid        NOT NULL,
    currency           text        NOT NULL,
    amount_minor       bigint      NOT NULL CHECK (amount_minor > 0),
    captured_minor     bigint      NOT NULL CHECK (captured_minor BETWEEN 0 AND amount_minor),
    -- Refunds never exceed the capture, whatever the code above does.
    refunded_minor     bigint      NOT NULL CHECK (refunded_minor BETWEEN 0 AND captured_minor),
    method             text        NOT NULL CHECK (method IN ('card', 'cash_on_delivery')),
    status             text        NOT NULL,
    provider           text        NOT NULL,
    provider_reference text        NOT NULL,
    -- Only the gateway's token, the brand and the last four digits: never the number.
    card_token         text,
    card_brand         text,
    card_last4         text CHECK (card_last4 ~ '^[0-9]{4}$'),
    failure_reason     text,
    failure_message    text        NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    authorized_at      timestamptz,
    captured_at        timestamptz
);

CREATE INDEX payments_by_order ON payments (order_id);
CREATE INDEX payments_newest ON payments (created_at DESC, id DESC);
CREATE INDEX payments_by_user ON payments (user_id, created_at DESC, id DESC);
-- At most one payment per order holds or took money; backs up the per-order lock.
CREATE UNIQUE INDEX payments_one_live_per_order ON payments (order_id)
    WHERE status IN ('pending', 'authorized', 'captured', 'partially_refunded', 'refunded');

CREATE TABLE refunds (
    id                 uuid PRIMARY KEY,
    payment_id         uuid        NOT NULL REFERENCES payments (id),
    currency           text        NOT NULL,
    amount_minor       bigint      NOT NULL CHECK (amount_minor > 0),
    reason             text        NOT NULL,
    status             text        NOT NULL,
    provider_reference text        NOT NULL,
    failure_message    text        NOT NULL,
    created_at         timestamptz NOT NULL,
    completed_at       timestamptz
);

CREATE INDEX refunds_by_payment ON refunds (payment_id, created_at, id);

-- Entries are appended, never changed: `position` is the posting order.
CREATE TABLE ledger_entries (
    position     bigserial PRIMARY KEY,
    id           uuid        NOT NULL UNIQUE,
    journal_id   uuid        NOT NULL,
    account      text        NOT NULL,
    direction    text        NOT NULL CHECK (direction IN ('debit', 'credit')),
    currency     text        NOT NULL,
    amount_minor bigint      NOT NULL CHECK (amount_minor > 0),
    payment_id   uuid        NOT NULL REFERENCES payments (id),
    refund_id    uuid REFERENCES refunds (id),
    order_id     uuid        NOT NULL,
    description  text        NOT NULL,
    created_at   timestamptz NOT NULL
);

CREATE INDEX ledger_entries_by_payment ON ledger_entries (payment_id, position);
CREATE INDEX ledger_entries_by_journal ON ledger_entries (journal_id);

CREATE FUNCTION ledger_entries_are_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are never changed or deleted; post a correcting journal';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_are_append_only();

-- Idempotency keys (as Stripe keeps them): `{caller}/{request_id}`, the request's
-- fingerprint and the result returned. A first request inserts its key 'started' in its
-- transaction; a duplicate's insert waits on the unique key until that commits, then reads
-- the 'finished' row and its stored result.
CREATE TABLE idempotency_keys (
    key         text PRIMARY KEY,
    fingerprint text        NOT NULL,
    state       text        NOT NULL CHECK (state IN ('started', 'finished')),
    result      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

-- Events waiting for the relay, in `sequence` order.
CREATE TABLE payment_outbox (
    sequence      bigserial PRIMARY KEY,
    payment_id    uuid        NOT NULL,
    event_type    text        NOT NULL,
    envelope      bytea       NOT NULL,
    trace_headers text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz
);

CREATE INDEX payment_outbox_pending ON payment_outbox (sequence) WHERE sent_at IS NULL;
