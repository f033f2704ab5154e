-- Orders: one row per order with its snapshots (items, destination as JSON), totals in
-- integer minor units, the status guarded by a version for conditional updates, and the
-- idempotency key of the request that created it.
CREATE TABLE orders (
    id                  uuid PRIMARY KEY,
    customer_id         uuid NOT NULL,
    checkout_id         text NOT NULL,
    vendor_ids          uuid[] NOT NULL,
    items               jsonb NOT NULL,
    destination         jsonb NOT NULL,
    slot_id             text,
    slot_start          timestamptz,
    slot_end            timestamptz,
    currency            text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    subtotal_minor      bigint NOT NULL CHECK (subtotal_minor >= 0),
    delivery_fee_minor  bigint NOT NULL CHECK (delivery_fee_minor >= 0),
    tax_minor           bigint NOT NULL CHECK (tax_minor >= 0),
    discount_minor      bigint NOT NULL CHECK (discount_minor >= 0),
    total_minor         bigint NOT NULL CHECK (total_minor >= 0),
    payment_method      text NOT NULL,
    payment_id          text NOT NULL DEFAULT '',
    shipment_id         text NOT NULL DEFAULT '',
    status              text NOT NULL CHECK (status IN ('CREATED', 'PAYMENT_PENDING', 'PAID',
                            'PACKED', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'REFUNDED')),
    cancel_reason       text NOT NULL DEFAULT '',
    version             bigint NOT NULL CHECK (version >= 1),
    request_key         text NOT NULL,
    request_fingerprint text NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CONSTRAINT orders_request_key UNIQUE (request_key)
);

-- Newest first, for everyone, per customer, per status; vendors by containment.
CREATE INDEX orders_newest ON orders (created_at DESC, id DESC);
CREATE INDEX orders_customer_newest ON orders (customer_id, created_at DESC, id DESC);
CREATE INDEX orders_status_newest ON orders (status, created_at DESC, id DESC);
CREATE INDEX orders_vendor_ids ON orders USING gin (vendor_ids);

-- Every status change, position = the order's version after it (1 = creation), with the
-- key of the request that made it so a retried change applies once.
CREATE TABLE order_status_history (
    order_id            uuid NOT NULL REFERENCES orders (id),
    position            bigint NOT NULL,
    from_status         text,
    to_status           text NOT NULL,
    changed_at          timestamptz NOT NULL,
    actor               text NOT NULL,
    reason              text NOT NULL,
    request_key         text,
    request_fingerprint text,
    PRIMARY KEY (order_id, position)
);
CREATE UNIQUE INDEX order_status_history_request_key
    ON order_status_history (request_key) WHERE request_key IS NOT NULL;

-- The transactional outbox: each event is written in the transaction of the change it
-- announces and published by the relay in sequence order.
CREATE TABLE order_outbox (
    sequence      bigserial PRIMARY KEY,
    order_id      uuid NOT NULL,
    event_id      uuid NOT NULL UNIQUE,
    envelope      bytea NOT NULL,
    trace_headers jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz
);
CREATE INDEX order_outbox_pending ON order_outbox (sequence) WHERE sent_at IS NULL;
