-- Resume after an emergency pause. A TokenUnpause body handed to a responder names the approved
-- resume proposal it carries out (NULL for a TokenPause body); the breaker remembers the resume
-- whose TokenUnpause the ledger accepted, and closes once the mirror shows the token unpaused.
ALTER TABLE pause_requests ADD COLUMN proposal TEXT;
ALTER TABLE breaker ADD COLUMN resume_proposal TEXT;
