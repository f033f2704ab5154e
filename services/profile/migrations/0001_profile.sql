-- Profiles, address books and preferences, keyed by the identity user id.

CREATE TABLE profiles (
    user_id      uuid PRIMARY KEY,
    display_name text        NOT NULL DEFAULT '',
    phone        text        NOT NULL DEFAULT '',
    avatar_url   text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE addresses (
    id                    uuid PRIMARY KEY,
    user_id               uuid        NOT NULL REFERENCES profiles (user_id) ON DELETE CASCADE,
    label                 text        NOT NULL,
    line1                 text        NOT NULL,
    line2                 text        NOT NULL,
    city                  text        NOT NULL,
    region                text        NOT NULL,
    postal_code           text        NOT NULL,
    country_code          text        NOT NULL CHECK (country_code ~ '^[A-Z]{2}$'),
    latitude_e6           bigint      CHECK (latitude_e6 BETWEEN -90000000 AND 90000000),
    longitude_e6          bigint      CHECK (longitude_e6 BETWEEN -180000000 AND 180000000),
    recipient_name        text        NOT NULL,
    recipient_phone       text        NOT NULL,
    delivery_instructions text        NOT NULL,
    is_default            boolean     NOT NULL DEFAULT false,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    CHECK ((latitude_e6 IS NULL) = (longitude_e6 IS NULL))
);

-- The database itself refuses a second default address for a user; the code keeps one
-- (first address, promotion on delete) under a lock on the user's profiles row.
CREATE UNIQUE INDEX addresses_one_default_per_user ON addresses (user_id) WHERE is_default;

-- The listing order: the default first, then newest first.
CREATE INDEX addresses_listing ON addresses (user_id, is_default DESC, created_at DESC, id DESC);

CREATE TABLE preferences (
    user_id               uuid PRIMARY KEY REFERENCES profiles (user_id) ON DELETE CASCADE,
    prefer_organic        boolean     NOT NULL,
    prefer_seasonal       boolean     NOT NULL,
    prefer_local          boolean     NOT NULL,
    dietary_tags          text[]      NOT NULL,
    window_start_minute   integer     CHECK (window_start_minute BETWEEN 0 AND 1439),
    window_end_minute     integer     CHECK (window_end_minute BETWEEN 1 AND 1440),
    notification_channels text[]      NOT NULL,
    marketing_opt_in      boolean     NOT NULL,
    updated_at            timestamptz NOT NULL,
    CHECK ((window_start_minute IS NULL) = (window_end_minute IS NULL)),
    CHECK (window_end_minute > window_start_minute)
);

-- What a mutation made with an idempotency key (AIP-155) did, so a retry is answered with
-- the original result instead of being applied again. The first record of a key wins.
CREATE TABLE request_records (
    key         text PRIMARY KEY,
    fingerprint text        NOT NULL,
    target_id   uuid,
    created_at  timestamptz NOT NULL DEFAULT now()
);
