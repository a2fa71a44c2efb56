-- Every NFT of the deployment's token: minted by an executed proposal (with its approvers), or found
-- on the ledger's mirror with no proposal to explain it (an alarm).
CREATE TABLE nfts (
    token          TEXT NOT NULL,
    serial         INTEGER NOT NULL,
    metadata       TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    proposal       TEXT,
    approvers      TEXT NOT NULL,
    minted_at      TEXT NOT NULL,
    explained      BOOLEAN NOT NULL,
    PRIMARY KEY (token, serial)
);

-- What the server noticed that people must look at: unexplained mints, unusual mint volume.
CREATE TABLE alarms (
    id        TEXT PRIMARY KEY NOT NULL,
    kind      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    message   TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    UNIQUE (kind, subject)
);

-- How far the reconciler has judged the token's serials (every serial up to it is explained or
-- alarmed).
CREATE TABLE mint_reconciliation (
    token        TEXT PRIMARY KEY NOT NULL,
    judged_up_to INTEGER NOT NULL
);
