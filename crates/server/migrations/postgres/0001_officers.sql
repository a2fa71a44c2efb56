-- The officer registry: who may connect, keyed by client certificate fingerprint.
CREATE TABLE officers (
    fingerprint TEXT PRIMARY KEY CHECK (length(fingerprint) = 64),
    name        TEXT NOT NULL UNIQUE,
    roles       TEXT NOT NULL,
    disabled    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL
);
