-- A reader's own settings (issue 24), stored over their roster row: one row per (reader, setting)
-- holding the value as the preferences page canonicalised it (text; parsed again when applied).
-- The roster CSV stays the admin's and the base of every reader: these rows apply on top of it,
-- keyed by address, so an edited CSV never loses them and a removed reader's rows lie dormant.
CREATE TABLE IF NOT EXISTS reader_preferences (
    email   TEXT NOT NULL COLLATE NOCASE,   -- lower-cased
    name    TEXT NOT NULL,                  -- a Subscriber field: timezone, send_at, criteria, …
    value   TEXT NOT NULL,
    set_at  TEXT NOT NULL,
    PRIMARY KEY (email, name)
);
-- Every change, as {name: [old, new]} (null: no override): the page's undo and its replay guard
-- (a form is good only while the reader's newest change is the one it was made after).
CREATE TABLE IF NOT EXISTS reader_preference_changes (
    id      INTEGER PRIMARY KEY,
    email   TEXT NOT NULL COLLATE NOCASE,
    at      TEXT NOT NULL,
    fields  TEXT NOT NULL                   -- JSON
);
CREATE INDEX IF NOT EXISTS reader_preference_changes_email ON reader_preference_changes(email, id);
