-- The officer registry: who may connect, keyed by client certificate fingerprint.
CREATE TABLE officers (
    fingerprint TEXT PRIMARY KEY NOT NULL CHECK (length(fingerprint) = 64),
    name        TEXT NOT NULL UNIQUE,
    roles       TEXT NOT NULL,
    disabled    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TEXT NOT NULL
);
