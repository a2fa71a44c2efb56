-- The audit log (RFC 6962). Indices come from audit_tree.size under the writer lock, never from a
-- sequence, so the log has no gaps. Query columns repeat what the canonical leaf says, for filtering.
CREATE TABLE audit_tree (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL,
    root BLOB NOT NULL
);
INSERT INTO audit_tree (id, size, root)
VALUES (1, 0, x'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');

CREATE TABLE audit_entries (
    idx       INTEGER PRIMARY KEY NOT NULL,
    leaf      BLOB NOT NULL,
    time      TEXT NOT NULL,
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
    idx       INTEGER NOT NULL REFERENCES audit_entries (idx),
    tag       TEXT NOT NULL,
    salt      BLOB,
    value     TEXT,
    erased_at TEXT,
    PRIMARY KEY (idx, tag)
);

-- HMAC(index key, tag || 0x00 || value) -> entries, so a value can be searched without plaintext in the log.
CREATE TABLE audit_search (
    mac BLOB NOT NULL,
    idx INTEGER NOT NULL REFERENCES audit_entries (idx),
    tag TEXT NOT NULL,
    PRIMARY KEY (mac, idx, tag)
);

CREATE TABLE audit_checkpoints (
    size      INTEGER PRIMARY KEY NOT NULL,
    root      BLOB NOT NULL,
    note      TEXT NOT NULL,
    signed_at TEXT NOT NULL
);
