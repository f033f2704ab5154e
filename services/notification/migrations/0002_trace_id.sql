-- The W3C trace id of what caused a delivery (the event's traceparent), to find a
-- checkout's notifications from its trace.
ALTER TABLE deliveries ADD COLUMN trace_id TEXT NOT NULL DEFAULT '';
