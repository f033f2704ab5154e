-- Users, refresh tokens and signing keys of the identity service.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    name          text        NOT NULL,
    email         text        NOT NULL,
    password_hash text        NOT NULL,
    role          text        NOT NULL DEFAULT 'customer'
                  CHECK (role IN ('customer', 'vendor', 'admin', 'delivery')),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
-- Emails are stored lower-cased; the index makes uniqueness the database's job.
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE refresh_tokens (
    token_hash text PRIMARY KEY,               -- hex SHA-256 of the opaque token
    family_id  uuid        NOT NULL,           -- one family per sign-in
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    spent_at   timestamptz,                    -- rotated: presenting it again is reuse
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

CREATE TABLE signing_keys (
    kid        text PRIMARY KEY,
    seed       bytea       NOT NULL CHECK (length(seed) = 32),
    created_at timestamptz NOT NULL,
    retired_at timestamptz
);
