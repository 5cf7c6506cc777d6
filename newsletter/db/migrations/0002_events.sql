-- SendGrid Event Webhook events we acted on, one row per sg_event_id (SendGrid retries and
-- may post an event twice; the primary key makes the second a no-op).
CREATE TABLE events (
    sg_event_id   TEXT PRIMARY KEY,
    event         TEXT NOT NULL,             -- processed, delivered, deferred, bounce, dropped, spamreport
    email         TEXT NOT NULL COLLATE NOCASE,
    digest_id     TEXT,                      -- our custom_args digest id, when the event carries it
    sg_message_id TEXT,
    bounce_type   TEXT,                      -- for bounces: 'bounce' (hard) or 'blocked' (soft)
    reason        TEXT NOT NULL DEFAULT '',
    occurred_at   TEXT,                      -- the event's own timestamp, ISO 8601 UTC
    received_at   TEXT NOT NULL
);
CREATE INDEX events_digest ON events(digest_id);
CREATE INDEX events_email ON events(email);
