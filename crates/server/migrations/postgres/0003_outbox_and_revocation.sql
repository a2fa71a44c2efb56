-- Audit entries wait here, written in the same transaction as the change they record, until the
-- sequencer moves them into the Merkle log (and deletes them) in the same transaction as the leaf.
CREATE TABLE audit_outbox (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry     TEXT NOT NULL,
    queued_at TIMESTAMPTZ NOT NULL
);
-- Which outbox row a leaf came from, so whoever queued it can learn its index.
ALTER TABLE audit_entries ADD COLUMN outbox_id BIGINT;
CREATE UNIQUE INDEX audit_entries_outbox ON audit_entries (outbox_id);

-- SHA-256 of the certificate's SubjectPublicKeyInfo: one key, one person (NULL for entries made
-- before this was recorded).
ALTER TABLE officers ADD COLUMN public_key TEXT CHECK (public_key IS NULL OR length(public_key) = 64);
CREATE UNIQUE INDEX officers_public_key ON officers (public_key);

-- Certificates that must never be accepted again (replaced, revoked); checked in the TLS handshake.
CREATE TABLE revoked_certificates (
    fingerprint TEXT PRIMARY KEY CHECK (length(fingerprint) = 64),
    name        TEXT NOT NULL,
    revoked_at  TIMESTAMPTZ NOT NULL,
    reason      TEXT NOT NULL
);
