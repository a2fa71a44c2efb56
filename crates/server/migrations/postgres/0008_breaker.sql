-- The emergency breaker, one row for every instance: every state-changing request reads it, and a
-- pause updates it in the transaction that audits it. Approvals hold it (shared) while they relay
-- to the ledger, so a pause is acknowledged only after every approval in flight has finished.
CREATE TABLE breaker (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    tripped            BOOLEAN NOT NULL,
    tripped_by         TEXT,
    tripped_at         TIMESTAMPTZ,
    reason             TEXT,
    ledger_status      TEXT,
    ledger_transaction TEXT
);
INSERT INTO breaker (id, tripped) VALUES (1, FALSE);

-- The TokenPause bodies handed to responders to sign; each answered once.
CREATE TABLE pause_requests (
    id         TEXT PRIMARY KEY NOT NULL,
    responder  TEXT NOT NULL,
    reason     TEXT NOT NULL,
    body       TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
