-- Ledger keys staged for the next key rotation (issue 16): each officer generates the new key on
-- their own device and hands it in with the device's evidence, judged by the same key policy as an
-- enrolment. At most one per officer (a newer one replaces it); a rotation proposal names them.
CREATE TABLE staged_keys (
    officer    TEXT PRIMARY KEY NOT NULL,
    algorithm  TEXT NOT NULL,
    public_key TEXT NOT NULL UNIQUE,
    evidence   TEXT NOT NULL CHECK (evidence IN ('attested', 'self-reported', 'software')),
    details    TEXT NOT NULL,
    device     TEXT,
    staged_at  TEXT NOT NULL
);
