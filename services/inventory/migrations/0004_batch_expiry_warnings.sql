-- When the sweeper announced that a batch is expiring soon (BatchExpiring), so each batch
-- warns once even when several replicas sweep. NULL: not warned yet.

ALTER TABLE batches ADD COLUMN expiry_warned_at timestamptz;
-- The sweeper looks only at batches that have not warned and can still be sold.
CREATE INDEX batches_expiry_warning_idx ON batches (expires_at)
    WHERE expiry_warned_at IS NULL AND NOT written_off;
