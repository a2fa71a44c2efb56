-- Key rotation (issue 16). A rotation of one of the token's keys leaves an officer with a new key in
-- that role and their old one in the others, so an officer may hold several ledger keys: keys are
-- now identified by their public key. A key no token key contains any more is retired (kept, never
-- signs again). SQLite cannot change a primary key in place: the table is rebuilt.
CREATE TABLE ledger_keys_by_key (
    public_key  TEXT PRIMARY KEY NOT NULL,
    officer     TEXT NOT NULL,
    algorithm   TEXT NOT NULL,
    evidence    TEXT NOT NULL CHECK (evidence IN ('attested', 'self-reported', 'software')),
    details     TEXT NOT NULL,
    device      TEXT,
    enrolled_at TEXT NOT NULL,
    retired_at  TEXT
);
INSERT INTO ledger_keys_by_key
    (public_key, officer, algorithm, evidence, details, device, enrolled_at, retired_at)
    SELECT public_key, officer, algorithm, evidence, details, device, enrolled_at, NULL FROM ledger_keys;
DROP TABLE ledger_keys;
ALTER TABLE ledger_keys_by_key RENAME TO ledger_keys;
CREATE INDEX ledger_keys_officer ON ledger_keys (officer);

-- The token's keys as the registry holds them, one row per role, first written from the token's
-- creation and then by each executed rotation: its threshold, its holders and their keys (JSON
-- [{officer, public_key}] in the key's order), and the key's protobuf encoding (hex) to compare with
-- the mirror's copy. `confirmed_at` is set once the mirror shows it.
CREATE TABLE token_keys (
    role         TEXT PRIMARY KEY NOT NULL CHECK (role IN ('admin', 'supply', 'pause', 'treasury')),
    threshold    INTEGER NOT NULL,
    members      TEXT NOT NULL,
    protobuf     TEXT NOT NULL,
    proposal     TEXT NOT NULL,
    applied_at   TEXT NOT NULL,
    confirmed_at TEXT
);
