-- The audit log (RFC 6962). Indices come from audit_tree.size under the writer lock, never from a
-- sequence, so the log has no gaps. Query columns repeat what the canonical leaf says, for filtering.
CREATE TABLE audit_tree (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL,
    root BYTEA NOT NULL
);
INSERT INTO audit_tree (id, size, root)
VALUES (1, 0, '\xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::bytea);

CREATE TABLE audit_entries (
    idx       BIGINT PRIMARY KEY,
    leaf      BYTEA NOT NULL,
    time      TIMESTAMPTZ NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    object    TEXT NOT NULL,
    outcome   TEXT NOT NULL
);
CREATE INDEX audit_entries_time ON audit_entries (time);
CREATE INDEX audit_entries_actor ON audit_entries (actor, idx);
CREATE INDEX audit_entries_action ON audit_entries (action, idx);
CREATE INDEX audit_entries_object ON audit_entries (object, idx);

-- Personal data behind the leaf's commitments; salt and value become NULL on erasure.
CREATE TABLE audit_private (
    idx       BIGINT NOT NULL REFERENCES audit_entries (idx),
    tag       TEXT NOT NULL,
    salt      BYTEA,
    value     TEXT,
    erased_at TIMESTAMPTZ,
    PRIMARY KEY (idx, tag)
);

-- HMAC(index key, tag || 0x00 || value) -> entries, so a value can be searched without plaintext in the log.
CREATE TABLE audit_search (
    mac BYTEA NOT NULL,
    idx BIGINT NOT NULL REFERENCES audit_entries (idx),
    tag TEXT NOT NULL,
    PRIMARY KEY (mac, idx, tag)
);

CREATE TABLE audit_checkpoints (
    size      BIGINT PRIMARY KEY,
    root      BYTEA NOT NULL,
    note      TEXT NOT NULL,
    signed_at TIMESTAMPTZ NOT NULL
);
