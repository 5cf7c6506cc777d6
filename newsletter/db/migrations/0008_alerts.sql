-- Admin alerts already sent, so a restart or the next tick does not send the same alert again.
CREATE TABLE alerts (
    kind    TEXT NOT NULL,                  -- fetch, run, cost
    key     TEXT NOT NULL,                  -- what it is about (a date, a set of failures)
    subject TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'sent',   -- sent, logged (no admin address), failed
    PRIMARY KEY (kind, key)
);
