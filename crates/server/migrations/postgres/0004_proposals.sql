-- Officers' ledger keys: the Hedera keys on their devices that make up the token's threshold keys.
CREATE TABLE ledger_keys (
    officer     TEXT PRIMARY KEY NOT NULL,
    algorithm   TEXT NOT NULL,
    public_key  TEXT NOT NULL UNIQUE,
    evidence    TEXT NOT NULL CHECK (evidence IN ('attested', 'self-reported', 'software')),
    details     TEXT NOT NULL,
    device      TEXT,
    enrolled_at TIMESTAMPTZ NOT NULL
);

-- The deployment's token, once its creation proposal executed.
CREATE TABLE token (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    token_id   TEXT NOT NULL,
    treasury   TEXT NOT NULL,
    proposal   TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- Proposals: each a ledger schedule that officers approve with ScheduleSign transactions.
CREATE TABLE proposals (
    id             TEXT PRIMARY KEY NOT NULL,
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL,
    proposer       TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    deadline       TIMESTAMPTZ NOT NULL,
    threshold      BIGINT NOT NULL CHECK (threshold >= 1),
    eligible       TEXT NOT NULL,
    payload        TEXT NOT NULL,
    schedule_id    TEXT NOT NULL UNIQUE,
    scheduled_txid TEXT NOT NULL,
    scheduled_body TEXT NOT NULL,
    outcome        TEXT
);
CREATE INDEX proposals_status ON proposals (status, created_at);

-- The exact ScheduleSign bodies handed to officers to sign; a signature counts only over one.
CREATE TABLE approval_requests (
    id         TEXT PRIMARY KEY NOT NULL,
    proposal   TEXT NOT NULL REFERENCES proposals (id),
    officer    TEXT NOT NULL,
    body       TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE approvals (
    proposal       TEXT NOT NULL REFERENCES proposals (id),
    officer        TEXT NOT NULL,
    at             TIMESTAMPTZ NOT NULL,
    device         TEXT,
    transaction_id TEXT NOT NULL,
    PRIMARY KEY (proposal, officer)
);

CREATE TABLE rejections (
    proposal TEXT NOT NULL REFERENCES proposals (id),
    officer  TEXT NOT NULL,
    at       TIMESTAMPTZ NOT NULL,
    reason   TEXT NOT NULL,
    PRIMARY KEY (proposal, officer)
);

-- Invariant 6: a signature counts once. SHA-256 of every signature accepted, by any instance.
CREATE TABLE spent_signatures (
    signature TEXT PRIMARY KEY NOT NULL CHECK (length(signature) = 64),
    proposal  TEXT NOT NULL,
    officer   TEXT NOT NULL,
    at        TIMESTAMPTZ NOT NULL
);
