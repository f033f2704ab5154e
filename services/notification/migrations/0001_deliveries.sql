-- What caused deliveries: an event id or a SendNotification request id, recorded in the
-- transaction of its deliveries so the same event or request is recorded once.
CREATE TABLE processed_sources (
    source_key   TEXT PRIMARY KEY,
    fingerprint  TEXT NOT NULL DEFAULT '',
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The delivery log: one message to one recipient on one channel, with its attempts.
-- A developer reads what was "sent" by the local channels here too (subject, body, html).
CREATE TABLE deliveries (
    id              UUID PRIMARY KEY,
    source_key      TEXT NOT NULL REFERENCES processed_sources (source_key),
    position        INT NOT NULL,
    user_id         UUID,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    template        TEXT NOT NULL,
    template_data   TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    html            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INT NOT NULL,
    max_attempts    INT NOT NULL,
    last_error      TEXT NOT NULL,
    next_attempt_at TIMESTAMPTZ,
    event_id        TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ
);

CREATE INDEX deliveries_by_source ON deliveries (source_key, position);
CREATE INDEX deliveries_by_user ON deliveries (user_id, id DESC);
CREATE INDEX deliveries_open ON deliveries (id) WHERE status IN ('pending', 'retrying');
