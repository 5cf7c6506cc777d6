-- The preferences page's criteria Preview (~150 ms of CPU each) is limited per reader with the
-- sign-up limits' own counter (newsletter/db/signups.py): one more kind of attempt, its key a MAC
-- of the reader's address as for the others. SQLite cannot change a CHECK: the table is rebuilt.
CREATE TABLE signup_attempts_new (
    kind TEXT NOT NULL CHECK (kind IN ('address', 'client', 'preview')),
    key  TEXT NOT NULL,
    at   TEXT NOT NULL
);
INSERT INTO signup_attempts_new(kind, key, at) SELECT kind, key, at FROM signup_attempts;
DROP TABLE signup_attempts;
ALTER TABLE signup_attempts_new RENAME TO signup_attempts;
CREATE INDEX IF NOT EXISTS signup_attempts_key ON signup_attempts(kind, key, at);
