-- Register is idempotent per request_id: a retried call returns the account it created.
ALTER TABLE users ADD COLUMN register_request_id text;
CREATE UNIQUE INDEX users_register_request_id_key ON users (register_request_id);
-- Finding whether an admin exists (bootstrap) without scanning every user.
CREATE INDEX users_role_idx ON users (role);
