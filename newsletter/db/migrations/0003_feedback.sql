-- Replies to a digest that are not an unsubscribe: kept for the admin (`newsletter feedback`).
CREATE TABLE feedback (
    id          INTEGER PRIMARY KEY,
    email       TEXT NOT NULL COLLATE NOCASE,    -- the subscriber the reply token belongs to
    received_at TEXT NOT NULL,
    subject     TEXT NOT NULL DEFAULT '',
    body        TEXT NOT NULL DEFAULT '',        -- the reply above the quoted digest, capped
    from_header TEXT NOT NULL DEFAULT '',        -- as sent; informative only (forgeable)
    message_id  TEXT                             -- the inbound Message-ID
);
-- SendGrid re-posts a mail it is unsure we got: the same Message-ID is stored once.
CREATE UNIQUE INDEX feedback_message ON feedback(email, message_id) WHERE message_id IS NOT NULL;
CREATE INDEX feedback_received ON feedback(received_at);
