-- Checkout sagas: the whole saga as a JSON document, rewritten after every step under an
-- optimistic version check, with a lease naming the orchestrator that runs it.
CREATE TABLE checkouts (
    id          uuid PRIMARY KEY,
    user_id     uuid        NOT NULL,
    state       text        NOT NULL,
    saga        jsonb       NOT NULL,
    version     bigint      NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    lease_owner uuid        NOT NULL,
    lease_until timestamptz NOT NULL
);

-- Listings, newest first, per user or overall.
CREATE INDEX checkouts_user_created ON checkouts (user_id, created_at DESC, id DESC);
CREATE INDEX checkouts_created ON checkouts (created_at DESC, id DESC);
-- The recovery loop looks for unfinished sagas whose lease ran out.
CREATE INDEX checkouts_unfinished ON checkouts (lease_until)
    WHERE state NOT IN ('COMPLETED', 'FAILED');
