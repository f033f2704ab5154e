-- What a mutation made with an idempotency key (AIP-155) did, so a retry is answered with
-- the original result instead of being applied again. The first record of a key wins.

CREATE TABLE request_records (
    key         text PRIMARY KEY,
    fingerprint text        NOT NULL,
    target_id   uuid        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
