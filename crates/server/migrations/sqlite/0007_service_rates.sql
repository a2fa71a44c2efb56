-- The service API's rate budget, shared by every instance: one GCRA state per service (the
-- theoretical arrival time, milliseconds since the epoch) and the minute whose first refusal was
-- audited.
CREATE TABLE service_rates (
    service        TEXT PRIMARY KEY NOT NULL,
    tat_ms         BIGINT NOT NULL,
    audited_minute BIGINT NOT NULL
);
