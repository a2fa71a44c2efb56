-- Key rotation (issue 16). A rotation of one of the token's keys leaves an officer with a new key in
-- that role and their old one in the others, so an officer may hold several ledger keys: keys are
-- now identified by their public key. A key no token key contains any more is retired (kept, never
-- signs again).
ALTER TABLE ledger_keys DROP CONSTRAINT ledger_keys_pkey;
ALTER TABLE ledger_keys ADD PRIMARY KEY (public_key);
ALTER TABLE ledger_keys ADD COLUMN retired_at TIMESTAMPTZ;
CREATE INDEX ledger_keys_officer ON ledger_keys (officer);

-- The token's keys as the registry holds them, one row per role, first written from the token's
-- creation and then by each executed rotation: its threshold, its holders and their keys (JSON
-- [{officer, public_key}] in the key's order), and the key's protobuf encoding (hex) to compare with
-- the mirror's copy. `confirmed_at` is set once the mirror shows it.
CREATE TABLE token_keys (
    role         TEXT PRIMARY KEY NOT NULL CHECK (role IN ('admin', 'supply', 'pause', 'treasury')),
    threshold    BIGINT NOT NULL,
    members      TEXT NOT NULL,
    protobuf     TEXT NOT NULL,
    proposal     TEXT NOT NULL,
    applied_at   TIMESTAMPTZ NOT NULL,
    confirmed_at TIMESTAMPTZ
);
