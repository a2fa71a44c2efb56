-- Admin and treasury rotations (issue 16): Hedera asks the new key itself to sign. A request to sign
-- with a holder's new key names that key; an approval request names none.
ALTER TABLE approval_requests ADD COLUMN signing_key TEXT;

-- The new key's own signatures on a rotation's schedule, one per key. They are not approvals: the
-- quorum of the key in force approves; these only let the ledger accept the new key.
CREATE TABLE key_signatures (
    proposal       TEXT NOT NULL REFERENCES proposals (id),
    officer        TEXT NOT NULL,
    public_key     TEXT NOT NULL,
    at             TEXT NOT NULL,
    device         TEXT,
    transaction_id TEXT NOT NULL,
    PRIMARY KEY (proposal, public_key)
);
