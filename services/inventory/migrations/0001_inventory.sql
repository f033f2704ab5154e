-- Warehouses, perishable batches, reservations and the stock adjustment audit trail of the
-- inventory service. Quantities are integers in the product's unit of sale.

CREATE TABLE warehouses (
    id           uuid PRIMARY KEY,
    code         text        NOT NULL CHECK (code ~ '^[A-Z0-9]+(-[A-Z0-9]+)*$'),
    display_name text        NOT NULL,
    line1        text        NOT NULL,
    line2        text        NOT NULL DEFAULT '',
    city         text        NOT NULL,
    region       text        NOT NULL DEFAULT '',
    postal_code  text        NOT NULL DEFAULT '',
    country_code text        NOT NULL CHECK (country_code ~ '^[A-Z]{2}$'),
    latitude_e6  bigint      CHECK (latitude_e6 BETWEEN -90000000 AND 90000000),
    longitude_e6 bigint      CHECK (longitude_e6 BETWEEN -180000000 AND 180000000),
    cold_storage boolean     NOT NULL,
    active       boolean     NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL,
    CHECK ((latitude_e6 IS NULL) = (longitude_e6 IS NULL))
);
CREATE UNIQUE INDEX warehouses_code_key ON warehouses (code);

CREATE TABLE batches (
    id                uuid PRIMARY KEY,
    product_id        uuid        NOT NULL,
    warehouse_id      uuid        NOT NULL REFERENCES warehouses (id),
    received_quantity bigint      NOT NULL CHECK (received_quantity > 0),
    -- The invariants that make overselling impossible even if the code is wrong.
    on_hand_quantity  bigint      NOT NULL CHECK (on_hand_quantity >= 0),
    reserved_quantity bigint      NOT NULL DEFAULT 0 CHECK (reserved_quantity >= 0),
    received_at       timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    supplier_ref      text        NOT NULL CHECK (supplier_ref <> ''),
    cold_chain        boolean     NOT NULL,
    unit_cost_minor   bigint      CHECK (unit_cost_minor >= 0),
    written_off       boolean     NOT NULL DEFAULT false,
    CHECK (reserved_quantity <= on_hand_quantity),
    CHECK (expires_at > received_at)
);
-- Reserve and availability read a product's batches; FEFO order comes with the index.
CREATE INDEX batches_product_fefo_idx ON batches (product_id, expires_at, received_at, id);
-- WriteOffExpired looks only at batches with something left to write off.
CREATE INDEX batches_write_off_idx ON batches (expires_at) WHERE on_hand_quantity > reserved_quantity;

CREATE TABLE reservations (
    order_id         uuid PRIMARY KEY,          -- one reservation per order: the idempotency key
    status           text        NOT NULL
                     CHECK (status IN ('active', 'committed', 'released', 'expired')),
    split_warehouses boolean     NOT NULL,
    expires_at       timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    committed_at     timestamptz,
    released_at      timestamptz,
    release_reason   text
);
-- The sweeper finds due ACTIVE reservations without scanning closed ones.
CREATE INDEX reservations_due_idx ON reservations (expires_at) WHERE status = 'active';

CREATE TABLE reservation_lines (
    order_id   uuid    NOT NULL REFERENCES reservations (order_id) ON DELETE CASCADE,
    position   integer NOT NULL,
    product_id uuid    NOT NULL,
    quantity   bigint  NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, position),
    UNIQUE (order_id, product_id)
);

CREATE TABLE reservation_allocations (
    order_id     uuid        NOT NULL REFERENCES reservations (order_id) ON DELETE CASCADE,
    position     integer     NOT NULL,
    batch_id     uuid        NOT NULL REFERENCES batches (id),
    warehouse_id uuid        NOT NULL,
    product_id   uuid        NOT NULL,
    quantity     bigint      NOT NULL CHECK (quantity > 0),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (order_id, batch_id)
);
CREATE INDEX reservation_allocations_batch_idx ON reservation_allocations (batch_id);

CREATE TABLE stock_adjustments (
    id             uuid PRIMARY KEY,
    batch_id       uuid        NOT NULL REFERENCES batches (id),
    product_id     uuid        NOT NULL,
    warehouse_id   uuid        NOT NULL,
    delta_quantity bigint      NOT NULL CHECK (delta_quantity <> 0),
    on_hand_after  bigint      NOT NULL CHECK (on_hand_after >= 0),
    reason         text        NOT NULL CHECK (reason IN ('spoiled', 'damaged', 'count_correction',
                                                          'returned', 'lost', 'expired', 'other')),
    note           text        NOT NULL DEFAULT '',
    actor          text        NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE INDEX stock_adjustments_batch_idx ON stock_adjustments (batch_id, created_at DESC);
CREATE INDEX stock_adjustments_product_idx ON stock_adjustments (product_id, created_at DESC);
