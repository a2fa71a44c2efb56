-- The approval policy in force, one row per version; the token's memo anchors the newest one's
-- document (its SHA-256). A change is a proposal the current quorum executes on the ledger.
CREATE TABLE policies (
    version    BIGINT  PRIMARY KEY NOT NULL CHECK (version >= 1),
    document   TEXT NOT NULL,
    sha256     TEXT NOT NULL CHECK (length(sha256) = 64),
    proposal   TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
);

-- An approval the server checked and counted but did not send to the ledger (an endorsement: the
-- policy asks more approvals than the token's key).
ALTER TABLE approvals ADD COLUMN relayed BOOLEAN NOT NULL DEFAULT TRUE;
