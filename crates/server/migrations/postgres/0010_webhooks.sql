-- Webhook deliveries: queued in the same transaction as the change they announce (an emergency
-- pause), so none is lost to a crash; any instance delivers them, retrying with backoff.
CREATE TABLE webhook_deliveries (
    id           TEXT PRIMARY KEY NOT NULL,
    hook         TEXT NOT NULL,
    event        TEXT NOT NULL,
    payload      TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    next_at      TIMESTAMPTZ NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending',
    delivered_at TIMESTAMPTZ,
    last_error   TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_at);
