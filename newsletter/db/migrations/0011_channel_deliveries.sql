-- Channels (channels.csv): one row per (channel, digest date), moving sending → sent | failed |
-- unknown in committed steps like `deliveries`; `parts_sent` counts the messages of a split
-- digest already posted, so a retry goes on from the next one instead of posting them again.
CREATE TABLE channel_deliveries (
    channel     TEXT NOT NULL COLLATE NOCASE,
    digest_date TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'unknown', 'empty')),
    paper_ids   TEXT NOT NULL DEFAULT '[]',
    parts       INTEGER NOT NULL DEFAULT 0,
    parts_sent  INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    sent_at     TEXT,
    PRIMARY KEY (channel, digest_date)
);
CREATE INDEX channel_deliveries_status ON channel_deliveries(status);
