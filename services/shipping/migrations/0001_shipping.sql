-- Shipping: slots that places have been held in, the holds, shipments, riders,
-- idempotency keys and the outbox of events.

-- A slot row exists once a place was first held in it; it is what concurrent holds lock.
CREATE TABLE slots (
    id          text PRIMARY KEY,
    zone_id     text        NOT NULL,
    start_at    timestamptz NOT NULL,
    end_at      timestamptz NOT NULL,
    capacity    integer     NOT NULL CHECK (capacity > 0)
);

CREATE TABLE slot_holds (
    order_id      uuid PRIMARY KEY,
    slot_id       text        NOT NULL REFERENCES slots (id),
    status        text        NOT NULL CHECK (status IN ('HELD', 'CONFIRMED', 'RELEASED', 'EXPIRED')),
    weight_grams  bigint      NOT NULL CHECK (weight_grams >= 0),
    cold_chain    boolean     NOT NULL,
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
-- Counting a slot's live places reads only these.
CREATE INDEX slot_holds_live_idx ON slot_holds (slot_id) WHERE status IN ('HELD', 'CONFIRMED');

-- The shipment itself is a document (the domain value); the columns are what queries
-- filter, sort and compare-and-set on.
CREATE TABLE shipments (
    id          uuid PRIMARY KEY,
    order_id    uuid        NOT NULL UNIQUE,
    user_id     uuid        NOT NULL,
    rider_id    uuid,
    status      text        NOT NULL,
    slot_start  timestamptz NOT NULL,
    version     bigint      NOT NULL,
    body        jsonb       NOT NULL
);
CREATE INDEX shipments_slot_idx ON shipments (slot_start, id);
CREATE INDEX shipments_user_idx ON shipments (user_id, slot_start, id);
CREATE INDEX shipments_rider_idx ON shipments (rider_id, slot_start, id) WHERE rider_id IS NOT NULL;

CREATE TABLE riders (
    id            uuid PRIMARY KEY,
    user_id       uuid   NOT NULL UNIQUE,
    display_name  text   NOT NULL,
    version       bigint NOT NULL,
    body          jsonb  NOT NULL
);
CREATE INDEX riders_name_idx ON riders (display_name, id);

CREATE TABLE request_keys (
    key          text PRIMARY KEY,
    fingerprint  text        NOT NULL,
    response     bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE shipping_outbox (
    sequence       bigserial PRIMARY KEY,
    envelope       bytea       NOT NULL,
    trace_headers  text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    sent_at        timestamptz
);
CREATE INDEX shipping_outbox_pending_idx ON shipping_outbox (sequence) WHERE sent_at IS NULL;
